import EventStore
import Foundation
import Testing

extension EventStoreConformance {
    static let loadCases: [ConformanceCase] = [
        ConformanceCase("load", "loadsFromAPositionTheSameWayTwice") { store in
            try await store.create(userStream, events: userEvents(1...3))
            let sequence = try await store.load(userStream, from: 2)
            #expect(versions(try await sequence.collect()) == [2, 3])
            #expect(versions(try await sequence.collect()) == [2, 3])
        },
        ConformanceCase("load", "loadReverseReturnsNewestFirst") { store in
            try await store.create(userStream, events: userEvents(1...3))
            #expect(versions(try await store.allReverse(userStream, count: 2)) == [3, 2])
            #expect(versions(try await store.allReverse(userStream)) == [3, 2, 1])
        },
        ConformanceCase("load", "loadHonoursFromAndCount") { store in
            try await store.create(userStream, events: userEvents(1...4))
            #expect(versions(try await store.all(userStream, from: 2, count: 2)) == [2, 3])
        },
        ConformanceCase("load", "loadReverseHonoursFromAndCount") { store in
            try await store.create(userStream, events: userEvents(1...4))
            #expect(versions(try await store.allReverse(userStream, from: 3, count: 2)) == [3, 2])
        },
        ConformanceCase("load", "anExistingEmptyStreamLoadsAsNoEvents") { store in
            try await store.create(userStream)
            #expect(try await store.all(userStream).isEmpty)
            #expect(try await store.allReverse(userStream).isEmpty)
        },
        ConformanceCase("load", "loadingAMissingStreamThrowsNotFound") { store in
            await expectError(.streamNotFound) { try await store.load("missing") }
            await expectError(.streamNotFound) { try await store.loadReverse("missing") }
            await expectError(.streamNotFound) { try await store.load("missing", from: 1, count: 5, matching: MetadataMatcher()) }
        },
        ConformanceCase("load", "readingPastTheEndGivesNoEventsAndReverseStartsAtTheNewest") { store in
            try await store.create("end-1", events: userEvents(1...3))
            #expect(try await store.all("end-1", from: 4).isEmpty)
            #expect(try await store.all("end-1", from: 1000).isEmpty)
            #expect(versions(try await store.allReverse("end-1", from: 1000)) == [3, 2, 1])
            #expect(versions(try await store.allReverse("end-1", from: 1)) == [1])
        },
        ConformanceCase("load", "invalidFromOrCountIsAnInvalidArgument") { store in
            try await store.create("bad-1", events: userEvents(1...3))
            await expectError(.invalidArgument) { try await store.load("bad-1", from: 0) }
            await expectError(.invalidArgument) { try await store.load("bad-1", from: -1) }
            await expectError(.invalidArgument) { try await store.load("bad-1", count: 0) }
            await expectError(.invalidArgument) { try await store.load("bad-1", count: -5) }
            await expectError(.invalidArgument) { try await store.loadReverse("bad-1", from: 0) }
            await expectError(.invalidArgument) { try await store.loadReverse("bad-1", count: -1) }
        },
        ConformanceCase("load", "eventsComeBackAsTheyWereWritten") { store in
            let createdAt = Date(timeIntervalSince1970: 1_700_000_000.123456)
            let uuid = UUID()
            let event = EventMessage(
                messageName: "Some\\Namespaced\\Event", payload: ["a": 1], metadata: ["k": "v"], uuid: uuid,
                createdAt: createdAt)
            try await store.create("exact-1", events: [event])
            let read = try #require(try await store.all("exact-1").first)
            #expect(read.uuid == uuid)
            #expect(read.messageName == "Some\\Namespaced\\Event")
            #expect(read.payload == event.payload)
            #expect(read.streamName == "exact-1")
            #expect(read.position == 1)
            #expect(read.message.createdAtMicros == 1_700_000_000_123_456)
            #expect(read.createdAt == event.createdAt)
            #expect(read.metadata == ["k": "v", "_position": 1])
        },
        ConformanceCase("load", "positionIsAddedToMetadataUnlessTheWriterSetIt") { store in
            try await store.create(
                "pos-1",
                events: [EventMessage(messageName: "A"), EventMessage(messageName: "B", metadata: ["_position": "foo"])])
            let events = try await store.all("pos-1")
            #expect(events[0].metadata["_position"] == 1)
            #expect(events[1].metadata["_position"] == "foo")
            #expect(events[1].position == 2)
        },
        ConformanceCase("load", "metadataKeepsEveryScalarType") { store in
            let metadata: Metadata = [
                "s": "text", "i": 5, "neg": -7, "d": 1.0, "d2": -0.5, "t": true, "f": false, "max": .int(Int.max),
                "min": .int(Int.min), "backslash": "Prooph\\Model\\User", "quote": "\"'", "unicode": "ü😀",
            ]
            try await store.create("types-1", events: [EventMessage(messageName: "A", metadata: metadata)])
            let read = try #require(try await store.all("types-1").first)
            #expect(read.metadata == metadata.adding("_position", 1))
            #expect(read.metadata["d"] == .double(1.0))
            #expect(read.metadata["i"] == .int(5))
            #expect(read.metadata["t"] == .bool(true))
        },
        ConformanceCase("load", "countOfTwiceThePageSizeIsHonouredExactly", settings: StoreSettings(readBatchSize: 5)) {
            store in
            try await store.create("page-1", events: userEvents(1...23))
            #expect(positions(try await store.all("page-1", count: 10)) == Array(1...10))
            #expect(positions(try await store.all("page-1", count: 5)) == Array(1...5))
            #expect(positions(try await store.all("page-1", count: 15)) == Array(1...15))
            #expect(positions(try await store.all("page-1")) == Array(1...23))
            #expect(positions(try await store.all("page-1", from: 4, count: 10)) == Array(4...13))
            #expect(positions(try await store.allReverse("page-1", count: 10)) == Array((14...23).reversed()))
            #expect(positions(try await store.allReverse("page-1", from: 12)) == Array((1...12).reversed()))
            #expect(positions(try await store.all("page-1", count: 100)) == Array(1...23))
            // Backward pages from a bound past the stream's end, across page boundaries.
            #expect(positions(try await store.allReverse("page-1", from: 1000)) == Array((1...23).reversed()))
            #expect(positions(try await store.allReverse("page-1", from: 1000, count: 12)) == Array((12...23).reversed()))
        },
        ConformanceCase("load", "matcherWithPagingCountsMatchedEvents", settings: StoreSettings(readBatchSize: 5)) { store in
            // prooph's single-stream case: 200 interleaved events of two aggregates, page size 5.
            var events: [EventMessage] = []
            for version in 1...100 {
                for id in ["one", "two"] {
                    let name = version == 100 ? (id == "one" ? "Sandro" : "Bradley") : "\(id) \(version)"
                    events.append(
                        EventMessage(
                            messageName: "Changed", payload: ["name": .string(name)],
                            metadata: ["_aggregate_type": "user", "_aggregate_id": .string(id), "_aggregate_version": .int(version)]))
                }
            }
            try await store.create("user-single", events: events)
            for (id, lastName) in [("one", "Sandro"), ("two", "Bradley")] {
                let matcher = try MetadataMatcher().metadata("_aggregate_id", .equals, .scalar(.string(id)))
                let loaded = try await store.all("user-single", matching: matcher)
                #expect(loaded.count == 100)
                #expect(versions(loaded) == Array(1...100))
                #expect(try loaded.last?.payload.value()["name"] == .string(lastName))
                let ten = try await store.all("user-single", count: 10, matching: matcher)
                #expect(versions(ten) == Array(1...10))
                let reverse = try await store.allReverse("user-single", count: 10, matching: matcher)
                #expect(versions(reverse) == Array((91...100).reversed()))
            }
        },
        ConformanceCase("load", "aTenThousandEventStreamLoadsInOrder", settings: StoreSettings(readBatchSize: 1000)) { store in
            try await store.create("big-1")
            for batch in 0..<10 {
                let events = (1...1000).map { i in
                    EventMessage(messageName: "Tick", payload: ["n": .number(String(batch * 1000 + i))])
                }
                try await store.append(events, to: "big-1", expectedVersion: .exact(batch * 1000))
            }
            var expected = 1
            var lastGlobal = GlobalPosition.start
            for try await event in try await store.load("big-1") {
                #expect(event.position == expected)
                #expect(event.globalPosition > lastGlobal)
                lastGlobal = event.globalPosition
                expected += 1
            }
            #expect(expected == 10_001)
            #expect(positions(try await store.allReverse("big-1", count: 3)) == [10_000, 9_999, 9_998])
            #expect(positions(try await store.all("big-1", from: 9_999)) == [9_999, 10_000])
        },
        ConformanceCase("load", "loadingOneStreamIgnoresTheOthers", settings: StoreSettings(readBatchSize: 3)) { store in
            try await store.create("mix-a")
            try await store.create("mix-b")
            for i in 1...10 {
                try await store.append([userEvent(i)], to: "mix-a")
                try await store.append([userEvent(i), userEvent(i + 100)], to: "mix-b")
            }
            let a = try await store.all("mix-a")
            #expect(versions(a) == Array(1...10))
            #expect(a.allSatisfy { $0.streamName == "mix-a" })
            #expect(try await store.all("mix-b").count == 20)
        },
    ]

