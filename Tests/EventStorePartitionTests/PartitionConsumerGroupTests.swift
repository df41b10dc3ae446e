@_spi(Backend) import EventStore
import EventStoreTestSupport
import Foundation
import Testing

/// Issue 25: consumer groups of a partitioned store.
@Suite("Partitioned consumer groups", .watchdog())
struct PartitionConsumerGroupTests {
    /// Takes and settles what the group hands out to `consumer` until `count` deliveries came (within 60 s:
    /// an event is handed out once its member's readable bound passes it), then checks that nothing more comes.
    static func drain(_ group: String, as consumer: String, in store: PartitionedEventStore, count: Int) async throws
        -> [ConsumerGroupDelivery]
    {
        let taken = try await within(.seconds(60), "group \(group) hands out \(count) events") {
            var taken: [ConsumerGroupDelivery] = []
            while taken.count < count {
                let batch = try await store.take(from: group, consumer: consumer, count: 4)
                if batch.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
                #expect(try await store.acknowledge(batch.map(\.id), in: group, consumer: consumer) == batch.count)
                taken += batch
            }
            return taken
        }
        #expect(try await store.take(from: group, consumer: consumer, count: 4).isEmpty, "nothing more than \(count)")
        return taken
    }

    /// A group's row lives on its home member; its window knows each event by member, so an event held in
    /// flight while its stream's bucket moves is handed out again from the stream's new member, a parked one
    /// stays listed, and no copy the move made is ever handed out; its checkpoint moves member by member,
    /// and a group made after it has nothing to hand out.
    @Test(arguments: MemberKind.allCases)
    func aGroupHandsOutEachEventOnceAcrossAMove(_ kind: MemberKind) async throws {
        if !kind.shouldRun { return }
        try await PartitionTests.withStreamOnEachMember(kind, events: 3) { store, streams in
            try await store.createConsumerGroup(ConsumerGroup(name: "workers", target: .category("s")))
            let home = store.home(of: "workers")
            for member in store.members {
                let row = try await member.store.consumerGroupRecord(named: "workers")
                #expect((row != nil) == (member.name == home.name), "the row lives on \(home.name) alone, not on \(member.name)")
            }
            #expect(try await store.consumerGroupNames(limit: 10, offset: 0) == ["workers"])

            let first = try await store.take(from: "workers", consumer: "one", count: 9)
            #expect(first.count == 9)
            // One event of a's stream stays in flight, one of b's is parked, the rest are acknowledged.
            let held = try #require(first.first { $0.event.streamName == streams[0] })
            let parked = try #require(first.first { $0.event.streamName == streams[1] })
            try await store.reject([parked.id], in: "workers", action: .park, reason: "cannot")
            let settled = first.filter { $0.id != held.id && $0.id != parked.id }
            #expect(try await store.acknowledge(settled.map(\.id), in: "workers") == 7)
            let waiting = try await store.consumerGroup(named: "workers")
            guard case let .composite(checkpoint) = waiting.position else {
                Issue.record("a partitioned store's group keeps a composite position: \(waiting.position)")
                return
            }
            #expect(checkpoint[streams[0].member(in: store)] < held.event.globalPosition, "the event in flight holds a's part back")
            // The other members' parts pass every event settled there (a parked one holds nothing back).
            for stream in streams.dropFirst() {
                let last = try #require(first.filter { $0.event.streamName == stream }.map(\.event.globalPosition).max())
                #expect(checkpoint[stream.member(in: store)] >= last, "\(stream.member(in: store))'s part moved: \(checkpoint)")
            }
            #expect(waiting.inFlight == 1 && waiting.parked == 1 && waiting.acknowledged == 7)

            let moved = store.location(of: streams[0]).bucket
            #expect(try await store.move(bucket: moved, to: "b").events == 3)
            try await store.append(PartitionMoveTests.events(2, "AfterTheMove"), to: streams[0], expectedVersion: .exact(3))
            try await store.append(PartitionMoveTests.events(1, "AfterTheMove"), to: streams[2], expectedVersion: .exact(3))
            // The home of a group is the first owner of its name's bucket: moving that bucket moves no row.
            let own = PartitionKey.bucket(of: "workers", count: store.placement.bucketCount)
            if store.placement.owners[own] != 1 { try await store.move(bucket: own, to: "b") } else { try await store.move(bucket: own, to: "c") }
            #expect(store.home(of: "workers").name == home.name)

            try await store.leave("workers", consumer: "one")
            // The held event, and the three written after the move.
            let second = try await Self.drain("workers", as: "two", in: store, count: 4)
            #expect(second.contains { $0.event.uuid == held.event.uuid }, "the event held in flight comes again, from its stream's new member")
            let delivered = settled.map(\.event.uuid) + second.map(\.event.uuid)
            var stored: [UUID] = []
            for stream in streams { stored += try await store.load(stream).collect().map(\.uuid) }
            #expect(delivered.sorted() == stored.filter { $0 != parked.event.uuid }.sorted(), "every event once but the parked one, no copy")
            for stream in streams {
                let positions = second.filter { $0.event.streamName == stream }.map(\.event.position)
                #expect(positions == positions.sorted(), "\(stream) in its order")
            }
            #expect(try await store.parkedEvents(in: "workers").map(\.event.uuid) == [parked.event.uuid])

            let done = try await store.consumerGroup(named: "workers")
            #expect(done.acknowledged == 11 && done.parked == 1 && done.inFlight == 0, "\(done)")
            #expect(done.lagEvents == 0, "the copies the move made are behind the checkpoint")
            guard case let .composite(end) = done.position else { return }
            #expect(Set(end.parts.keys) == Set(store.members.map(\.name)), "every member's part moved: \(end)")
            try await store.createConsumerGroup(ConsumerGroup(name: "later", target: .category("s")), from: .after(done.position))
            #expect(try await store.take(from: "later", consumer: "three", count: 10).isEmpty)
            try await store.append(PartitionMoveTests.events(1, "Later"), to: streams[1], expectedVersion: .exact(3))
            #expect(try await Self.drain("later", as: "three", in: store, count: 1).map(\.event.messageName) == ["Later"])
        }
    }

