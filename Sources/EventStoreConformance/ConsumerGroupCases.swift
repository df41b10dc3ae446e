import EventStore
import Foundation
import Synchronization
import Testing

extension EventStore {
    /// The store as one that keeps consumer groups, or a recorded failure.
    func grouping(sourceLocation: SourceLocation = #_sourceLocation) throws -> any ConsumerGroupStore {
        try #require(self as? any ConsumerGroupStore, "the store keeps no consumer groups", sourceLocation: sourceLocation)
    }
}

/// A job: an event of stream `job-<stream>`.
private func jobs(_ count: Int, stream: Int = 0) -> [EventMessage] {
    (0..<count).map { EventMessage(messageName: "Job", payload: ["n": JSONValue(integerLiteral: $0)], metadata: ["stream": .int(stream)]) }
}

/// Appends `events` to `stream`, making it first when it is missing.
@discardableResult
private func put(_ events: [EventMessage], to stream: StreamName, in store: some EventStore) async throws -> AppendResult {
    if try await store.hasStream(stream) { return try await store.append(events, to: stream, expectedVersion: .any) }
    return try await store.create(stream, events: events)
}

/// Takes from a group until something comes (at most 30 s): on PostgreSQL a new event is readable only
/// once every transaction older than it has ended, and other tests' may still run.
private func takeSome(_ store: any ConsumerGroupStore, from group: String, consumer: String, count: Int) async throws
    -> [ConsumerGroupDelivery]
{
    let deadline = ContinuousClock.now + .seconds(30)
    while true {
        let batch = try await store.take(from: group, consumer: consumer, count: count)
        if !batch.isEmpty || ContinuousClock.now >= deadline { return batch }
        try await Task.sleep(for: .milliseconds(20))
    }
}

/// State the tasks of a case share.
private final class Shared<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    func withLock<T>(_ body: (inout Value) -> T) -> T { value.withLock { body(&$0) } }
}

extension EventStoreConformance {
    /// How many events the shared-work case spreads over its consumers: 10,000 unless
    /// `EVENTSTORE_GROUP_EVENTS` says otherwise.
    static var groupEvents: Int {
        ProcessInfo.processInfo.environment["EVENTSTORE_GROUP_EVENTS"].flatMap(Int.init) ?? 10_000
    }