    static let payloadCases: [ConformanceCase] = [
        ConformanceCase("payload", "payloadStaysByteForByteTheSame") { store in
            let texts = [
                "{}", "{\"null\":null}", "{\"int\":10,\"neg\":-10}", "{\"f\":-1.1,\"g\":-1.0,\"h\":-0.0,\"i\":0.0,\"j\":1.0,\"k\":1.1}",
                "{\"unicode\":\"ü😀\\u00fc\"}", "{\"big\":12345678901234567890123}", "{\"b\":1,\"a\":2,\"c\":{\"z\":1,\"y\":2}}",
                "{ \"spaced\" : [ 1 , 2 ] }", "{\"exp\":1e10,\"E\":2.5E-3}",
                "{\"name\":[\"John\",\"Jane\"],\"empty\":[],\"obj\":{}}", "{\"esc\":\"\\\"\\\\\\/\\n\"}",
            ]
            let events = try texts.map { EventMessage(messageName: "P", payload: try Payload(json: $0)) }
            try await store.create("payload-1", events: events)
            let read = try await store.all("payload-1")
            #expect(read.map(\.payload.jsonText) == texts)
        },
        ConformanceCase("payload", "payloadMustBeAJsonObject") { _ in
            for text in ["[]", "1", "\"text\"", "null", "{", "{\"a\":}", "{} {}", "{\"a\":1,}", "{'a':1}", ""] {
                await expectError(.invalidArgument) { try Payload(json: text) }
            }
            let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
            await expectError(.invalidArgument) { try Payload(json: "{\"a\":\(deep)}") }
        },
    ]
}
