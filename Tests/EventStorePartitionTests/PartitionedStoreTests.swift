@_spi(Backend) import EventStore
import EventStorePostgres
import EventStoreTestSupport
import Foundation
import Logging
import Synchronization
import Testing

@Suite("Partition placement", .watchdog())
struct PartitionPlacementTests {
    /// The bucket function is part of what members store: a change would route streams away from their
    /// events. These values were computed once from its definition (FNV-1a 64, SplitMix64's finaliser).
    @Test func theBucketOfAKeyNeverChanges() {
        for (key, bucket) in Self.golden { #expect(PartitionKey.bucket(of: key, count: 1024) == bucket, "\(key)") }
    }

    /// Computed by an implementation of its own (Python), to catch a change of the Swift one.
    static let golden: [String: Int] = [
        "": 155, "order-7": 684, "order-8": 479, "user-1": 856, "acme": 1007, "é": 414, "été-1": 1, "tenant/order-123456": 653,
    ]

    @Test func bucketsSpreadKeysEvenly() {
        var counts = [Int](repeating: 0, count: 1024)
        for n in 0..<102_400 { counts[PartitionKey.bucket(of: "order-\(n)", count: 1024)] += 1 }
        // 100 keys a bucket on average; a uniform hash stays within ±45 (4.5 standard deviations).
        #expect(counts.min()! > 55 && counts.max()! < 145, "from \(counts.min()!) to \(counts.max()!) keys a bucket")
    }

    @Test func keysCoLocateWhatMustLiveTogether() throws {
        #expect(PartitionKey.stream.key(of: "order-7") == "order-7")
        #expect(PartitionKey.category.key(of: "order-7") == "order")
        #expect(PartitionKey.aggregateID.key(of: "order-7") == "7")
        #expect(PartitionKey.aggregateID.key(of: "payment-7") == "7")
        #expect(PartitionKey.prefix(separator: "/").key(of: "acme/order-7") == "acme")
        #expect(try PartitionKey(named: "prefix:/").key(of: "acme/user-1") == "acme")
        #expect(try PartitionKey(named: "category").name == "category")
        for bad in ["", "tenant", "prefix:", "prefix:ab"] {
            #expect(throws: EventStoreError.self) { try PartitionKey(named: bad) }
        }
    }

    @Test func aFirstMapGivesMembersEqualRangesAndReadsBackAsWritten() throws {
        let map = try PlacementMap.initial(members: ["a", "b", "c"], bucketCount: 1024)
        #expect(map.version == 1)
        #expect(map.buckets(of: "a") == Array(0..<342))
        #expect(map.buckets(of: "b") == Array(342..<683))
        #expect(map.buckets(of: "c") == Array(683..<1024))
        #expect(try PlacementMap(jsonText: map.jsonText) == map)
        let moved = try map.moving(5, to: "c")
        #expect(moved.version == 2 && moved.owners[5] == 2 && moved.buckets(of: "a").count == 341)
        #expect(throws: EventStoreError.self) { try map.moving(1024, to: "a") }
        #expect(throws: EventStoreError.self) { try map.moving(0, to: "d") }
        #expect(throws: EventStoreError.self) { try PlacementMap.initial(members: ["a", "a"]) }
        #expect(throws: EventStoreError.self) { try PlacementMap.initial(members: []) }
        #expect(throws: EventStoreError.self) { try PlacementMap(jsonText: #"{"version":1,"members":["a"],"owners":[1]}"#) }
    }
}

@Suite("Composite position", .watchdog())
struct CompositePositionTests {
    @Test func itsTextReadsBackAndItsOrderIsPartial() throws {
        let position = CompositePosition(parts: ["b": GlobalPosition("7:15")!, "a": GlobalPosition("1042")!, "c": .start])
        #expect(position.description == "a=1042,b=7:15")
        #expect(CompositePosition(position.description) == position)
        #expect(CompositePosition("") == .start)
        for bad in ["a", "a=", "=5", "a=1,a=2", "a=x", "a b=1", "a=1;b=2"] { #expect(CompositePosition(bad) == nil, "\(bad)") }
        let later = CompositePosition(parts: ["a": GlobalPosition("1043")!, "b": GlobalPosition("7:15")!])
        let elsewhere = CompositePosition(parts: ["a": GlobalPosition("1000")!, "c": GlobalPosition("3")!])
        #expect(later.isAtOrAfter(position) && !position.isAtOrAfter(later))
        #expect(!elsewhere.isAtOrAfter(position) && !position.isAtOrAfter(elsewhere), "neither is after the other")
        #expect(position.isAtOrAfter(.start))
    }
}

@Suite("Partitioned store", .watchdog())
struct PartitionedStoreTests {
    /// How many events each of the eight writers appends in the merged-reader test: 200 unless
    /// `EVENTSTORE_PARTITION_EVENTS_PER_WRITER` says otherwise.
    static var eventsPerWriter: Int {
        ProcessInfo.processInfo.environment["EVENTSTORE_PARTITION_EVENTS_PER_WRITER"].flatMap(Int.init) ?? 200
    }

