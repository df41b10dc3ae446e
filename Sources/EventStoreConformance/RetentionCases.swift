import EventStore
import Foundation
import Testing

extension EventStore {
    /// The store as one that scavenges, or a recorded failure.
    func scavenging(sourceLocation: SourceLocation = #_sourceLocation) throws -> any ScavengingEventStore {
        try #require(self as? any ScavengingEventStore, "the store does not scavenge", sourceLocation: sourceLocation)
    }
}

/// `count` events named `Kept`, numbered in their payload.
func kept(_ count: Int) -> [EventMessage] {
    (1...count).map { EventMessage(messageName: "Kept", payload: ["n": JSONValue(integerLiteral: $0)]) }
}

/// The positions of a load.
func positions(_ events: RecordedEventSequence) async throws -> [Int] {
    try await events.collect().map(\.position)
}

/// The stream positions of `stream`'s events in the global order after `position`, read once the read
/// looks as far as the head (on PostgreSQL a new event is readable only once every transaction older than
/// it has ended, and other tests' may still run; at most 30 s).
func globalOrder(of stream: StreamName, after position: GlobalPosition = .start, in store: some EventStore) async throws -> [Int] {
    let ordered = try #require(store as? any GlobalOrderEventStore, "the store keeps no global order")
    let head = try await ordered.headPosition()
    let deadline = ContinuousClock.now + .seconds(30)
    while true {
        let page = try await ordered.readPage(after: position, of: .stream(stream), limit: 1000)
        if page.readThrough >= head || ContinuousClock.now >= deadline { return page.events.map(\.position) }
        try await Task.sleep(for: .milliseconds(20))
    }
}

extension EventStoreConformance {
    static let retentionCases: [ConformanceCase] = [
        ConformanceCase("retention", "maxCountKeepsTheLastEventsInEveryReadAtOnce") { store in
            try await store.create("kept-1", metadata: [StreamRetention.maxCountKey: .int(3)], events: kept(5))
            try await store.create("other-1", events: kept(2))
            #expect(try await positions(store.load("kept-1")) == [3, 4, 5])
            #expect(try await positions(store.loadReverse("kept-1")) == [5, 4, 3])
            #expect(try await positions(store.load("kept-1", from: 1, count: 2)) == [3, 4])
            #expect(try await positions(store.loadReverse("kept-1", from: 3)) == [3])
            #expect(try await globalOrder(of: "kept-1", in: store) == [3, 4, 5])
            #expect(try await globalOrder(of: "other-1", in: store) == [1, 2], "other streams keep everything")
            let ordered = try #require(store as? any GlobalOrderEventStore)  // readable up to the head by now
            #expect(try await ordered.eventCount(after: .start, of: .all, limit: 100) == 5)
            // The window moves with each append.
            try await store.append(kept(2), to: "kept-1", expectedVersion: .exact(5))
            #expect(try await positions(store.load("kept-1")) == [5, 6, 7])
            #expect(try await globalOrder(of: "kept-1", in: store) == [5, 6, 7])
            // A subscription that had not reached them never sees them.
            var seen: [Int] = []
            for try await event in try await ordered.subscribe(to: .stream("kept-1"), from: .start) {
                seen.append(event.position)
                if seen.count == 3 { break }
            }
            #expect(seen == [5, 6, 7])
        },
        ConformanceCase("retention", "truncateBeforeHidesUntilLiftedAndScavengeRemovesForGood") { store in
            let written = try await store.create("cut-1", events: kept(6))
            try await store.create("whole-1", events: kept(2))
            let all = try await store.load("cut-1").collect()
            try await store.updateStreamMetadata([StreamRetention.truncateBeforeKey: .int(4)], of: "cut-1")
            #expect(try await positions(store.load("cut-1")) == [4, 5, 6])
            #expect(try await globalOrder(of: "cut-1", in: store) == [4, 5, 6])
            // Until a scavenge, lifting retention shows the events again.
            try await store.updateStreamMetadata([:], of: "cut-1")
            #expect(try await positions(store.load("cut-1")) == [1, 2, 3, 4, 5, 6])
            try await store.updateStreamMetadata([StreamRetention.truncateBeforeKey: .int(4)], of: "cut-1")
            let result = try await store.scavenging().scavenge()
            #expect(result == ScavengeResult(streams: 1, events: 3))
            #expect(try await store.scavenging().scavenge() == ScavengeResult(), "nothing left to remove")
            try await store.updateStreamMetadata([:], of: "cut-1")
            #expect(try await positions(store.load("cut-1")) == [4, 5, 6], "removed for good")
            #expect(try await positions(store.load("whole-1")) == [1, 2])
            // A checkpoint on a removed event still resumes after it.
            #expect(try await globalOrder(of: "cut-1", after: all[1].globalPosition, in: store) == [4, 5, 6])
            // The stream keeps its version: appends go on from it.
            let next = try await store.append(kept(1), to: "cut-1", expectedVersion: .exact(written.streamVersion))
            #expect(next.streamVersion == 7)
            #expect(try await positions(store.load("cut-1")) == [4, 5, 6, 7])
        },
        ConformanceCase("retention", "maxAgeJudgesEachEventsAgeAtTheRead") { store in
            func aged(_ seconds: TimeInterval) -> EventMessage {
                var event = EventMessage(messageName: "Aged")
                event.createdAt = Date(timeIntervalSinceNow: -seconds)
                return event
            }
            try await store.create(
                "aged-1", metadata: [StreamRetention.maxAgeKey: .int(3600)], events: [aged(7200), aged(5000), aged(60), aged(0)])
            #expect(try await positions(store.load("aged-1")) == [3, 4])
            #expect(try await positions(store.loadReverse("aged-1")) == [4, 3])
            #expect(try await globalOrder(of: "aged-1", in: store) == [3, 4])
            // Out of order too: an old event after a new one is past retention on its own.
            try await store.append([aged(9000), aged(1)], to: "aged-1", expectedVersion: .exact(4))
            #expect(try await positions(store.load("aged-1")) == [3, 4, 6])
            #expect(try await store.scavenging().scavenge() == ScavengeResult(streams: 1, events: 3))
            #expect(try await positions(store.load("aged-1")) == [3, 4, 6])
        },
        ConformanceCase("retention", "retentionThatIsNotAWholeNumberInRangeIsRefused") { store in
            for bad: Metadata in [
                [StreamRetention.maxCountKey: .int(0)], [StreamRetention.maxAgeKey: .string("soon")], [StreamRetention.truncateBeforeKey: .int(-1)],
                [StreamRetention.maxCountKey: .double(2.5)], [StreamRetention.maxAgeKey: .bool(true)],
                [StreamRetention.maxCountKey: .int(StreamRetention.largest + 1)],
            ] {
                await expectError(.invalidArgument) { try await store.create("bad-1", metadata: bad, events: kept(1)) }
            }
            #expect(try await !store.hasStream("bad-1"), "nothing was written")
            try await store.create("bad-1", metadata: ["owner": .string("me")], events: kept(2))
            await expectError(.invalidArgument) {
                try await store.updateStreamMetadata([StreamRetention.maxCountKey: .int(-5)], of: "bad-1")
            }
            #expect(try await store.streamMetadata(of: "bad-1") == ["owner": .string("me")])
            // A whole number written as a JSON number with a fraction of zero is one.
            try await store.updateStreamMetadata([StreamRetention.maxCountKey: .double(1)], of: "bad-1")
            #expect(try await positions(store.load("bad-1")) == [2])
        },
    ]
}