    static let consumerGroupCases: [ConformanceCase] = [
        ConformanceCase("consumer groups", "groupsAreCreatedListedUpdatedMovedAndDeleted") { inner in
            let store = try inner.grouping()
            try await store.create("job-1", events: jobs(3))
            let group = ConsumerGroup(name: "workers", target: .category("job"))
            try await store.createConsumerGroup(group)
            await expectError(.consumerGroupExists) { try await store.createConsumerGroup(group) }
            try await store.createConsumerGroup(ConsumerGroup(name: "auditors", target: .all), from: .end)
            #expect(try await store.consumerGroupNames(limit: 10, offset: 0) == ["auditors", "workers"])
            #expect(try await store.consumerGroupNames(limit: 1, offset: 1) == ["workers"])

            let info = try await store.consumerGroup(named: "workers")
            #expect(info.group.settings == ConsumerGroupSettings(maxRetries: 10, messageTimeout: .seconds(30), maxInFlightPerConsumer: 10))
            #expect(info.group.settings.strategy == .roundRobin)
            #expect(info.position.isStart)
            try await eventually("the group's lag counts the stream's events") {
                try await store.consumerGroup(named: "workers").lagEvents == 3
            }
            #expect(try await store.consumerGroup(named: "auditors").lagEvents == 0, "a group made at the end has nothing to catch up")

            var changed = group
            changed.settings.maxRetries = 3
            changed.settings.strategy = .pinnedByStream
            try await store.updateConsumerGroup(changed)
            #expect(try await store.consumerGroup(named: "workers").group.settings == changed.settings)

            let taken = try await takeSome(store, from: "workers", consumer: "c1", count: 10)
            #expect(taken.map(\.event.position) == [1, 2, 3])
            #expect(try await store.consumerGroup(named: "workers").consumers == ["c1"])
            try await store.moveConsumerGroup(named: "workers", to: .end)
            let moved = try await store.consumerGroup(named: "workers")
            #expect(moved.inFlight == 0 && moved.lagEvents == 0)
            #expect(try await store.acknowledge(taken.map(\.id), in: "workers") == 0, "deliveries of before the move are gone")

            try await store.deleteConsumerGroup(named: "workers")
            await expectError(.consumerGroupNotFound) { try await store.take(from: "workers", consumer: "c1", count: 1) }
            await expectError(.consumerGroupNotFound) { try await store.deleteConsumerGroup(named: "workers") }
            #expect(try await store.consumerGroupNames(limit: 10, offset: 0) == ["auditors"])
            for bad in ["", String(repeating: "x", count: 151), "tab\there"] {
                await expectError(.invalidArgument) { try await store.createConsumerGroup(ConsumerGroup(name: bad, target: .all)) }
            }
            var noRoom = group
            noRoom.settings.maxInFlightPerConsumer = 0
            await expectError(.invalidArgument) { try await store.createConsumerGroup(noRoom) }
            await expectError(.invalidArgument) { try await store.take(from: "auditors", consumer: "", count: 1) }
            await expectError(.invalidArgument) { try await store.take(from: "auditors", consumer: "c", count: 0) }
        },
        ConformanceCase("consumer groups", "consumersShareTheEventsAndEachIsAcknowledgedOnceThoughTwoCrash") { inner in
            // 8 consumers over many events; two take a batch and vanish (no acknowledgement, no goodbye): what
            // they held times out and goes to the others. Each event is acknowledged exactly once. Every
            // consumer holds a batch before any acknowledges one, so that the work is shared however the
            // tasks are scheduled (on a busy machine one task could otherwise take every event alone).
            let store = try inner.grouping()
            let total = max(EventStoreConformance.groupEvents, 8 * 20)
            let streams = 20
            for stream in 0..<streams {
                var left = total / streams + (stream < total % streams ? 1 : 0)
                while left > 0 {
                    let count = min(left, 250)
                    _ = try await put(jobs(count, stream: stream), to: try StreamName("job-\(stream)"), in: store)
                    left -= count
                }
            }
            // The crashed consumers' batches come again after the timeout. It is longer than gathering the eight
            // holders may take on a starved machine: a batch timed out before its holder acknowledges it goes to
            // another consumer, and the holder's late acknowledgement counts for nothing (3 s once left one
            // consumer with every acknowledgement, at the start of a CI run).
            var settings = ConsumerGroupSettings(messageTimeout: .seconds(20))
            settings.maxInFlightPerConsumer = 20
            try await store.createConsumerGroup(ConsumerGroup(name: "shared", target: .category("job"), settings: settings))
            let acknowledged = Shared((count: 0, events: Set<UUID>(), byConsumer: [Int](repeating: 0, count: 8)))
            let holding = Shared(0)
            let deadline = ContinuousClock.now + .seconds(240)
            try await withThrowingTaskGroup { group in
                for consumer in 0..<8 {
                    group.addTask {
                        var batches = 0
                        while acknowledged.withLock({ $0.count }) < total, ContinuousClock.now < deadline {
                            let batch = try await store.take(from: "shared", consumer: "c\(consumer)", count: 20)
                            if batch.isEmpty {
                                try await Task.sleep(for: .milliseconds(20))
                                continue
                            }
                            batches += 1
                            if batches == 1 {
                                holding.withLock { $0 += 1 }
                                while holding.withLock({ $0 }) < 8, ContinuousClock.now < deadline {
                                    try await Task.sleep(for: .milliseconds(10))
                                }
                                // Two consumers crash while they hold their first batch.
                                if consumer >= 6 { return }
                            }
                            let counted = try await store.acknowledge(batch.map(\.id), in: "shared", consumer: "c\(consumer)")
                            acknowledged.withLock { state in
                                state.count += counted
                                state.events.formUnion(batch.map(\.event.uuid))
                                state.byConsumer[consumer] += counted
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let outcome = acknowledged.withLock { $0 }
            #expect(outcome.count == total, "acknowledgements counted")
            #expect(outcome.events.count == total, "every event was handed out and acknowledged")
            #expect(outcome.byConsumer.filter { $0 > 0 }.count >= 6, "the work was shared: \(outcome.byConsumer)")
            let info = try await store.consumerGroup(named: "shared")
            #expect(info.acknowledged == total)
            #expect(info.inFlight == 0 && info.parked == 0 && info.lagEvents == 0)
            #expect(info.retries >= 40, "the crashed consumers' two batches were handed out again")
            // The checkpoint passed every event: a group made there has nothing to hand out.
            try await store.createConsumerGroup(ConsumerGroup(name: "after-shared", target: .category("job")), from: .after(info.position))
            #expect(try await store.take(from: "after-shared", consumer: "c", count: 10).isEmpty)
        },
        ConformanceCase("consumer groups", "pinnedGroupsHandAStreamToOneConsumerAtATimeInOrder") { inner in
            let store = try inner.grouping()
            for stream in 0..<6 { try await put(jobs(15, stream: stream), to: try StreamName("job-\(stream)"), in: store) }
            var settings = ConsumerGroupSettings(maxInFlightPerConsumer: 4, strategy: .pinnedByStream)
            settings.messageTimeout = .seconds(30)
            try await store.createConsumerGroup(ConsumerGroup(name: "pinned", target: .category("job"), settings: settings))
            // Who holds each stream now, and the last position of each stream acknowledged.
            let state = Shared((holders: [StreamName: Int](), held: [StreamName: Int](), last: [StreamName: Int](), violations: [String]()))
            try await withThrowingTaskGroup { group in
                let deadline = ContinuousClock.now + .seconds(120)
                for consumer in 0..<4 {
                    group.addTask {
                        // Bounded: a lost event ends the loop and fails the checks below instead of hanging.
                        while state.withLock({ $0.last.values.reduce(0, +) }) < 6 * 15, ContinuousClock.now < deadline {
                            let batch = try await store.take(from: "pinned", consumer: "p\(consumer)", count: 3)
                            if batch.isEmpty {
                                try await Task.sleep(for: .milliseconds(5))
                                continue
                            }
                            state.withLock { state in
                                for delivery in batch {
                                    let stream = delivery.event.streamName
                                    if let holder = state.holders[stream], holder != consumer {
                                        state.violations.append("\(stream) handed to p\(consumer) while p\(holder) holds it")
                                    }
                                    state.holders[stream] = consumer
                                    state.held[stream, default: 0] += 1
                                }
                            }
                            try await Task.sleep(for: .milliseconds(2))
                            // Release the stream before the acknowledgement: once it counts, another may take it.
                            state.withLock { state in
                                for delivery in batch {
                                    let stream = delivery.event.streamName
                                    let expected = (state.last[stream] ?? 0) + 1
                                    if delivery.event.position != expected {
                                        state.violations.append("\(stream) position \(delivery.event.position) after \(expected - 1)")
                                    }
                                    state.last[stream] = delivery.event.position
                                    state.held[stream, default: 1] -= 1
                                    if state.held[stream] == 0 { state.holders[stream] = nil }
                                }
                            }
                            try await store.acknowledge(batch.map(\.id), in: "pinned", consumer: "p\(consumer)")
                        }
                    }
                }
                try await group.waitForAll()
            }
            let outcome = state.withLock { $0 }
            #expect(outcome.violations.isEmpty, "\(outcome.violations.prefix(5))")
            #expect(outcome.last.count == 6 && outcome.last.values.allSatisfy { $0 == 15 })
        },
        ConformanceCase("consumer groups", "aPoisonEventIsParkedAfterItsRetriesAndCanBeReplayed") { inner in
            let store = try inner.grouping()
            _ = try await store.append(jobs(5), to: "job-1", expectedVersion: .noStream)
            try await store.createConsumerGroup(
                ConsumerGroup(name: "poison", target: .stream("job-1"), settings: ConsumerGroupSettings(maxRetries: 2)))
            var attempts: [Int] = []
            for round in 0..<10 {
                let batch = round == 0
                    ? try await takeSome(store, from: "poison", consumer: "c", count: 10)
                    : try await store.take(from: "poison", consumer: "c", count: 10)
                guard !batch.isEmpty else { break }
                let poison = batch.filter { $0.event.position == 3 }
                attempts += poison.map(\.attempt)
                try await store.reject(poison.map(\.id), in: "poison", action: .retry, reason: "cannot handle job 3")
                try await store.acknowledge(batch.filter { $0.event.position != 3 }.map(\.id), in: "poison")
            }
            #expect(attempts == [1, 2, 3], "handed out once and retried twice")
            let parked = try await store.parkedEvents(in: "poison")
            #expect(parked.map(\.event.position) == [3])
            #expect(parked.first?.reason == "cannot handle job 3")
            #expect(parked.first?.deliveries == 3)
            var info = try await store.consumerGroup(named: "poison")
            #expect(info.parked == 1 && info.acknowledged == 4 && info.retries == 2)
            #expect(info.lagEvents == 0, "a parked event does not hold the checkpoint back")

            #expect(try await store.replayParkedEvents(in: "poison") == 1)
            let again = try await store.take(from: "poison", consumer: "c", count: 10)
            #expect(again.map(\.event.position) == [3])
            #expect(again.map(\.attempt) == [1])
            try await store.acknowledge(again.map(\.id), in: "poison")
            info = try await store.consumerGroup(named: "poison")
            #expect(info.parked == 0 && info.acknowledged == 5)
            #expect(try await store.parkedEvents(in: "poison").isEmpty)

            // A consumer parks or skips at once.
            try await store.append(jobs(2), to: "job-1", expectedVersion: .exact(5))
            let two = try await takeSome(store, from: "poison", consumer: "c", count: 10)
            #expect(two.map(\.event.position) == [6, 7])
            try await store.reject([two[0].id], in: "poison", action: .park)
            try await store.reject([two[1].id], in: "poison", action: .skip)
            info = try await store.consumerGroup(named: "poison")
            #expect(info.parked == 1 && info.skipped == 1 && info.inFlight == 0)
            #expect(try await store.parkedEvents(in: "poison").map(\.event.position) == [6])
        },
        ConformanceCase("consumer groups", "theCheckpointNeverPassesAnUnacknowledgedEvent") { inner in
            let store = try inner.grouping()
            _ = try await store.create("job-1", events: jobs(5))
            try await store.createConsumerGroup(ConsumerGroup(name: "slow", target: .stream("job-1")))
            let batch = try await takeSome(store, from: "slow", consumer: "c", count: 10)
            #expect(batch.count == 5)
            try await store.acknowledge(batch.dropFirst().map(\.id), in: "slow")
            let held = try await store.consumerGroup(named: "slow")
            #expect(held.inFlight == 1 && held.lagEvents == 5, "a slow first event holds the checkpoint back")
            try await store.acknowledge([batch[0].id], in: "slow")
            let moved = try await store.consumerGroup(named: "slow")
            #expect(moved.lagEvents == 0)
            // A group made again at its checkpoint starts after it: nothing acknowledged comes back.
            try await store.createConsumerGroup(ConsumerGroup(name: "resumed", target: .stream("job-1")), from: .after(held.position))
            #expect(try await takeSome(store, from: "resumed", consumer: "c", count: 10).map(\.event.position) == [1, 2, 3, 4, 5])
        },
        ConformanceCase("consumer groups", "aLateAcknowledgementOfADeliveryHandedOutAgainIsIgnored") { inner in
            let store = try inner.grouping()
            try await store.create("job-1", events: jobs(1))
            try await store.createConsumerGroup(
                ConsumerGroup(name: "late", target: .stream("job-1"), settings: ConsumerGroupSettings(messageTimeout: .seconds(4))))
            // Before a's take: its deadline is at least 4 s after this (the take reads the clock later, and a
            // busy machine may finish it much later still).
            let beforeTake = ContinuousClock.now
            let first = try await takeSome(store, from: "late", consumer: "a", count: 1)
            #expect(first.map(\.attempt) == [1])
            var second = try await store.take(from: "late", consumer: "b", count: 1)
            // (On a machine so busy that the timeout passed already, b has it at once.)
            if ContinuousClock.now - beforeTake < .seconds(3) { #expect(second.isEmpty, "in flight with a") }
            try await eventually("the delivery times out and goes to b") {
                if second.isEmpty { second = try await store.take(from: "late", consumer: "b", count: 1) }
                return !second.isEmpty
            }
            #expect(second.map(\.event.uuid) == first.map(\.event.uuid))
            #expect(second.map(\.attempt) == [2])
            #expect(try await store.acknowledge(first.map(\.id), in: "late", consumer: "a") == 0, "a's late acknowledgement is ignored")
            #expect(try await store.acknowledge(second.map(\.id), in: "late", consumer: "b") == 1)
            #expect(try await store.acknowledge(second.map(\.id), in: "late", consumer: "b") == 0, "acknowledged once")
            let info = try await store.consumerGroup(named: "late")
            #expect(info.acknowledged == 1 && info.retries == 1 && info.inFlight == 0)
        },
        ConformanceCase("consumer groups", "aMatcherChoosesTheGroupsEvents") { inner in
            let store = try inner.grouping()
            try await store.create("job-1", events: jobs(6, stream: 1) + jobs(3, stream: 2))
            let matcher = try MetadataMatcher().metadata("stream", .equals, 2)
            try await store.createConsumerGroup(ConsumerGroup(name: "twos", target: .category("job"), matcher: matcher))
            let batch = try await takeSome(store, from: "twos", consumer: "c", count: 20)
            #expect(batch.map(\.event.position) == [7, 8, 9])
            #expect(try await store.consumerGroup(named: "twos").group.matcher == matcher, "the matcher is kept")
        },
        ConformanceCase("consumer groups", "anEventPurgedFromTheWindowIsSkippedNotReplacedByALaterEventAtItsPlace") { inner in
            // Events in the window whose stream is purged and written again: the new events take the old ones'
            // stream positions, but they are new events. Each is handed out once, as itself; the old ones are
            // settled as skipped, never delivered as the new events.
            let store = try inner.grouping()
            try await store.create("job-1", events: jobs(3))
            try await store.createConsumerGroup(ConsumerGroup(name: "purged", target: .category("job")))
            #expect(try await takeSome(store, from: "purged", consumer: "a", count: 10).count == 3)
            try await store.delete("job-1", mode: .purge)
            let again = jobs(3, stream: 1)
            try await store.create("job-1", events: again)
            try await store.leave("purged", consumer: "a")
            var delivered: [ConsumerGroupDelivery] = []
            try await eventually("the new events are handed out") {
                let batch = try await store.take(from: "purged", consumer: "b", count: 10)
                try await store.acknowledge(batch.map(\.id), in: "purged")
                delivered += batch
                return delivered.count >= 3
            }
            #expect(delivered.map(\.event.uuid).sorted() == again.map(\.uuid).sorted(), "each new event once, none for an old one")
            #expect(try await store.take(from: "purged", consumer: "b", count: 10).isEmpty)
            let info = try await store.consumerGroup(named: "purged")
            #expect(info.skipped == 3 && info.acknowledged == 3 && info.inFlight == 0, "\(info)")
        },
        ConformanceCase("consumer groups", "consumersFollowAGroupAsASequenceAndLeaveWhenCancelled") { inner in
            let store = try inner.grouping()
            // A timeout longer than the wait below: a delivery handed out and lost would not come again within
            // it, so it fails the case instead of passing as a retry.
            let settings = ConsumerGroupSettings(messageTimeout: .seconds(300))
            try await store.createConsumerGroup(ConsumerGroup(name: "live", target: .category("job"), settings: settings))
            let received = Shared<[String: [Int]]>([:])
            let failures = Shared<[String]>([])
            let consumers = (0..<2).map { index in
                Task {
                    do {
                        let deliveries = try store.consume("live", as: "c\(index)", batchSize: 2, pollInterval: .milliseconds(50))
                        for try await delivery in deliveries {
                            received.withLock { $0["c\(index)", default: []].append(delivery.event.position) }
                            try await deliveries.acknowledge(delivery)
                        }
                    } catch {
                        failures.withLock { $0.append("c\(index): \(error)") }
                    }
                }
            }
            for _ in 1...10 { try await put(jobs(1), to: "job-1", in: store) }
            // Two minutes: the case once ran out of 30 s at the start of a full CI run, when every suite's cases
            // start at once on two cores (two consumers had acknowledged 8 events).
            try await eventually("every event is acknowledged", within: .seconds(120)) {
                try await store.consumerGroup(named: "live").acknowledged == 10
            }
            #expect(try await store.consumerGroup(named: "live").retries == 0, "no delivery was handed out twice")
            #expect(failures.withLock { $0 }.isEmpty, "a consumer failed: \(failures.withLock { $0 })")
            if try await store.consumerGroup(named: "live").acknowledged < 10 {
                Issue.record("not every event was acknowledged: \(try await store.consumerGroup(named: "live"))")
            }
            let positions = received.withLock { $0.values.flatMap { $0 } }.sorted()
            #expect(positions == Array(1...10))
            // A consumer is a member once it has asked for deliveries: on a busy machine one may ask only after the
            // other has handled every event, so the membership is waited for, not assumed.
            try await eventually("both consumers are members") {
                Set(try await store.consumerGroup(named: "live").consumers) == ["c0", "c1"]
            }
            consumers[0].cancel()
            _ = await consumers[0].result
            #expect(try await store.consumerGroup(named: "live").consumers == ["c1"], "a cancelled consumer leaves")
            consumers[1].cancel()
            _ = await consumers[1].result
        },
    ]
}
