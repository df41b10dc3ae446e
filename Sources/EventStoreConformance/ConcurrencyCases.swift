import EventStore
import Testing

extension EventStoreConformance {
    static let concurrencyCases: [ConformanceCase] = [
        ConformanceCase("concurrency", "eightWritersWithExactVersionsGetOneWinnerPerVersion") { store in
            let stream: StreamName = "race-1"
            let versionsToTake = 40
            try await store.create(stream)
            let outcomes = try await withThrowingTaskGroup(of: [(version: Int, won: Bool)].self) { group in
                for writer in 0..<8 {
                    group.addTask {
                        var outcomes: [(version: Int, won: Bool)] = []
                        for version in 0..<versionsToTake {
                            let event = EventMessage(messageName: "Took", metadata: ["writer": .int(writer), "version": .int(version)])
                            do {
                                try await store.append([event], to: stream, expectedVersion: .exact(version))
                                outcomes.append((version, true))
                            } catch let error as EventStoreError where error.code == .wrongExpectedVersion {
                                #expect(error.actualVersion.map { $0 != version } ?? false)
                                outcomes.append((version, false))
                            }
                        }
                        return outcomes
                    }
                }
                var all: [(version: Int, won: Bool)] = []
                for try await outcomes in group { all += outcomes }
                return all
            }
            #expect(outcomes.count == 8 * versionsToTake)
            for version in 0..<versionsToTake {
                #expect(outcomes.filter { $0.version == version && $0.won }.count == 1, "version \(version)")
            }
            let events = try await store.all(stream)
            #expect(positions(events) == Array(1...versionsToTake))
            #expect(events.map { $0.metadata["version"] } == (0..<versionsToTake).map { .int($0) })
        },
        ConformanceCase("concurrency", "concurrentWritersToManyStreamsLoseNothing") { store in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<8 {
                    group.addTask {
                        let stream = try StreamName("many-\(writer)")
                        try await store.create(stream)
                        for i in 1...25 {
                            try await store.append([userEvent(i)], to: stream, expectedVersion: .exact(i - 1))
                        }
                    }
                }
                try await group.waitForAll()
            }
            var globals = Set<GlobalPosition>()
            for writer in 0..<8 {
                let events = try await store.all(try StreamName("many-\(writer)"))
                #expect(versions(events) == Array(1...25))
                for event in events { globals.insert(event.globalPosition) }
            }
            #expect(globals.count == 200)
        },
    ]

    static let validationCases: [ConformanceCase] = [
        ConformanceCase("validation", "streamNamesAreValidated") { _ in
            // Names from input go through the throwing initialiser (a literal is checked as a literal).
            let invalid = ["", String(repeating: "x", count: 151), String(repeating: "é", count: 76), "tab\there", "new\nline", "nul\u{0}", "del\u{7F}"]
            for name in invalid {
                await expectError(.invalidArgument) { try StreamName(name) }
            }
            let valid = [String(repeating: "x", count: 150), String(repeating: "é", count: 75), "with space-and ünïcode"]
            let names = try valid.map { try StreamName($0) }
            #expect(names.map(\.rawValue) == valid)
            #expect(names[2].category == "with space")
        },
        ConformanceCase("validation", "anInvalidEventRejectsTheWholeBatch") { store in
            try await store.create("valid-1", events: [userEvent(1)])
            let bad: [EventMessage] = [
                EventMessage(messageName: ""), EventMessage(messageName: String(repeating: "n", count: 256)),
                EventMessage(messageName: "A", metadata: ["": 1]),
                EventMessage(messageName: "A", metadata: ["nan": .double(.nan)]),
                EventMessage(messageName: "A", metadata: ["inf": .double(.infinity)]),
            ]
            for event in bad {
                await expectError(.invalidArgument) { try await store.append([userEvent(2), event], to: "valid-1") }
                await expectError(.invalidArgument) { try await store.create("valid-2", events: [event]) }
            }
            #expect(try await store.all("valid-1").count == 1)
            #expect(try await store.hasStream("valid-2") == false)
            let longest = String(repeating: "é", count: 127) + "n"
            try await store.append([EventMessage(messageName: longest)], to: "valid-1")
            #expect(try await store.all("valid-1").last?.messageName == longest)
        },
        ConformanceCase("validation", "invalidStreamMetadataIsRejected") { store in
            await expectError(.invalidArgument) { try await store.create("valid-3", metadata: ["": 1], events: []) }
            try await store.create("valid-3", metadata: ["ok": 1], events: [])
            await expectError(.invalidArgument) { try await store.updateStreamMetadata(["x": .double(.nan)], of: "valid-3") }
            #expect(try await store.streamMetadata(of: "valid-3") == ["ok": 1])
        },
        ConformanceCase("validation", "metadataAndTimestampsReadFromJson") { _ in
            let parsed = try Metadata(json: "{\"a\":1,\"b\":1.0,\"c\":\"x\",\"d\":true}")
            #expect(parsed == ["a": 1, "b": 1.0, "c": "x", "d": true])
            await expectError(.invalidArgument) { try Metadata(json: "{\"a\":null}") }
            await expectError(.invalidArgument) { try Metadata(json: "{\"a\":[1]}") }
            await expectError(.invalidArgument) { try Metadata(json: "{\"a\":{}}") }
            await expectError(.invalidArgument) { try Metadata(json: "[]") }
            await expectError(.invalidArgument) { try Metadata(json: "{\"a\":123456789012345678901}") }
            #expect(Timestamp.parseMicroseconds("1970-01-01T00:00:00.000001") == 1)
            #expect(Timestamp.parseMicroseconds("2026-11-27T10:00:00Z") == 1_795_773_600_000_000)
            #expect(Timestamp.parseMicroseconds("2026-11-27T12:00:00+02:00") == 1_795_773_600_000_000)
            #expect(Timestamp.parseMicroseconds("2026-02-30T10:00:00") == nil)
            #expect(Timestamp.parseMicroseconds("soon") == nil)
            #expect(Timestamp.format(microseconds: 1_795_773_600_123_456) == "2026-11-27T10:00:00.123456")
            #expect(Timestamp.format(microseconds: -1) == "1969-12-31T23:59:59.999999")
            #expect(GlobalPosition("42") == GlobalPosition(sequence: 42))
            #expect(GlobalPosition("7:42") == GlobalPosition(commit: 7, sequence: 42))
            #expect(GlobalPosition("-1") == nil)
            #expect(GlobalPosition("7:42").map(String.init(describing:)) == "7:42")
        },
    ]
}
