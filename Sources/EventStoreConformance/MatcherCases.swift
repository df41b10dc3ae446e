import EventStore
import Foundation
import Testing

extension EventStoreConformance {
    static let matcherCases: [ConformanceCase] = [
        ConformanceCase("matcher", "metadataKeysAreTheirBytesOrderedByThem") { store in
            // "é" composed (U+00E9) and decomposed (e + U+0301) are equal Swift strings but different keys.
            let composed = "caf\u{E9}"
            let decomposed = "cafe\u{301}"
            let metadata: Metadata = [composed: 1, "Z": true, "a": "x", decomposed: 2]
            #expect(metadata.count == 4)
            try await store.create(userStream, events: [userEvent(1, metadata: metadata), userEvent(2)])
            let loaded = try await store.all(userStream)
            let first = try #require(loaded.first)
            #expect(first.metadata[composed] == 1)
            #expect(first.metadata[decomposed] == 2)
            #expect(first.metadata.keys == ["Z", MetadataKey.aggregateVersion, MetadataKey.position, "a", decomposed, composed])
            #expect(first.metadata == metadata.adding(MetadataKey.aggregateVersion, 1).adding(MetadataKey.position, 1))
            let matched = try await store.all(userStream, matching: try MetadataMatcher().metadata(decomposed, .equals, 2))
            #expect(versions(matched) == [1])
            #expect(try await store.all(userStream, matching: try MetadataMatcher().metadata(decomposed, .equals, 1)).isEmpty)
        },
        ConformanceCase("matcher", "equalsFindsTheEventByEachScalarType") { store in
            let cases: [Metadata] = [["snapshot": true], ["some_id": 123], ["foo": "bar"], ["snapshot": true, "some_id": 123, "foo": "bar"]]
            for (i, metadata) in cases.enumerated() {
                let stream = try StreamName("match-\(i)")
                try await store.create(stream, events: [userEvent(1), userEvent(2, metadata: metadata), userEvent(3)])
                var matcher = MetadataMatcher()
                for (key, value) in metadata { matcher = try matcher.metadata(key, .equals, .scalar(value)) }
                let forward = try await store.all(stream, matching: matcher)
                #expect(versions(forward) == [2])
                for (key, value) in metadata { #expect(forward.first?.metadata[key] == value) }
                #expect(versions(try await store.allReverse(stream, from: 2, matching: matcher)) == [2])
                #expect(try await store.allReverse(stream, from: 1, matching: matcher).isEmpty)
            }
        },
        ConformanceCase("matcher", "allConditionsAreAndedAndAllNineOperatorsWork") { store in
            let now = Date()
            let event = userEvent(1, metadata: ["foo": "bar", "int": 5, "int2": 4, "int3": 6, "int4": 7], createdAt: now)
            try await store.create(userStream, events: [event])
            let before = Timestamp.format(now.addingTimeInterval(-5))
            let after = Timestamp.format(now.addingTimeInterval(5))
            let matcher = try MetadataMatcher()
                .metadata("foo", .equals, "bar")
                .metadata("foo", .notEquals, "baz")
                .metadata("int", .greaterThan, 4)
                .metadata("int2", .greaterThanOrEquals, 4)
                .metadata("int", .in, [4, 5, 6])
                .metadata("int3", .lessThan, 7)
                .metadata("int4", .lessThanOrEquals, 7)
                .metadata("int", .notIn, [4, 6])
                .metadata("foo", .regex, "^b[a]r$")
                .property(.uuid, .equals, .scalar(.string(event.uuid.uuidString)))
                .property(.uuid, .notEquals, "baz")
                .property(.createdAt, .greaterThan, .scalar(.string(before)))
                .property(.createdAt, .greaterThanOrEquals, .scalar(.string(before)))
                .property(.uuid, .in, [.string(event.uuid.lowercased), "2", "3"])
                .property(.createdAt, .lessThan, .scalar(.string(after)))
                .property(.createdAt, .lessThanOrEquals, .scalar(.string(after)))
                .property(.createdAt, .notIn, [.string(before), .string(after)])
                .property(.messageName, .regex, ".+Created$")
                .property(.position, .equals, 1)
            #expect(try await store.all(userStream, matching: matcher).count == 1)
            #expect(try await store.allReverse(userStream, matching: matcher).count == 1)
        },
        ConformanceCase("matcher", "eachFailingConditionAloneMatchesNothing") { store in
            let now = Date()
            let event = userEvent(1, metadata: ["foo": "bar", "int": 5, "int2": 4, "int3": 6, "int4": 7], createdAt: now)
            try await store.create(userStream, events: [event])
            let before = Timestamp.format(now.addingTimeInterval(-5))
            let at = Timestamp.format(now)
            let after = Timestamp.format(now.addingTimeInterval(5))
            let failing: [(MetadataMatcher.Field, MetadataMatcher.Operator, MetadataMatcher.Value)] = [
                (.metadata("foo"), .equals, "baz"), (.metadata("foo"), .notEquals, "bar"),
                (.metadata("int"), .greaterThan, 9), (.metadata("int2"), .greaterThanOrEquals, 10),
                (.metadata("int3"), .lessThan, 1), (.metadata("int4"), .lessThanOrEquals, 1),
                (.metadata("int"), .in, [4, 6]), (.metadata("int"), .notIn, [4, 5, 6]),
                (.metadata("foo"), .regex, "^b[a]z$"),
                (.property(.uuid), .equals, "baz"), (.property(.uuid), .notEquals, .scalar(.string(event.uuid.lowercased))),
                (.property(.createdAt), .greaterThan, .scalar(.string(after))),
                (.property(.createdAt), .greaterThanOrEquals, .scalar(.string(after))),
                (.property(.createdAt), .in, [.string(before), .string(after)]),
                (.property(.createdAt), .lessThan, .scalar(.string(before))),
                (.property(.createdAt), .lessThanOrEquals, .scalar(.string(before))),
                (.property(.createdAt), .notIn, [.string(before), .string(at), .string(after)]),
                (.property(.messageName), .regex, "foobar"), (.property(.position), .greaterThan, 1),
            ]
            for (field, op, value) in failing {
                let matcher = try MetadataMatcher().adding(field, op, value)
                #expect(try await store.all(userStream, matching: matcher).isEmpty, "\(field) \(op.rawValue) \(value)")
                #expect(try await store.allReverse(userStream, matching: matcher).isEmpty, "\(field) \(op.rawValue) \(value)")
            }
        },
        ConformanceCase("matcher", "comparisonsAreTyped") { store in
            try await store.create(
                "typed-1",
                events: [
                    EventMessage(messageName: "Int", metadata: ["v": 5]), EventMessage(messageName: "String", metadata: ["v": "5"]),
                    EventMessage(messageName: "Double", metadata: ["v": 5.0]), EventMessage(messageName: "Bool", metadata: ["v": true]),
                    EventMessage(messageName: "One", metadata: ["v": 1]),
                ])
            func names(_ op: MetadataMatcher.Operator, _ value: MetadataMatcher.Value) async throws -> [String] {
                try await store.all("typed-1", matching: try MetadataMatcher().metadata("v", op, value)).map(\.messageName)
            }
            #expect(try await names(.equals, 5) == ["Int", "Double"])
            #expect(try await names(.equals, "5") == ["String"])
            #expect(try await names(.equals, true) == ["Bool"])
            #expect(try await names(.equals, 1) == ["One"])
            #expect(try await names(.notEquals, 5) == ["String", "Bool", "One"])
            #expect(try await names(.greaterThan, 4) == ["Int", "Double"])
            #expect(try await names(.greaterThan, 4.5) == ["Int", "Double"])
            #expect(try await names(.lessThan, "6") == ["String"])
            #expect(try await names(.in, ["5", true]) == ["String", "Bool"])
            #expect(try await names(.notIn, [5]) == ["String", "Bool", "One"])
            #expect(try await names(.regex, "5") == ["String"])
        },
        ConformanceCase("matcher", "aMissingKeyNeverMatches") { store in
            try await store.create(
                "missing-1", events: [EventMessage(messageName: "With", metadata: ["k": "a"]), EventMessage(messageName: "Without")])
            for (op, value) in [
                (MetadataMatcher.Operator.notEquals, MetadataMatcher.Value.scalar("b")), (.notIn, ["b"]), (.lessThan, "z"),
                (.greaterThan, ""), (.regex, ".*"),
            ] {
                let matched = try await store.all("missing-1", matching: try MetadataMatcher().metadata("k", op, value))
                #expect(matched.map(\.messageName) == ["With"], "\(op.rawValue)")
            }
        },
        ConformanceCase("matcher", "stringsCompareByTheirBytes") { store in
            try await store.create(
                "bytes-1",
                events: ["B", "a", "é", "z", "e\u{301}"].map { EventMessage(messageName: $0, metadata: ["s": .string($0)]) })
            func names(_ op: MetadataMatcher.Operator, _ value: String) async throws -> [String] {
                try await store.all("bytes-1", matching: try MetadataMatcher().metadata("s", op, .scalar(.string(value))))
                    .map(\.messageName)
            }
            #expect(try await names(.lessThan, "a") == ["B"])
            #expect(try await names(.greaterThan, "z") == ["é"])
            #expect(try await names(.equals, "é") == ["é"])
            #expect(try await names(.equals, "e\u{301}") == ["e\u{301}"])
        },
        ConformanceCase("matcher", "backslashesInValuesMatchWithoutDoubleEscaping") { store in
            let type: MetadataValue = "Prooph\\Model\\User"
            try await store.create("slash-1", events: [EventMessage(messageName: "A", metadata: ["_aggregate_type": type])])
            let matcher = try MetadataMatcher().metadata("_aggregate_type", .equals, .scalar(type))
            #expect(try await store.all("slash-1", matching: matcher).count == 1)
            let regex = try MetadataMatcher().metadata("_aggregate_type", .regex, "Model\\\\User$")
            #expect(try await store.all("slash-1", matching: regex).count == 1)
        },
        ConformanceCase("matcher", "fieldNamesFullOfSqlQuotesAndUnicodeArePlainKeys") { store in
            let keys = [
                "a.b", "$.foo", "'; DROP TABLE events; --", "\"quoted\"", "back\\slash", "ключ", "a[0]", "a'b", "$", "*", "%",
                "`tick`", "a\"b'c", "{a}",
            ]
            var events = keys.enumerated().map { i, key in EventMessage(messageName: "E\(i)", metadata: [key: .int(i)]) }
            events.append(EventMessage(messageName: "Nested", metadata: ["a": "b", "foo": 1]))
            try await store.create("keys-1", events: events)
            for (i, key) in keys.enumerated() {
                let equal = try await store.all("keys-1", matching: try MetadataMatcher().metadata(key, .equals, .scalar(.int(i))))
                #expect(equal.map(\.messageName) == ["E\(i)"], "key \(key)")
                let present = try await store.all("keys-1", matching: try MetadataMatcher().metadata(key, .greaterThanOrEquals, 0))
                #expect(present.map(\.messageName) == ["E\(i)"], "key \(key)")
            }
            #expect(try await store.hasStream("keys-1"))
            #expect(try await store.all("keys-1").count == keys.count + 1)
        },
        ConformanceCase("matcher", "regexValuesAreDataNotSql") { store in
            try await store.create("regex-1", events: [EventMessage(messageName: "A", metadata: ["s": "it's"])])
            for pattern in ["'; DROP TABLE events; --", "it's", "\\$1", "'"] {
                _ = try await store.all("regex-1", matching: try MetadataMatcher().metadata("s", .regex, .scalar(.string(pattern))))
            }
            #expect(try await store.all("regex-1", matching: try MetadataMatcher().metadata("s", .regex, "it's")).count == 1)
            #expect(try await store.hasStream("regex-1"))
        },
        ConformanceCase("matcher", "inWithAnEmptyListMatchesNothingAndNotInEverythingPresent") { store in
            try await store.create("empty-in", events: [EventMessage(messageName: "A", metadata: ["k": 1]), EventMessage(messageName: "B")])
            #expect(try await store.all("empty-in", matching: try MetadataMatcher().metadata("k", .in, [])).isEmpty)
            #expect(try await store.all("empty-in", matching: try MetadataMatcher().metadata("k", .notIn, [])).map(\.messageName) == ["A"])
        },
        ConformanceCase("matcher", "positionAndMessageNameProperties", settings: StoreSettings(readBatchSize: 2)) { store in
            try await store.create("props-1", events: userEvents(1...9))
            let matcher = try MetadataMatcher().property(.position, .greaterThan, 3).property(.messageName, .equals, "UsernameChanged")
            #expect(positions(try await store.all("props-1", matching: matcher)) == Array(4...9))
            #expect(positions(try await store.all("props-1", count: 3, matching: matcher)) == [4, 5, 6])
            #expect(positions(try await store.allReverse("props-1", from: 7, count: 2, matching: matcher)) == [7, 6])
            let first = try MetadataMatcher().property(.messageName, .in, ["UserCreated"])
            #expect(positions(try await store.all("props-1", matching: first)) == [1])
        },
        ConformanceCase("matcher", "invalidConditionsAreInvalidArguments") { _ in
            let m = MetadataMatcher()
            await expectError(.invalidArgument) { try m.metadata("k", .in, 1) }
            await expectError(.invalidArgument) { try m.metadata("k", .notIn, "a") }
            await expectError(.invalidArgument) { try m.metadata("k", .regex, 1) }
            await expectError(.invalidArgument) { try m.metadata("k", .regex, "(unclosed") }
            await expectError(.invalidArgument) { try m.metadata("k", .regex, "") }
            await expectError(.invalidArgument) { try m.metadata("k", .equals, [1, 2]) }
            await expectError(.invalidArgument) { try m.metadata("", .equals, 1) }
            await expectError(.invalidArgument) { try m.metadata("k", .greaterThan, true) }
            await expectError(.invalidArgument) { try m.metadata("k", .equals, .scalar(.double(.nan))) }
            await expectError(.invalidArgument) { try m.property(.position, .equals, "1") }
            await expectError(.invalidArgument) { try m.property(.position, .regex, "1") }
            await expectError(.invalidArgument) { try m.property(.createdAt, .greaterThan, "yesterday") }
            await expectError(.invalidArgument) { try m.property(.messageName, .equals, 3) }
            #expect(MetadataMatcher.Operator(symbol: "nin") == .notIn)
            #expect(MetadataMatcher.Operator(symbol: ">=") == .greaterThanOrEquals)
            #expect(MetadataMatcher.Operator(symbol: "like") == nil)
        },
    ]
}