    /// A group's start is a position of the store's order: a global position, or a composite one naming a
    /// member the store does not have, is refused before anything is made.
    @Test func aGroupStartsOnlyAtAPositionOfTheStoresOrder() async throws {
        try await PartitionTests.withStreamOnEachMember(.sqlite, events: 2) { store, _ in
            for start: ConsumerGroupStart in [.after(GlobalPosition(sequence: 1)), .after(try #require(CompositePosition("z=1")))] {
                let error = await #expect(throws: EventStoreError.self, "\(start)") {
                    try await store.createConsumerGroup(ConsumerGroup(name: "bad", target: .all), from: start)
                }
                #expect(error?.code == .invalidArgument, "\(start): \(String(describing: error))")
            }
            #expect(try await store.consumerGroupNames(limit: 10, offset: 0).isEmpty)
            try await store.createConsumerGroup(ConsumerGroup(name: "new", target: .all), from: .end)
            #expect(try await store.consumerGroup(named: "new").lagEvents == 0)
            #expect(try await store.consumerGroup(named: "new").position == .composite(try await store.headPosition()))
        }
    }

    /// Consumers share a group while writers append and buckets move: every acknowledged event is handed
    /// out and acknowledged once, none of the moves' copies is.
    @Test(arguments: MemberKind.allCases)
    func consumersShareAGroupWhileBucketsMove(_ kind: MemberKind) async throws {
        if !kind.shouldRun { return }
        var configuration = PartitionedStoreConfiguration()
        configuration.moveWait = .seconds(120)
        try await PartitionTests.withStore(kind, configuration: configuration) { store in
            let streams = (0..<12).map { try! StreamName("job-\($0)") }
            for stream in streams { try await store.create(stream) }
            let moving = Array(Set(streams.filter { store.location(of: $0).member == "a" }.map { store.location(of: $0).bucket })).sorted().prefix(2)
            #expect(moving.count == 2)
            try await store.createConsumerGroup(ConsumerGroup(name: "jobs", target: .category("job")))
            let written = Shared<[UUID]>([])
            let acknowledged = Shared<[UUID]>([])
            let failures = Shared<[String]>([])
            let consumers = (0..<2).map { consumer in
                Task {
                    do {
                        let deliveries = try store.consume("jobs", as: "c\(consumer)", batchSize: 5, pollInterval: .milliseconds(50))
                        for try await delivery in deliveries {
                            if try await deliveries.acknowledge(delivery) { acknowledged.withLock { $0.append(delivery.event.uuid) } }
                        }
                    } catch where !Task.isCancelled {
                        failures.withLock { $0.append("c\(consumer): \(error)") }
                    }
                }
            }
            try await withThrowingTaskGroup { group in
                for writer in 0..<2 {
                    group.addTask {
                        for n in 0..<60 {
                            let event = EventMessage(messageName: "Job", payload: ["w": JSONValue(integerLiteral: writer), "n": JSONValue(integerLiteral: n)])
                            try await store.append([event], to: streams[(writer * 5 + n) % streams.count], expectedVersion: .any)
                            written.withLock { $0.append(event.uuid) }
                        }
                    }
                }
                // The buckets move while the writers write and the consumers take.
                group.addTask {
                    for (index, bucket) in moving.enumerated() {
                        while written.withLock({ $0.count }) < 40 * (index + 1) { try await Task.sleep(for: .milliseconds(5)) }
                        try await store.move(bucket: bucket, to: index == 0 ? "b" : "c")
                    }
                }
                try await group.waitForAll()
            }
            let total = written.withLock { $0.count }
            try await within(.seconds(240), "the consumers acknowledge every written event") {
                while acknowledged.withLock({ $0.count }) < total {
                    if let failure = failures.withLock({ $0.first }) { throw EventStoreError.backend("a consumer ended: \(failure)") }
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            // Nothing more comes (no copy of a moved event) while the consumers go on a little.
            try await Task.sleep(for: .milliseconds(500))
            for consumer in consumers { consumer.cancel() }
            for consumer in consumers { _ = await consumer.result }
            let got = acknowledged.withLock { $0 }
            #expect(got.count == Set(got).count, "none acknowledged twice")
            #expect(Set(got) == Set(written.withLock { $0 }), "every written event acknowledged")
            let info = try await store.consumerGroup(named: "jobs")
            #expect(info.acknowledged == 120 && info.inFlight == 0 && info.lagEvents == 0, "\(info)")
        }
    }
}

extension StreamName {
    /// The member this stream lives on.
    fileprivate func member(in store: PartitionedEventStore) -> String { store.location(of: self).member }
}
