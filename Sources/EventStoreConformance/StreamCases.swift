import EventStore
import Foundation
import Testing

extension EventStoreConformance {
    static let streamCases: [ConformanceCase] = [
        ConformanceCase("streams", "createsStreamRecordsItsEventsAndDeletesIt") { store in
            try await store.create(userStream, metadata: ["foo": "bar"], events: [userEvent(1)])
            let events = try await store.all(userStream)
            #expect(events.count == 1)
            #expect(events.first?.messageName == "UserCreated")
            #expect(try await store.streamMetadata(of: userStream) == ["foo": "bar"])
            #expect(try await store.hasStream(userStream))
            try await store.delete(userStream)
            #expect(try await store.hasStream(userStream) == false)
        },
        ConformanceCase("streams", "appendsEventsAfterExistingOnes") { store in
            try await store.create(userStream, events: [userEvent(1)])
            try await store.append([userEvent(2)], to: userStream)
            let events = try await store.all(userStream)
            #expect(positions(events) == [1, 2])
            #expect(versions(events) == [1, 2])
        },
        ConformanceCase("streams", "cannotCreateAStreamTwice") { store in
            try await store.create(userStream, events: [userEvent(1)])
            let error = await expectError(.streamExists) { try await store.create(userStream, events: [userEvent(1)]) }
            #expect(error?.streamName == userStream)
            #expect(try await store.all(userStream).count == 1)
        },
        ConformanceCase("streams", "updateStreamMetadataReplacesIt") { store in
            try await store.create(userStream, metadata: ["foo": "bar"], events: [])
            try await store.updateStreamMetadata(["new": "values", "n": 2], of: userStream)
            #expect(try await store.streamMetadata(of: userStream) == ["new": "values", "n": 2])
        },
        ConformanceCase("streams", "updateStreamMetadataOfUnknownStreamThrowsNotFound") { store in
            await expectError(.streamNotFound) { try await store.updateStreamMetadata(["a": 1], of: "unknown") }
        },
        ConformanceCase("streams", "streamMetadataOfUnknownStreamThrowsNotFound") { store in
            await expectError(.streamNotFound) { try await store.streamMetadata(of: "unknown") }
        },
        ConformanceCase("streams", "streamMetadataKeepsEveryScalarType") { store in
            let metadata: Metadata = ["s": "text", "i": -42, "d": 1.0, "b": false, "big": .int(Int.max)]
            try await store.create("meta-types", metadata: metadata, events: [])
            let read = try await store.streamMetadata(of: "meta-types")
            #expect(read == metadata)
            #expect(read["d"] == .double(1.0))
            #expect(read["big"] == .int(Int.max))
        },
        ConformanceCase("streams", "deleteOfUnknownStreamThrowsNotFound") { store in
            await expectError(.streamNotFound) { try await store.delete("unknown") }
        },
        ConformanceCase("streams", "appendToUnknownStreamThrowsNotFound") { store in
            let error = await expectError(.streamNotFound) { try await store.append([userEvent(1)], to: "unknown") }
            #expect(error?.streamName == "unknown")
            await expectError(.streamNotFound) { try await store.append([EventMessage](), to: "unknown") }
            let exists = try await store.hasStream("unknown")
            #expect(exists == false)
        },
        ConformanceCase("streams", "hasStreamIsFalseBeforeCreateAndAfterDelete") { store in
            #expect(try await store.hasStream(userStream) == false)
            try await store.create(userStream)
            #expect(try await store.hasStream(userStream))
            try await store.delete(userStream)
            #expect(try await store.hasStream(userStream) == false)
            await expectError(.streamNotFound) { try await store.load(userStream) }
        },
        ConformanceCase("streams", "deletingAStreamLeavesOthersAlone") { store in
            try await store.create("keep-1", events: userEvents(1...3))
            try await store.create("drop-1", events: userEvents(1...3))
            try await store.delete("drop-1")
            #expect(try await store.all("keep-1").count == 3)
            #expect(try await store.streamNames() == ["keep-1"])
        },
        ConformanceCase("streams", "recreatedStreamStartsAgainAtPositionOne") { store in
            try await store.create("again-1", metadata: ["old": true], events: userEvents(1...3))
            try await store.delete("again-1")
            try await store.create("again-1", events: [userEvent(1)])
            let events = try await store.all("again-1")
            #expect(positions(events) == [1])
            #expect(try await store.streamMetadata(of: "again-1").isEmpty)
        },
        ConformanceCase("streams", "appendResultReportsVersionAndGrowingGlobalPositions") { store in
            let created = try await store.create("result-1", events: userEvents(1...2))
            #expect(created.streamVersion == 2)
            let appended = try await store.append(userEvents(3...5), to: "result-1")
            #expect(appended.streamVersion == 5)
            let first = try #require(created.lastGlobalPosition)
            let last = try #require(appended.lastGlobalPosition)
            #expect(first < last)
            let empty = try await store.append([], to: "result-1")
            #expect(empty.streamVersion == 5)
            #expect(empty.lastGlobalPosition == nil)
            let events = try await store.all("result-1")
            #expect(events.last?.globalPosition == last)
            #expect(events[1].globalPosition == first)
        },
        ConformanceCase("streams", "globalPositionsIncreaseAcrossStreamsInAppendOrder") { store in
            try await store.create("g-a")
            try await store.create("g-b")
            try await store.append(userEvent(1), to: "g-a")
            try await store.append(userEvent(1), to: "g-b")
            try await store.append(userEvent(2), to: "g-a")
            let a = try await store.all("g-a")
            let b = try await store.all("g-b")
            #expect(a[0].globalPosition < b[0].globalPosition)
            #expect(b[0].globalPosition < a[1].globalPosition)
        },
        ConformanceCase("streams", "streamNamesWithQuotesSqlAndUnicodeAreData") { store in
            let names: [StreamName] = [
                "it's \"quoted\"", "'; DROP TABLE event_streams; --", "ünïcødé-ストリーム", "a.b$c-d\\e",
                StreamName(stringLiteral: String(repeating: "x", count: 148) + "-y"),
            ]
            for (i, name) in names.enumerated() {
                try await store.create(name, metadata: ["i": .int(i)], events: [userEvent(1)])
                try await store.append([userEvent(2)], to: name, expectedVersion: .exact(1))
            }
            for (i, name) in names.enumerated() {
                let events = try await store.all(name)
                #expect(events.map(\.streamName) == [name, name])
                #expect(try await store.streamMetadata(of: name) == ["i": .int(i)])
            }
            #expect(try await store.streamNames(limit: 100) == names.sorted())
            #expect(try await store.streamNames(.exact("'; DROP TABLE event_streams; --")) == [names[1]])
            let categories = ["'; DROP TABLE event_streams; ", "ünïcødé", "a.b$c", String(repeating: "x", count: 148)]
            #expect(try await store.categoryNames(limit: 100) == categories.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        },
    ]
}
