import EventStore
import Foundation
import Synchronization
import Testing

/// Takes `count` events from a subscription, failing after `timeout`.
func take(_ count: Int, from subscription: EventSubscription, timeout: Duration = .seconds(30)) async throws -> [RecordedEvent] {
    try await withThrowingTaskGroup(of: [RecordedEvent]?.self) { group in
        group.addTask {
            var events: [RecordedEvent] = []
            for try await event in subscription {
                events.append(event)
                if events.count == count { break }
            }
            return events
        }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let events = first else {
            Issue.record("the subscription did not deliver \(count) events within \(timeout)")
            return []
        }
        return events
    }
}

extension EventStore {
    /// The store as one that can be followed, or a recorded failure.
    func followable(sourceLocation: SourceLocation = #_sourceLocation) throws -> any GlobalOrderEventStore {
        try #require(self as? any GlobalOrderEventStore, "the store cannot be read in global order", sourceLocation: sourceLocation)
    }
}

struct HandlerStop: Error {}

extension EventStoreConformance {
    static let subscriptionCases: [ConformanceCase] = [
        ConformanceCase("subscriptions", "aReadAfterAPositionTheStoreNeverHandedOutIsRefused") { inner in
            // A reader that kept a position across a restore (or took it from another store) read empty pages for
            // ever, then skipped every new event up to its position. It gets `invalidArgument` on every backend;
            // a position handed out stays readable after its events are deleted.
            let store = try inner.followable()
            // The position from the append itself: on PostgreSQL a read may not show it yet while another
            // transaction on the server is open (readers stop below the oldest one).
            let last = try #require(try await store.create("ahead-1", events: userEvents(1...2)).lastGlobalPosition)
            try await store.delete("ahead-1")
            #expect(try await store.readAll(after: last, of: .all, limit: 10).isEmpty)
            let ahead = GlobalPosition(commit: last.commit == 0 ? 0 : last.commit + 1_000_000, sequence: last.sequence + 1_000_000)
            await expectError(.invalidArgument) { try await store.readAll(after: ahead, of: .all, limit: 10) }
            await expectError(.invalidArgument) { try await store.readAll(after: ahead, of: .stream("ahead-1"), limit: 10) }
            // No store hands out a negative part: PostgreSQL read commit -1 as its highest transaction id and
            // found nothing after it, where the other backends read every event.
            for negative in [GlobalPosition(sequence: -1), GlobalPosition(commit: -1, sequence: 5), GlobalPosition(commit: 3, sequence: -2)] {
                await expectError(.invalidArgument) { try await store.readAll(after: negative, of: .all, limit: 10) }
                await expectError(.invalidArgument) { try await store.readPage(after: negative, of: .stream("ahead-1"), limit: 10) }
                await expectError(.invalidArgument) { try await store.eventCount(after: negative, of: .all, limit: 10) }
            }
        },
        ConformanceCase("subscriptions", "aShortPageLooksAsFarAsTheStoreCanReadAndNeverPastAnOpenTransaction") { inner in
            // A reader of a quiet target goes on from how far its last read looked: it does not read again, at
            // each poll, every event other streams stored since its own last one (review B21). How far a read
            // looked never passes an event that is still to commit.
            let store = try inner.followable()
            let quiet = try #require(try await store.create("quiet-1", events: userEvents(1...1)).lastGlobalPosition)
            let busy = try #require(try await store.create("busy-1", events: userEvents(1...5)).lastGlobalPosition)
            // On PostgreSQL readers stop below the oldest open transaction of the server: wait until it ended.
            var page = try await store.readPage(after: quiet, of: .stream("quiet-1"), limit: 10)
            try await eventually("a read looks past the other stream's events") {
                page = try await store.readPage(after: quiet, of: .stream("quiet-1"), limit: 10)
                return page.readThrough >= busy
            }
            #expect(page.events.isEmpty)
            // A full page looks no further than its last event.
            let full = try await store.readPage(after: .start, of: .stream("busy-1"), limit: 2)
            #expect(full.events.map(\.position) == [1, 2])
            #expect(full.readThrough == full.events.last?.globalPosition)
            // An append to the quiet stream still open: no read looks past it, so a reader going on from
            // where its reads looked gets it once it commits.
            let transaction = await HeldTransaction(on: store) { tx in try await tx.append([userEvent(2)], to: "quiet-1") }
            // Another append beside it: committed at once on PostgreSQL, after the transaction where writers
            // take turns.
            let beside = Task { try await store.append(userEvents(6...6), to: "busy-1") }
            var readThrough = page.readThrough
            for _ in 0..<3 {
                let read = try await store.readPage(after: readThrough, of: .stream("quiet-1"), limit: 10)
                #expect(read.events.isEmpty)
                #expect(read.readThrough >= readThrough)
                readThrough = read.readThrough
            }
            try await transaction.commit()
            _ = try await beside.value
            var delivered: [RecordedEvent] = []
            try await eventually("the committed append is read after where the reads looked") {
                let read = try await store.readPage(after: readThrough, of: .stream("quiet-1"), limit: 10)
                delivered += read.events
                readThrough = read.readThrough
                return !delivered.isEmpty
            }
            #expect(delivered.map(\.position) == [2])
        },
        ConformanceCase("subscriptions", "eventCountCountsTheTargetsEventsAfterAPositionUpToTheLimit") { inner in
            // What /metrics reports as a projection's lag: the events of its own sources, counted without
            // reading them, the same as a read of the same target would return.
            let store = try inner.followable()
            let first = try #require(try await store.create("count-1", events: userEvents(1...3)).lastGlobalPosition)
            try await store.create("count-2", events: userEvents(1...2))
            try await store.create("other-1", events: userEvents(1...4))
            try await store.create("$count-internal", events: userEvents(1...1))
            let targets: [SubscriptionTarget] = [
                .all, .stream("count-1"), .streams(["count-2", "other-1"]), .category("count"), .categories(["count", "other"]),
            ]
            // On PostgreSQL readers stop below the oldest open transaction of the server: wait until all is seen.
            try await eventually("every event is readable") {
                try await store.readAll(after: .start, of: .all, limit: 100).count == 9
            }
            for target in targets {
                for position in [GlobalPosition.start, first] {
                    let read = try await store.readAll(after: position, of: target, limit: 100)
                    for limit in [1, 2, 100] {
                        #expect(
                            try await store.eventCount(after: position, of: target, limit: limit) == min(limit, read.count),
                            "\(target) after \(position), limit \(limit)")
                    }
                }
            }
            #expect(try await store.eventCount(after: .start, of: .stream("count-1"), limit: 100) == 3)
            #expect(try await store.eventCount(after: first, of: .stream("count-1"), limit: 100) == 0)
            try await store.delete("other-1")
            #expect(try await store.eventCount(after: .start, of: .category("other"), limit: 100) == 0)
            await expectError(.invalidArgument) { try await store.eventCount(after: .start, of: .all, limit: 0) }
        },
        ConformanceCase("subscriptions", "catchUpThenFollowLiveAppendsInGlobalOrder") { inner in
            let store = try inner.followable()
            try await store.create("sub-a", events: userEvents(1...3))
            try await store.create("sub-b", events: userEvents(1...2))
            let subscription = try await store.subscribe(to: .all, readBatchSize: 2)
            let writer = Task {
                try await Task.sleep(for: .milliseconds(100))
                try await store.append(userEvents(3...4), to: "sub-b")
                try await store.append([userEvent(4)], to: "sub-a")
            }
            let events = try await take(8, from: subscription)
            try await writer.value
            #expect(events.map { "\($0.streamName)#\($0.position)" } == [
                "sub-a#1", "sub-a#2", "sub-a#3", "sub-b#1", "sub-b#2", "sub-b#3", "sub-b#4", "sub-a#4",
            ])
            #expect(zip(events, events.dropFirst()).allSatisfy { $0.globalPosition < $1.globalPosition })
        },
        ConformanceCase("subscriptions", "targetsSelectAStreamACategoryOrAllButInternalStreams") { inner in
            let store = try inner.followable()
            try await store.create("user-1", events: userEvents(1...2))
            try await store.create("admin-1", events: userEvents(1...1))
            try await store.create("$internal-1", events: userEvents(1...1))
            try await store.create("user-2", events: userEvents(1...1))
            try await store.create("userx", events: userEvents(1...1))
            let marker = "end-1"
            try await store.create(try StreamName(marker), events: userEvents(1...1))
            let all = try await take(6, from: try await store.subscribe(to: .all))
            #expect(all.map(\.streamName.rawValue) == ["user-1", "user-1", "admin-1", "user-2", "userx", marker])
            let category = try await take(3, from: try await store.subscribe(to: .category("user")))
            #expect(category.map(\.streamName.rawValue) == ["user-1", "user-1", "user-2"])
            let stream = try await take(2, from: try await store.subscribe(to: .stream("user-1")))
            #expect(stream.map(\.position) == [1, 2])
            let ownStream = try await take(1, from: try await store.subscribe(to: .stream("$internal-1")))
            #expect(ownStream.map(\.streamName.rawValue) == ["$internal-1"])
        },
        ConformanceCase("subscriptions", "startsAtTheEndAfterAPositionOrAfterAStreamPosition") { inner in
            let store = try inner.followable()
            try await store.create("start-1", events: userEvents(1...4))
            let fromEnd = try await store.subscribe(to: .stream("start-1"), from: .end)
            let stored = try await store.load("start-1").collect()
            let afterSecond = try await take(2, from: try await store.subscribe(to: .stream("start-1"), from: .after(stored[1].globalPosition)))
            #expect(afterSecond.map(\.position) == [3, 4])
            let afterThird = try await take(1, from: try await store.subscribe(to: .stream("start-1"), from: .afterStreamPosition(3)))
            #expect(afterThird.map(\.position) == [4])
            try await store.append([userEvent(5)], to: "start-1")
            #expect(try await take(1, from: fromEnd).map(\.position) == [5])
            await expectError(.invalidArgument) { try await store.subscribe(to: .all, from: .afterStreamPosition(1)) }
            await expectError(.invalidArgument) { try await store.subscribe(to: .stream("start-1"), from: .afterStreamPosition(99)) }
            await expectError(.invalidArgument) { try await store.subscribe(to: .all, readBatchSize: 0) }
        },
        ConformanceCase("subscriptions", "eightWritersAndThreeSubscribersEachGetExactlyTheirEventsInOrder") { inner in
            let store = try inner.followable()
            let writers = 8
            let perWriter = 60
            for writer in 0..<writers {
                try await store.create(try StreamName((writer % 2 == 0 ? "even-" : "odd-") + "\(writer)"))
            }
            let all = try await store.subscribe(to: .all, readBatchSize: 7)
            let even = try await store.subscribe(to: .category("even"), readBatchSize: 5)
            let single = try await store.subscribe(to: .stream("odd-3"), readBatchSize: 3)
            async let allEvents = take(writers * perWriter, from: all, timeout: .seconds(120))
            async let evenEvents = take(writers / 2 * perWriter, from: even, timeout: .seconds(120))
            async let singleEvents = take(perWriter, from: single, timeout: .seconds(120))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        let stream = try StreamName((writer % 2 == 0 ? "even-" : "odd-") + "\(writer)")
                        var written = 0
                        while written < perWriter {
                            let size = written % 3 == 0 ? 1 : min(4, perWriter - written)
                            try await store.append((0..<size).map { _ in EventMessage(messageName: "W") }, to: stream)
                            written += size
                        }
                    }
                }
                try await group.waitForAll()
            }
            let (a, e, s) = try await (allEvents, evenEvents, singleEvents)
            for (events, count, label) in [(a, writers * perWriter, "all"), (e, writers / 2 * perWriter, "even"), (s, perWriter, "odd-3")] {
                #expect(events.count == count, "\(label)")
                #expect(Set(events.map(\.uuid)).count == events.count, "\(label) delivered an event twice")
                #expect(zip(events, events.dropFirst()).allSatisfy { $0.globalPosition < $1.globalPosition }, "\(label)")
            }
            #expect(e.allSatisfy { $0.streamName.category == "even" })
            #expect(s.map(\.position) == Array(1...perWriter))
            for writer in 0..<writers {
                let name = (writer % 2 == 0 ? "even-" : "odd-") + "\(writer)"
                #expect(a.filter { $0.streamName.rawValue == name }.map(\.position) == Array(1...perWriter), "\(name)")
            }
        },
        ConformanceCase("subscriptions", "aSlowConsumerGetsEverythingReadInBoundedPages") { inner in
            let store = try inner.followable()
            try await store.create("slow-1")
            let subscription = try await store.subscribe(to: .stream("slow-1"), readBatchSize: 50)
            var iterator = subscription.makeAsyncIterator()
            try await store.append([userEvent(1)], to: "slow-1")
            #expect(try await iterator.next()?.position == 1)
            // The consumer sleeps while 2,000 more are appended; nothing is dropped.
            for batch in 0..<20 {
                try await store.append((0..<100).map { _ in EventMessage(messageName: "B\(batch)") }, to: "slow-1")
            }
            var positions: [Int] = []
            while positions.count < 2_000, let event = try await iterator.next() { positions.append(event.position) }
            #expect(positions == Array(2...2_001))
        },
        ConformanceCase("subscriptions", "cancellingTheConsumerEndsTheSubscription") { inner in
            let store = try inner.followable()
            try await store.create("cancel-1", events: userEvents(1...2))
            let subscription = try await store.subscribe(to: .stream("cancel-1"))
            let delivered = Recorder()
            let consumer = Task {
                for try await event in subscription { delivered.record("\(event.position)") }
            }
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(30)
            while delivered.all.count < 2, clock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            consumer.cancel()
            try await consumer.value
            #expect(delivered.all == ["1", "2"])
        },
        ConformanceCase("subscriptions", "durableSubscriptionsResumeAfterTheirCheckpoint") { inner in
            let store = try inner.followable()
            try await store.create("durable-1", events: userEvents(1...5))
            let seen = Recorder()
            await #expect(throws: HandlerStop.self) {
                try await store.runSubscription(named: "indexer", to: .stream("durable-1")) { event in
                    if event.position == 4 { throw HandlerStop() }
                    seen.record("first:\(event.position)")
                }
            }
            let checkpoint = try await store.checkpoint(named: "indexer")
            #expect(checkpoint == (try await store.load("durable-1", from: 3, count: 1).collect().first?.globalPosition))
            await #expect(throws: HandlerStop.self) {
                try await store.runSubscription(named: "indexer", to: .stream("durable-1")) { event in
                    seen.record("second:\(event.position)")
                    if event.position == 5 { throw HandlerStop() }
                }
            }
            #expect(seen.all == ["first:1", "first:2", "first:3", "second:4", "second:5"])
            #expect(try await store.checkpoint(named: "other") == nil)
        },
        ConformanceCase("subscriptions", "aCheckpointSavedWhileATransactionRunsIsKept") { inner in
            let store = try inner.followable()
            try await store.create("tx-1", events: userEvents(1...2))
            let transaction = await HeldTransaction(on: store) { tx in try await tx.append([userEvent(3)], to: "tx-1") }
            let saver = Task { try await store.saveCheckpoint(GlobalPosition(sequence: 7), named: "kept") }
            try await Task.sleep(for: .milliseconds(50))
            try await transaction.commit()
            try await saver.value
            #expect(try await store.checkpoint(named: "kept") == GlobalPosition(sequence: 7))
            #expect(try await store.all("tx-1").count == 3)
        },
    ]
}