    /// Eight writers append to forty streams spread over the members while a reader follows the whole
    /// store: it gets every event once, each stream's in order; a reader that resumes after any event it
    /// got gets exactly the events after it.
    @Test(arguments: MemberKind.allCases)
    func eightWritersAndAMergedTailingReaderSeeEveryEventOnce(_ kind: MemberKind) async throws {
        if !kind.shouldRun { return }
        try await PartitionTests.withStore(kind) { store in
            let total = 8 * Self.eventsPerWriter
            // Bounded whether or not events keep coming: a reader that lost one would wait for ever.
            let reader = Task {
                try await within(.seconds(180), "the merged reader gets all \(total) events") {
                    var got: [PartitionedEvent] = []
                    for try await event in store.follow(pageSize: 100) {
                        got.append(event)
                        if got.count >= total { break }
                    }
                    return got
                }
            }
            let written = try await withThrowingTaskGroup(of: [UUID].self) { group in
                for writer in 0..<8 {
                    group.addTask {
                        var uuids: [UUID] = []
                        for n in 0..<Self.eventsPerWriter {
                            let stream = try StreamName("load-\(writer * 5 + n % 5)")
                            let event = EventMessage(messageName: "Wrote", payload: ["n": JSONValue(integerLiteral: n)])
                            if n < 5 {
                                try await store.create(stream, events: [event])
                            } else {
                                try await store.append([event], to: stream, expectedVersion: .any)
                            }
                            uuids.append(event.uuid)
                        }
                        return uuids
                    }
                }
                var all: [UUID] = []
                for try await uuids in group { all += uuids }
                return all
            }
            let got = try await reader.value
            #expect(got.count == total, "events read")
            #expect(Set(got.map(\.event.uuid)) == Set(written), "every event, once")
            var last: [StreamName: Int] = [:]
            for item in got {
                let stream = item.event.streamName
                #expect(item.event.position == (last[stream] ?? 0) + 1, "\(stream) in order")
                last[stream] = item.event.position
                #expect(item.member == store.location(of: stream).member)
            }
            #expect(Set(got.map(\.member)) == ["a", "b", "c"], "every member was written to")

            // Resumed after any event, a reader gets exactly the rest.
            for cut in [0, total / 3, total - 1] {
                let page = try await store.readAll(after: got[cut].position, limit: total)
                #expect(Set(page.events.map(\.event.uuid)) == Set(got[(cut + 1)...].map(\.event.uuid)), "after event \(cut)")
                #expect(page.events.count == total - cut - 1)
            }
            await #expect(throws: EventStoreError.self) { try await store.readAll(after: CompositePosition("d=5")!, limit: 10) }
            await #expect(throws: EventStoreError.self) { try await store.readAll(after: .start, limit: 0) }
        }
    }

