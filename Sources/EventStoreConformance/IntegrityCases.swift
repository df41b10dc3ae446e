import EventStore
import Foundation
import Testing

extension EventStoreConformance {
    /// What is accepted reads back equal, and what one backend cannot keep is refused by all.
    static let integrityCases: [ConformanceCase] = [
        ConformanceCase("integrity", "everyAcceptedMetadataValueReadsBackAsTheSameCaseAndValue") { store in
            let values = IntegrityValues.metadata
            let metadata = Metadata(Dictionary(uniqueKeysWithValues: values.map { ($0.key, $0.value) }))
            try await store.create("values-1", metadata: metadata, events: [EventMessage(messageName: "Typed", metadata: metadata)])
            let read = try #require(try await store.all("values-1").first).metadata
            let streamMetadata = try await store.streamMetadata(of: "values-1")
            for (key, value) in values {
                // `==` compares the case too: an integer never equals a double here.
                #expect(read[key] == value, "event metadata \(key): \(String(describing: read[key])) for \(value)")
                #expect(streamMetadata[key] == value, "stream metadata \(key): \(String(describing: streamMetadata[key]))")
                #expect(read[key].map(IntegrityValues.caseName) == IntegrityValues.caseName(value), "\(key) changed its case")
            }
            // -0.0 is stored as 0.0 everywhere (PostgreSQL's numeric has no negative zero).
            for metadata in [read, streamMetadata] {
                guard case let .double(zero) = metadata["negativeZero"] else {
                    Issue.record("-0.0 did not read back as a double")
                    continue
                }
                #expect(zero == 0 && zero.sign == .plus)
            }
        },
        ConformanceCase("integrity", "stringsWithControlCharactersAndEveryScriptAreKeptExactly") { store in
            let texts = IntegrityValues.strings
            let events = texts.enumerated().map { index, text in
                EventMessage(
                    messageName: "Text",
                    metadata: [
                        "text": .string(text), text: .int(index), MetadataKey.aggregateType: "text",
                        MetadataKey.aggregateID: .string(text), MetadataKey.aggregateVersion: 1,
                    ])
            }
            // Distinct aggregate ids that a C string would cut to the same text do not collide.
            try await store.create("texts-1", events: events)
            let read = try await store.all("texts-1")
            // By their bytes: Swift's `==` on strings would take "é" and "e\u{301}" for the same.
            let bytes = texts.map { Array($0.utf8) }
            #expect(read.map { $0.metadata["text"]?.stringValue.map { Array($0.utf8) } } == bytes)
            #expect(read.map { $0.metadata[MetadataKey.aggregateID]?.stringValue.map { Array($0.utf8) } } == bytes)
            for (index, text) in texts.enumerated() { #expect(read[index].metadata[text] == .int(index)) }
            for text in texts {
                let found = try await store.all("texts-1", matching: try MetadataMatcher().metadata("text", .equals, .scalar(.string(text))))
                #expect(found.map(\.position) == [texts.firstIndex(of: text)! + 1], "the matcher on \(text.debugDescription)")
            }
        },
        ConformanceCase("integrity", "u0000AndControlCharactersInNamesAreRefusedAndNothingIsWritten") { store in
            let refusedEvents: [EventMessage] = [
                EventMessage(messageName: "A\u{0}B"), EventMessage(messageName: "X\rid: 999"), EventMessage(messageName: "Line\nBreak"),
                EventMessage(messageName: "Tab\t"), EventMessage(messageName: "Del\u{7F}"),
                EventMessage(messageName: "Meta", metadata: ["s": "a\u{0}b"]),
                EventMessage(messageName: "Meta", metadata: ["k\u{0}": 1]),
                EventMessage(
                    messageName: "Aggregate",
                    metadata: [MetadataKey.aggregateType: "t", MetadataKey.aggregateID: "a\u{0}x", MetadataKey.aggregateVersion: 1]),
            ]
            for event in refusedEvents {
                await expectError(.invalidArgument) { try await store.create("refused-1", events: [event]) }
                await expectError(.invalidArgument) {
                    try await store.append([EventMessage(messageName: "Fine"), event], to: "refused-2", expectedVersion: .noStream)
                }
            }
            await expectError(.invalidArgument) { try await store.create("refused-3", metadata: ["s": "\u{0}"]) }
            #expect(try await store.hasStream("refused-1") == false)
            #expect(try await store.hasStream("refused-2") == false)
            #expect(try await store.hasStream("refused-3") == false)
            try await store.create("kept-1")
            await expectError(.invalidArgument) { try await store.updateStreamMetadata(["s": "\u{0}"], of: "kept-1") }
            #expect(try await store.streamMetadata(of: "kept-1").isEmpty)
            await expectError(.invalidArgument) { try await store.streamNames(.exact("kept\u{0}-1"), limit: 10) }
            await expectError(.invalidArgument) { try await store.streamNames(.regex("kept\u{0}"), limit: 10) }
            await expectError(.invalidArgument) { try MetadataMatcher().metadata("s", .equals, .scalar("a\u{0}")) }
            await expectError(.invalidArgument) { try MetadataMatcher().metadata("s\u{0}", .equals, .scalar("a")) }
            if let snapshots = store as? any SnapshotStore {
                let state = Payload.empty
                await expectError(.invalidArgument) {
                    try await snapshots.save([Snapshot(aggregateType: "t\u{0}", aggregateID: "a", lastVersion: 1, state: state)])
                }
                await expectError(.invalidArgument) {
                    try await snapshots.save([Snapshot(aggregateType: "t", aggregateID: "a\u{0}x", lastVersion: 1, state: state)])
                }
                await expectError(.invalidArgument) { _ = try await snapshots.snapshot(ofType: "t", id: "a\u{0}") }
                // Two ids that share a prefix up to a NUL never share a snapshot: the NUL one is refused above,
                // and the plain one is its own.
                try await snapshots.save([Snapshot(aggregateType: "t", aggregateID: "a", lastVersion: 1, state: state)])
                #expect(try await snapshots.snapshot(ofType: "t", id: "a")?.lastVersion == 1)
            }
            if let globalOrder = store as? any GlobalOrderEventStore {
                await expectError(.invalidArgument) { try await globalOrder.saveCheckpoint(.start, named: "c\u{0}") }
                await expectError(.invalidArgument) { _ = try await globalOrder.checkpoint(named: "c\u{0}") }
                // A category is looked up as a name is (PostgreSQL refused the text with a backend failure).
                for target in [SubscriptionTarget.category("kept\u{0}"), .categories(["kept", "a\u{0}b"])] {
                    await expectError(.invalidArgument) { _ = try await globalOrder.readAll(after: .start, of: target, limit: 10) }
                    await expectError(.invalidArgument) { _ = try await globalOrder.eventCount(after: .start, of: target, limit: 10) }
                }
            }
            if let groups = store as? any ConsumerGroupStore {
                await expectError(.invalidArgument) {
                    try await groups.createConsumerGroup(ConsumerGroup(name: "nul", target: .categories(["kept", "a\u{0}b"])))
                }
                #expect(try await groups.consumerGroupNames(limit: 10, offset: 0).isEmpty, "nothing was made")
            }
            if let projections = store as? any ProjectionStore {
                await expectError(.invalidArgument) { _ = try await projections.projectionRecord(named: "p\u{0}") }
            }
        },
        ConformanceCase("integrity", "integersBeyond2To53CompareExactlyInMatchers") { store in
            let big = 9_007_199_254_740_993  // 2^53 + 1: a double cannot hold it
            try await store.create(
                "big-1",
                events: [
                    EventMessage(messageName: "Big", metadata: ["n": .int(big)]),
                    EventMessage(messageName: "Max", metadata: ["n": .int(.max)]),
                ])
            func found(_ op: MetadataMatcher.Operator, _ value: MetadataMatcher.Value) async throws -> [String] {
                try await store.all("big-1", matching: try MetadataMatcher().metadata("n", op, value)).map(\.messageName)
            }
            #expect(try await found(.equals, .scalar(.int(big - 1))) == [])
            #expect(try await found(.equals, .scalar(.int(big))) == ["Big"])
            #expect(try await found(.greaterThan, .scalar(.int(big - 1))) == ["Big", "Max"])
            #expect(try await found(.lessThan, .scalar(.int(big + 1))) == ["Big"])
            #expect(try await found(.equals, .scalar(.int(.max - 1))) == [])
            #expect(try await found(.greaterThanOrEquals, .scalar(.int(.max))) == ["Max"])
            #expect(try await found(.in, .list([.int(big - 1), .int(.max)])) == ["Max"])
            #expect(try await found(.notEquals, .scalar(.int(big))) == ["Max"])
        },
        ConformanceCase("integrity", "regularExpressionsMeanTheSameOnEveryBackend") { store in
            let texts = ["foo bar", "a\nb", "é", "e\u{301}", "line\n", "x\r", "\n", "٣", "abc_1", "a", "xb", "a\u{2028}b"]
            try await store.create(
                "regex-1", events: texts.map { EventMessage(messageName: "T", metadata: ["s": .string($0)]) })
            func found(_ pattern: String) async throws -> [String] {
                let matcher = try MetadataMatcher().metadata("s", .regex, .scalar(.string(pattern)))
                return try await store.all("regex-1", matching: matcher).compactMap { $0.metadata["s"]?.stringValue }
            }
            #expect(try await found("^a.b$") == ["a\u{2028}b"])  // `.` is any character but a line feed
            #expect(try await found("^.$") == ["é", "٣", "a"])  // one character, not one byte
            #expect(try await found("^..$") == ["e\u{301}", "x\r", "xb"])
            #expect(try await found("^line$") == [])  // `$` is the very end, not before a final newline
            #expect(try await found("^line\\n$") == ["line\n"])
            #expect(try await found("^[^a]$") == ["é", "\n", "٣"])  // a negated class takes a line feed
            #expect(try await found("\\d") == ["abc_1"])  // ASCII digits only
            #expect(try await found("^\\w+$") == ["abc_1", "a", "xb"])
            #expect(try await found("^A$") == [])  // case-sensitive
            #expect(try await found("^a|b$") == ["a\nb", "abc_1", "a", "xb", "a\u{2028}b"])
            #expect(try await found("o{2}") == ["foo bar"])
            #expect(try await found("^(?:foo )?bar$|^x(?:b|\\r)$") == ["foo bar", "x\r", "xb"])
            for refused in ["\\bfoo\\b", "\\p{L}", "(?<n>a)", "(?i)a", "a{256}", "a++", "(a)\\1", "(?=a)", "[[:alpha:]]", "a{2,1}", "[z-a]"] {
                await expectError(.invalidArgument) { try MetadataMatcher().metadata("s", .regex, .scalar(.string(refused))) }
                await expectError(.invalidArgument) { try await store.streamNames(.regex(refused), limit: 10) }
            }
            #expect(try await store.streamNames(.regex("^regex-.$"), limit: 10) == ["regex-1"])
        },
        ConformanceCase("integrity", "aRegexThatBacktrackingEnginesCannotFinishAnswersRightOrIsRefused") { store in
            // `(a|aa)*` before a failure takes a backtracking engine exponential time on a run of a's: ICU ran such
            // searches for hours (memory, SQLite), and MariaDB's PCRE2 stops at its match limit and answers "no
            // match" with a warning, although `|x` matches. Each backend answers right or refuses with
            // `invalidArgument`, never a wrong answer.
            try await store.create(
                "redos-1",
                events: [
                    EventMessage(messageName: "Run", metadata: ["s": .string(String(repeating: "a", count: 60) + "bx")]),
                    EventMessage(messageName: "Long", metadata: ["s": .string(String(repeating: "ab", count: 50_000))]),
                ])
            func found(_ pattern: String) async throws -> [String]? {
                do {
                    let matcher = try MetadataMatcher().metadata("s", .regex, .scalar(.string(pattern)))
                    return try await store.all("redos-1", matching: matcher).map(\.messageName)
                } catch let error as EventStoreError where error.code == .invalidArgument {
                    return nil
                }
            }
            let alternative = try await found("^(a|aa)*$|x")
            #expect(alternative == ["Run"] || alternative == nil, "\(String(describing: alternative))")
            let exponential = try await found("(a|aa)*c")
            #expect(exponential == [] || exponential == nil, "\(String(describing: exponential))")
            let long = try await found("^(ab|cd)*$")
            #expect(long == ["Long"] || long == nil, "\(String(describing: long))")
            #expect(try await found("^(a|aa)*b") == ["Run", "Long"])
            // Past the documented size (steps once counts are written out), refused everywhere before it runs.
            let large = String(repeating: "(abcdefghij){255}", count: 4)
            await expectError(.invalidArgument) { try MetadataMatcher().metadata("s", .regex, .scalar(.string(large))) }
            await expectError(.invalidArgument) { try await store.streamNames(.regex(large), limit: 10) }
        },
        ConformanceCase("integrity", "aPayloadNestedToTheDepthLimitIsStoredAndDeeperIsRefused") { store in
            func nested(_ depth: Int) -> String {
                String(repeating: "{\"a\":", count: depth - 1) + "[]" + String(repeating: "}", count: depth - 1)
            }
            let deepest = try Payload(json: nested(Payload.maxDepth))
            try await store.create("deep-1", events: [EventMessage(messageName: "Deep", payload: deepest)])
            #expect(try await store.all("deep-1").map(\.payload) == [deepest])
            await expectError(.invalidArgument) { try Payload(json: nested(Payload.maxDepth + 1)) }
            // The same limit on the payload of an event read from JSON (the HTTP API's and the command line's).
            await expectError(.invalidArgument) {
                try EventJSON.messages(fromArray: "[{\"message_name\":\"Deep\",\"payload\":\(nested(Payload.maxDepth + 1))}]")
            }
            let fromJSON = try EventJSON.messages(fromArray: "[{\"message_name\":\"Deep\",\"payload\":\(nested(Payload.maxDepth))}]")
            try await store.append(fromJSON, to: "deep-1", expectedVersion: .exact(1))
            #expect(try await store.all("deep-1").map(\.payload) == [deepest, deepest])
        },
    ]
}

/// The values of the integrity cases.
enum IntegrityValues {
    static let metadata: [(key: String, value: MetadataValue)] = [
        ("d1e16", .double(1e16)), ("d1e17", .double(1e17)), ("d1e19", .double(1e19)), ("dMinus1e19", .double(-1e19)),
        ("d1e-300", .double(1e-300)), ("dMax", .double(.greatestFiniteMagnitude)), ("dMin", .double(-.greatestFiniteMagnitude)),
        ("dSubnormal", .double(.leastNonzeroMagnitude)), ("dTenth", .double(0.1)), ("dThird", .double(1.0 / 3)), ("dWhole", .double(2.0)),
        ("d1e-7", .double(1.5e-7)), ("negativeZero", .double(-0.0)), ("iMax", .int(.max)), ("iMin", .int(.min)),
        ("iZero", .int(0)), ("iMinus1", .int(-1)), ("bTrue", .bool(true)), ("bFalse", .bool(false)), ("sDigits", .string("1e19")),
        ("sEmpty", .string("")),
    ]

    static let strings: [String] = [
        "plain", "lone\rcr", "lf\nline", "crlf\r\nline", "tab\tand\u{1}soh", "line\u{2028}separator", "para\u{2029}graph",
        "emoji 😀👩‍👩‍👧", "e\u{301} combining", "é precomposed", "quote \" backslash \\ slash /", "\u{7F}del", "日本語",
        "a\u{85}nel",
    ]

    static func caseName(_ value: MetadataValue) -> String {
        switch value {
        case .string: "string"
        case .int: "int"
        case .double: "double"
        case .bool: "bool"
        }
    }
}
