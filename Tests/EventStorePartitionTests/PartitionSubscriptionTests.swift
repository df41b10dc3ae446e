@_spi(Backend) import EventStore
import EventStoreTestSupport
import Foundation
import Testing

/// Issue 25: subscriptions to a partitioned store, live and durable.
@Suite("Partitioned subscriptions", .watchdog())
struct PartitionSubscriptionTests {
    struct Stop: Error {}

    /// Runs the durable subscription `name` until it has handled `count` events (the last one's handler
    /// throws, so its checkpoint is not saved), and returns them.
    static func run(_ name: String, on store: PartitionedEventStore, handling count: Int) async throws -> [PartitionedEvent] {
        try await within(.seconds(60), "the durable subscription handled \(count) events") {
            let handled = Shared<[PartitionedEvent]>([])
            await #expect(throws: Stop.self) {
                try await store.runSubscription(named: name) { event in
                    let seen = handled.withLock {
                        $0.append(event)
                        return $0.count
                    }
                    if seen == count { throw Stop() }
                }
            }
            return handled.withLock { $0 }
        }
    }

    /// A durable subscription keeps its place in every member, one part on each; resumed after a bucket
    /// moved, it delivers the moved stream's new events once and none of the copies; every event comes
    /// once but the one whose handler failed, which comes again.
    @Test(arguments: MemberKind.allCases)
    func aDurableSubscriptionKeepsItsPlaceInEveryMemberAcrossAMove(_ kind: MemberKind) async throws {
        if !kind.shouldRun { return }
        try await PartitionTests.withStreamOnEachMember(kind, events: 3) { store, streams in
            let first = try await Self.run("audit", on: store, handling: 5)
            #expect(first.count == 5)
            // The checkpoint is the fourth event's position (the fifth's handler threw), each member its part.
            let saved = first[3].position
            #expect(try await store.checkpoint(named: "audit") == saved)
            for member in store.members {
                #expect(try await member.store.checkpoint(named: "audit") ?? .start == saved[member.name], "\(member.name)'s part")
            }

            let moved = store.location(of: streams[0]).bucket
            let move = try await store.move(bucket: moved, to: "b")
            #expect(move.streams == 1 && move.events == 3)
            try await store.append(PartitionMoveTests.events(2, "AfterTheMove"), to: streams[0], expectedVersion: .exact(3))
            try await store.append(PartitionMoveTests.events(1, "AfterTheMove"), to: streams[2], expectedVersion: .exact(3))

            // 9 + 3 events, 4 of them checkpointed: the rest is 8.
            let second = try await Self.run("audit", on: store, handling: 8)
            // The event whose handler failed comes again (not necessarily first: on PostgreSQL a member's events
            // may become readable only now, others' transactions having held them back, and come before it).
            #expect(second.contains { $0.event.uuid == first[4].event.uuid }, "the event whose handler failed comes again")
            let delivered = first.prefix(4).map(\.event.uuid) + second.map(\.event.uuid)
            var stored: [UUID] = []
            for stream in streams { stored += try await store.load(stream).collect().map(\.uuid) }
            #expect(delivered.sorted() == stored.sorted(), "every event once, no copy")
            for stream in streams {
                let positions = (first.prefix(4) + second).filter { $0.event.streamName == stream }.map(\.event.position)
                #expect(positions == positions.sorted(), "\(stream) in its order")
            }
            #expect(second.filter { $0.event.streamName == streams[0] }.last?.member == "b")
        }
    }

    /// A subscription from the end gets only new events; one after a position gets what a reader after it
    /// reads; positions and names the store does not know are refused.
    @Test(arguments: MemberKind.allCases)
    func aSubscriptionStartsWhereItIsAsked(_ kind: MemberKind) async throws {
        if !kind.shouldRun { return }
        try await PartitionTests.withStreamOnEachMember(kind, events: 2) { store, streams in
            let all = try await PartitionMoveTests.readToHead(of: store)
            #expect(all.count == 6)
            let after = all[1].position
            let rest = try await within(.seconds(60), "the rest after a position") {
                var rest: [UUID] = []
                for try await event in try await store.subscribe(from: .after(after)) {
                    rest.append(event.event.uuid)
                    if rest.count == 4 { break }
                }
                return rest
            }
            // The events past the position, each once; the merge may interleave members otherwise than the
            // read did (there is no order across members), but each member's events keep their order.
            let expected = all.dropFirst(2)
            #expect(rest.sorted() == expected.map(\.event.uuid).sorted())
            for member in Set(all.map(\.member)) {
                let ofMember = Set(expected.filter { $0.member == member }.map(\.event.uuid))
                #expect(rest.filter(ofMember.contains) == expected.filter { $0.member == member }.map(\.event.uuid), "\(member) in its order")
            }

            let new = try await within(.seconds(60), "a new event from the end") { () -> PartitionedEvent? in
                let events = try await store.subscribe(from: .end)
                try await store.append(PartitionMoveTests.events(1, "New"), to: streams[2], expectedVersion: .exact(2))
                for try await event in events { return event }
                return nil
            }
            #expect(new?.event.messageName == "New" && new?.member == "c")

            let stranger = try #require(CompositePosition("z=5"))
            for attempt in [
                { _ = try await store.subscribe(from: .after(stranger)) },
                { try await store.saveCheckpoint(stranger, named: "x") },
                { _ = try await store.subscribe(pageSize: 0) },
                { try await store.runSubscription(named: "") { _ in } },
            ] as [@Sendable () async throws -> Void] {
                await #expect {
                    try await attempt()
                } throws: { error in
                    (error as? EventStoreError)?.code == .invalidArgument
                }
            }
            #expect(try await store.checkpoint(named: "never") == nil)
            try await store.saveCheckpoint(after, named: "set")
            #expect(try await store.checkpoint(named: "set") == after)
        }
    }
}