    @Test(arguments: MemberKind.allCases)
    func eachStreamLivesOnItsMemberAndListingsMergeInByteOrder(_ kind: MemberKind) async throws {
        if !kind.shouldRun { return }
        try await PartitionTests.withMembers(kind) { members in
            let store = try await PartitionedEventStore.open(members: members)
            // Names whose byte order is not Swift's string order, and 60 streams over the members.
            var names: [StreamName] = (0..<60).map { try! StreamName("order-\($0)") }
            names += [StreamName("Zebra-1"), StreamName("e\u{301}cole-1"), StreamName("\u{e9}t\u{e9}-1")]
            for name in names { try await store.create(name, events: [EventMessage(messageName: "Made")]) }
            for name in names {
                let home = store.location(of: name).member
                for member in members {
                    #expect(try await member.store.hasStream(name) == (member.name == home), "\(name) on \(member.name)")
                }
                #expect(try await store.load(name).collect().count == 1)
            }
            for member in members { #expect(try await member.store.streamNames(limit: 100, offset: 0).count >= 5, "\(member.name) has streams") }

            let sorted = names.map(\.rawValue).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            #expect(try await store.streamNames(limit: 100, offset: 0).map(\.rawValue) == sorted)
            #expect(try await store.streamNames(limit: 7, offset: 20).map(\.rawValue) == Array(sorted[20..<27]))
            #expect(try await store.streamNames(.regex("^order-1"), limit: 100, offset: 0).count == 11)
            #expect(try await store.categoryNames(limit: 10, offset: 0) == ["Zebra", "e\u{301}cole", "order", "\u{e9}t\u{e9}"])
            #expect(try await store.categoryNames(limit: 2, offset: 1) == ["e\u{301}cole", "order"])
        }
    }

    @Test(arguments: MemberKind.allCases)
    func aWriteRoutedByAnOldMapNeverLandsOnAMemberThatGaveItsBucketAway(_ kind: MemberKind) async throws {
        if !kind.shouldRun { return }
        try await PartitionTests.withMembers(kind) { members in
            let stale = try await PartitionedEventStore.open(members: members)
            let other = try await PartitionedEventStore.open(members: members)
            let stream = try PartitionTests.stream(on: "a", of: stale)
            let bucket = stale.location(of: stream).bucket
            // Another process moves the stream's bucket to c: every member stores map 2.
            let moved = try stale.placement.moving(bucket, to: "c")
            for member in members { #expect(try await member.store.storePlacement(moved, as: member.name, replacing: 1)) }
            #expect(stale.placement.version == 1, "this store still routes by map 1")
            // Member a refuses the write (its bucket's row says foreign); the store reloads and writes to c.
            try await stale.append([EventMessage(messageName: "Moved")], to: stream, expectedVersion: .noStream)
            #expect(stale.placement.version == 2)
            #expect(try await members[0].store.hasStream(stream) == false, "nothing landed on a")
            #expect(try await members[2].store.load(stream).collect().map(\.messageName) == ["Moved"])
            #expect(try await other.reloadPlacement().version == 2)
            #expect(try await other.load(stream).collect().count == 1)

            // A member that stores an old map (it was away when the map changed) is brought up to date.
            #expect(try await members[1].store.storePlacement(try PlacementMap.initial(members: PartitionTests.memberNames), as: "b", replacing: 2))
            let lagging = try PartitionTests.stream(on: "b", of: stale)
            try await stale.create(lagging, events: [EventMessage(messageName: "Late")])
            #expect(try await members[1].store.storedPlacement()?.version == 2, "map 2 was stored in b again")
            #expect(try await members[1].store.load(lagging).collect().count == 1)
        }
    }

    @Test(arguments: MemberKind.allCases)
    func aMapChangeWaitsForTheWritesOfTheBucketInFlight(_ kind: MemberKind) async throws {
        if !kind.shouldRun { return }
        try await PartitionTests.withMembers(kind) { members in
            let store = try await PartitionedEventStore.open(members: members)
            let stream = try PartitionTests.stream(on: "a", of: store)
            let moved = try store.placement.moving(store.location(of: stream).bucket, to: "b")
            let events = EventLog()
            try await withThrowingTaskGroup { group in
                group.addTask {
                    try await store.transaction { transaction in
                        try await transaction.append([EventMessage(messageName: "InFlight")], to: stream, expectedVersion: .noStream)
                        events.append("written")
                        try await Task.sleep(for: .milliseconds(400))
                        events.append("committing")
                    }
                }
                group.addTask {
                    try await within(.seconds(30), "the transaction writes") {
                        while events.all.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
                    }
                    #expect(try await members[0].store.storePlacement(moved, as: "a", replacing: 1))
                    events.append("map stored")
                }
                try await group.waitForAll()
            }
            #expect(events.all == ["written", "committing", "map stored"], "the map waited for the write's commit")
            #expect(try await members[0].store.load(stream).collect().map(\.messageName) == ["InFlight"])
        }
    }

    @Test(arguments: MemberKind.allCases)
    func aTransactionStaysOnOneMember(_ kind: MemberKind) async throws {
        if !kind.shouldRun { return }
        try await PartitionTests.withStore(kind) { store in
            let onA = try PartitionTests.stream(on: "a", of: store)
            let alsoOnA = try PartitionTests.stream(on: "a", of: store, index: 1)
            let onB = try PartitionTests.stream(on: "b", of: store)
            try await store.transaction { transaction in
                try await transaction.append([EventMessage(messageName: "One")], to: onA, expectedVersion: .noStream)
                try await transaction.append([EventMessage(messageName: "Two")], to: alsoOnA, expectedVersion: .noStream)
                #expect(try await transaction.streamNames(limit: 10, offset: 0).map(\.rawValue).sorted() == [onA.rawValue, alsoOnA.rawValue].sorted())
            }
            #expect(try await store.load(onA).collect().count == 1)
            #expect(try await store.load(alsoOnA).collect().count == 1)

            let spanning = try PartitionTests.stream(on: "a", of: store, index: 2)
            await #expect(throws: EventStoreError.self) {
                try await store.transaction { transaction in
                    try await transaction.append([EventMessage(messageName: "First")], to: spanning, expectedVersion: .noStream)
                    do {
                        try await transaction.append([EventMessage(messageName: "Elsewhere")], to: onB, expectedVersion: .noStream)
                    } catch let error as EventStoreError {
                        #expect(error.code == .invalidArgument, "\(error)")
                        throw error
                    }
                }
            }
            #expect(try await store.hasStream(spanning) == false, "the first member's write was rolled back")
            #expect(try await store.hasStream(onB) == false)
            try await store.transaction { transaction in
                await #expect(throws: EventStoreError.self, "the outer store refuses a write inside its transaction") {
                    try await store.append([EventMessage(messageName: "Out")], to: onA)
                }
                let found = try await transaction.hasStream(onA)
                #expect(found)
            }
        }
    }
}

@Suite("Partitioned store with a member down", .enabled(if: PartitionTests.postgresShouldRun), .watchdog())
struct PartitionMemberDownTests {
    /// Member c is a server of this test's own, stopped: writes and reads of its streams fail with `backend`
    /// within the connect timeout (2 s here), listings, projections and durable subscriptions (which read every
    /// member) fail the same way, and the other members' streams keep working. A consumer group hands out
    /// what its window holds of the other members' streams, and keeps c's events for later, not counted as
    /// tries. Once c is back, its streams are written again, and the group hands out c's events.
    @Test func aMemberDownFailsItsStreamsClearlyAndTheOthersKeepWorking() async throws {
        let server = try await PrivatePostgresServer.start("partition-member-c")
        defer { Task { await server.remove() } }
        let prefix = TestDatabaseServer.uniquePrefix()
        let urls = [try PartitionTests.servers[0].requiredURL(), try PartitionTests.servers[1].requiredURL(), server.url]
        // A connection to a stopped server is refused at once, and the pool tries again until its connect timeout.
        try await PartitionTests.withPostgres(urls, prefix: prefix, readBatchSize: 100, connectTimeouts: [server.url: .seconds(2)], opened: []) { members in
            let store = try await PartitionedEventStore.open(members: members)
            let onC = try PartitionTests.stream(on: "c", of: store)
            let onA = try PartitionTests.stream(on: "a", of: store)
            let onB = try PartitionTests.stream(on: "b", of: store)
            try await store.create(onC, events: [EventMessage(messageName: "Before")])
            let early = try PartitionTests.stream(on: "a", of: store, index: 1)
            try await store.create(early, events: [EventMessage(messageName: "Early")])
            // A group (its row on a) whose window holds an event of c and one of a, handed back by its consumer.
            let group = (0..<1_000).lazy.map { "group\($0)" }.first { store.home(of: $0).name == "a" }!
            try await store.createConsumerGroup(ConsumerGroup(name: group, target: .all))
            // (Each event is readable in the merged order once its member's readable bound passes it, and a
            // loaded machine may take longer than c's short connect timeout: takes are tried again.)
            var first: [ConsumerGroupDelivery] = []
            try await eventually("x takes c's and a's events") {
                first += (try? await store.take(from: group, consumer: "x", count: 2)) ?? []
                return first.count >= 2
            }
            #expect(first.map(\.event.messageName).sorted() == ["Before", "Early"])
            try await store.leave(group, consumer: "x")

            try await server.stop()
            let started = ContinuousClock.now
            for call in [
                { try await store.append([EventMessage(messageName: "Lost")], to: onC, expectedVersion: .any) },
                { _ = try await store.load(onC).collect() },
                { _ = try await store.streamNames(limit: 10, offset: 0) },
                // A projection needs every member: a query (its head), and a live projection whose row is on a
                // member that answers (its pages).
                {
                    _ = try await ProjectionManager(store: store).createQuery().initialState(0).fromAll()
                        .whenAny { n, _, _ in n + 1 }.run()
                },
                {
                    let name = (0..<1_000).lazy.map { "live\($0)" }.first { store.home(of: $0).name == "a" }!
                    try await ProjectionManager(store: store).createProjection(name).initialState(0).fromAll()
                        .whenAny { n, _, _ in n + 1 }.run(keepRunning: true)
                },
                { _ = try await store.checkpoint(named: "audit") },
            ] as [@Sendable () async throws -> Void] {
                do {
                    try await call()
                    Issue.record("a call that needs member c succeeded while c is down")
                } catch let error as EventStoreError {
                    #expect(error.code == .backend, "\(error)")
                }
            }
            #expect(ContinuousClock.now - started < .seconds(15), "the failures came within the connect timeout of each call")
            // The group hands out a's event; c's goes back to the window, not counted as a delivery or a retry.
            let handed = try await store.take(from: group, consumer: "y", count: 10)
            #expect(handed.map(\.event.messageName) == ["Early"])
            try await store.acknowledge(handed.map(\.id), in: group)
            let row = try #require(try await store.home(of: group).store.consumerGroupRecord(named: group))
            #expect(row.retried == 0 && row.entries.filter { $0.stream == onC.rawValue }.map(\.deliveries) == [0], "\(row.entries)")
            do {
                _ = try await store.take(from: group, consumer: "y", count: 10)
                Issue.record("a take with only c's event to hand out succeeded while c is down")
            } catch let error as EventStoreError {
                #expect(error.code == .backend, "\(error)")
            }
            try await store.create(onA, events: [EventMessage(messageName: "StillWorking")])
            try await store.create(onB, events: [EventMessage(messageName: "StillWorking")])
            #expect(try await store.load(onA).collect().count == 1)
            // A merged reader goes on with the members that answer; c's part of its position stays.
            let page = try await within(.seconds(60), "a merged read while c is down") {
                var page = try await store.readAll(after: .start, limit: 100)
                while page.events.count < 3 { page = try await store.readAll(after: .start, limit: 100) }
                return page
            }
            #expect(page.events.map(\.event.messageName) == ["Early", "StillWorking", "StillWorking"])
            #expect(Set(page.events.map(\.member)) == ["a", "b"])
            #expect(page.unavailable.keys.sorted() == ["c"] && page.position["c"] == .start)

            try await server.resume()
            try await eventually("member c takes writes again") {
                (try? await store.append([EventMessage(messageName: "After")], to: onC, expectedVersion: .exact(1))) != nil
            }
            #expect(try await store.load(onC).collect().map(\.messageName) == ["Before", "After"])
            // c's events, from before it went down and after, come once it answers.
            let rest = try await within(.seconds(60), "c's events in the merged order") {
                var rest: [PartitionedEvent] = []
                var at = page.position
                while rest.count < 2 {
                    let next = try await store.readAll(after: at, limit: 100)
                    rest += next.events
                    at = next.position
                }
                return rest
            }
            #expect(rest.map(\.event.messageName) == ["Before", "After"] && rest.allSatisfy { $0.member == "c" })
            // The group hands out c's event as a first try, and the rest.
            var taken: [ConsumerGroupDelivery] = []
            try await eventually("the group hands out c's event and the rest") {
                taken += (try? await store.take(from: group, consumer: "y", count: 10)) ?? []
                return taken.count >= 4
            }
            #expect(taken.map(\.event.messageName).sorted() == ["After", "Before", "StillWorking", "StillWorking"])
            #expect(taken.first { $0.event.messageName == "Before" }?.attempt == 1)
        }
    }
}

/// Tries `check` until it holds, at most 30 s.
func eventually(_ what: String, _ check: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(30)
    while ContinuousClock.now < deadline {
        if try await check() { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    Issue.record("\(what): not within 30 s")
}

/// What happened, in order, across a test's tasks.
final class EventLog: Sendable {
    private let entries = Mutex<[String]>([])
    func append(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.withLock { $0 } }
}

