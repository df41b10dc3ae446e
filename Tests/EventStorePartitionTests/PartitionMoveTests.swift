@_spi(Backend) import EventStore
import EventStoreTestSupport
import Foundation
import Synchronization
import Testing

/// Issue 25: moving a bucket from one member to another.
@Suite("Moving a bucket", .watchdog())
struct PartitionMoveTests {
    /// What a caller sees of a stream through the store: its events (all but their global positions, which
    /// are the member's), both ways, its metadata, or the error each read fails with.
    struct StreamView: Equatable, CustomStringConvertible {
        var exists: Bool
        var forward: [String]
        var backward: [String]
        var metadata: String

        var description: String { "exists \(exists), \(forward.count) events, metadata \(metadata)" }

        static func of(_ stream: StreamName, in store: some EventStore) async throws -> StreamView {
            func events(_ load: () async throws -> [RecordedEvent]) async throws -> [String] {
                do {
                    return try await load().map {
                        "\($0.position) \($0.uuid) \($0.messageName) \($0.payload.jsonText) \($0.metadata.jsonText) \($0.message.createdAtMicros)"
                    }
                } catch let error as EventStoreError {
                    return ["error \(error.code)"]
                }
            }
            let metadata: String
            do {
                metadata = try await store.streamMetadata(of: stream).jsonText
            } catch let error as EventStoreError {
                metadata = "error \(error.code)"
            }
            return StreamView(
                exists: try await store.hasStream(stream),
                forward: try await events { try await store.load(stream).collect() },
                backward: try await events { try await store.loadReverse(stream).collect() },
                metadata: metadata)
        }
    }

    /// Every event of the merged order after `position`, read until each member's part reaches the head it
    /// had when the read began (on PostgreSQL a member's order is readable only below the oldest transaction
    /// still running on its server, which other tests' transactions hold back for moments).
    static func readToHead(of store: PartitionedEventStore, after position: CompositePosition = .start) async throws -> [PartitionedEvent] {
        var found: [String: GlobalPosition] = [:]
        for member in store.members { found[member.name] = try await member.store.headPosition() }
        let heads = found
        return try await within(.seconds(60), "the merged order read to its heads") {
            var events: [PartitionedEvent] = []
            var at = position
            while store.members.contains(where: { at[$0.name] < heads[$0.name]! }) {
                let page = try await store.readAll(after: at, limit: 500)
                events += page.events
                if page.events.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
                at = page.position
            }
            return events
        }
    }

    static func events(_ count: Int, _ name: String = "Happened") -> [EventMessage] {
        (0..<count).map { EventMessage(messageName: name, payload: ["n": JSONValue(integerLiteral: $0)], metadata: ["k": .string("v\($0)")]) }
    }

    /// Every state a stream can be in is copied as it is: events, positions, uuids, times and metadata, a
    /// retention that hides some, a soft delete (and a stream started again after one), a tombstone, a
    /// stream longer than a copy's page. Reads through the store see the same before and after; writes go
    /// on where they left off, on the new member; merged readers deliver every event once; and the bucket
    /// cannot move back to the member that gave it up.
    @Test(arguments: MemberKind.allCases)
    func aMovedBucketKeepsEveryStreamAsItWas(_ kind: MemberKind) async throws {
        if !kind.shouldRun { return }
        let configuration = {
            var configuration = PartitionedStoreConfiguration(key: .category)
            configuration.bucketCount = 64
            return configuration
        }()
        try await PartitionTests.withStore(kind, configuration: configuration) { store in
            let live: StreamName = "order-live", soft: StreamName = "order-soft", again: StreamName = "order-again"
            let tomb: StreamName = "order-tomb", long: StreamName = "order-long", empty: StreamName = "order-empty"
            try await store.create(live, metadata: [StreamRetention.maxCountKey: .int(3), "owner": "ops"], events: Self.events(5))
            try await store.create(soft, events: Self.events(2))
            try await store.delete(soft, mode: .soft)
            try await store.create(again, events: Self.events(2))
            try await store.delete(again, mode: .soft)
            try await store.create(again, metadata: ["life": .int(2)], events: Self.events(1, "Again"))
            try await store.create(tomb, events: Self.events(1))
            try await store.delete(tomb, mode: .hard)
            try await store.create(long, events: Self.events(2_500))
            try await store.create(empty, metadata: ["empty": .bool(true)])
            let names = [live, soft, again, tomb, long, empty]
            // A stream of another bucket on the same member, to check nothing else moves.
            let (source, bucket) = store.location(of: live)
            let other = try (0..<1_000).lazy.map { try StreamName("other\($0)-1") }
                .first { store.location(of: $0) == (source, store.location(of: $0).bucket) && store.location(of: $0).bucket != bucket }!
            try await store.create(other, events: Self.events(2))
            var before: [StreamName: StreamView] = [:]
            for name in names { before[name] = try await StreamView.of(name, in: store) }
            let listed = try await store.streamNames(limit: 100, offset: 0)
            let merged = try await Self.readToHead(of: store)

            let target = PartitionTests.memberNames.first { $0 != source }!
            let move = try await store.move(bucket: bucket, to: target)
            #expect(move.from == source && move.to == target && move.streams == names.count)
            #expect(move.events >= 2_500 + 5 + 2 + 3)
            #expect(store.location(of: live).member == target)
            #expect(store.location(of: other).member == source, "another bucket stays")
            #expect(store.placement.version == 2 && store.placement.arrivals.count == 1)
            for name in names {
                #expect(try await StreamView.of(name, in: store) == before[name], "\(name) reads as before")
            }
            #expect(try await store.streamNames(limit: 100, offset: 0) == listed, "listed once, as before")
            let targetStore = store.members.first { $0.name == target }!.store
            #expect(try await targetStore.load(long).collect().count == 2_500, "the events are on \(target)")
            // A second store, opened now, reads the same.
            let reopened = try await PartitionedEventStore.open(members: store.members, configuration: configuration)
            #expect(try await StreamView.of(again, in: reopened) == before[again])

            // The merged order: each event once, as before the move (the copies are skipped).
            let after = try await Self.readToHead(of: store)
            #expect(after.map(\.event.uuid) == merged.map(\.event.uuid))
            // Writes go on where they left off, on the new member, and come once, after the earlier ones.
            try await store.append(Self.events(1, "Later"), to: live, expectedVersion: .exact(5))
            try await store.append(Self.events(1, "Later"), to: again, expectedVersion: .exact(3))
            try await store.create(soft, events: Self.events(1, "Reborn"))
            #expect(try await store.load(soft).collect().map(\.position) == [3])
            await #expect(throws: EventStoreError.self) { try await store.append(Self.events(1), to: tomb, expectedVersion: .any) }
            #expect(try await targetStore.load(live).collect().last?.messageName == "Later")
            let sourceStore = store.members.first { $0.name == source }!.store
            #expect(try await sourceStore.load(live).collect().last?.messageName == "Happened", "nothing new on \(source)")
            // (On PostgreSQL the order is readable up to the oldest transaction still running on the server.)
            let tail = try await Self.readToHead(of: store, after: after.last!.position)
            #expect(tail.map(\.event.messageName).sorted() == ["Later", "Later", "Reborn"])
            #expect(tail.allSatisfy { $0.member == target })

            // Back to the member that gave it up: refused, nothing changed.
            await #expect(throws: EventStoreError.self) { try await store.move(bucket: bucket, to: source) }
            await #expect(throws: EventStoreError.self) { try await store.move(bucket: bucket, to: target) }
            await #expect(throws: EventStoreError.self) { try await store.move(bucket: 64, to: target) }
            await #expect(throws: EventStoreError.self) { try await store.move(bucket: 0, to: "nobody") }
            #expect(store.placement.version == 2)
        }
    }

    /// Buckets move while 8 writers append to streams of every member and a merged reader tails the store:
    /// every acknowledged event is stored once, in its stream's order, and the reader gets each once, each
    /// stream's in order.
    @Test(arguments: MemberKind.allCases)
    func bucketsMovedUnderLoadLoseAndRepeatNothing(_ kind: MemberKind) async throws {
        if !kind.shouldRun { return }
        // Writers of a moving bucket wait for its move however long a loaded machine makes it: here no
        // write may fail (the wait's bound has a test of its own).
        let configuration = {
            var configuration = PartitionedStoreConfiguration()
            configuration.moveWait = .seconds(120)
            return configuration
        }()
        try await PartitionTests.withStore(kind, configuration: configuration) { store in
            let streams = (0..<40).map { try! StreamName("load-\($0)") }
            // Three buckets of a's streams move, one after the other, while the writers run.
            var moving: [Int] = []
            for stream in streams where store.location(of: stream).member == "a" {
                let bucket = store.location(of: stream).bucket
                if !moving.contains(bucket) { moving.append(bucket) }
                if moving.count == 3 { break }
            }
            #expect(moving.count == 3)
            for stream in streams { try await store.create(stream) }
            let buckets = moving
            let acknowledged = Shared<[StreamName: [UUID]]>([:])
            let failures = Shared<[String]>([])
            let writing = Shared(true)
            let writersWrote = Shared(0)
            let reader = Task {
                try await within(.seconds(240), "the merged reader gets every acknowledged event") {
                    var got: [PartitionedEvent] = []
                    var sawLast = false
                    for try await event in store.follow(pageSize: 50) {
                        got.append(event)
                        // "Last" is appended once the writers are done: then every acknowledged event and it.
                        sawLast = sawLast || event.event.messageName == "Last"
                        if sawLast, got.count >= writersWrote.withLock({ $0 }) + 1 { break }
                    }
                    return got
                }
            }
            try await withThrowingTaskGroup { group in
                for writer in 0..<8 {
                    group.addTask {
                        var n = 0
                        while writing.withLock({ $0 }) {
                            let stream = streams[(writer * 5 + n) % streams.count]
                            let event = EventMessage(messageName: "Wrote", payload: ["w": JSONValue(integerLiteral: writer), "n": JSONValue(integerLiteral: n)])
                            do {
                                try await store.append([event], to: stream, expectedVersion: .any)
                                acknowledged.withLock { $0[stream, default: []].append(event.uuid) }
                            } catch let error as EventStoreError {
                                failures.withLock { $0.append("\(stream): \(error)") }
                            }
                            n += 1
                        }
                    }
                }
                group.addTask {
                    try await Task.sleep(for: .milliseconds(300))
                    for (index, bucket) in buckets.enumerated() {
                        let move = try await store.move(bucket: bucket, to: index == 1 ? "c" : "b")
                        #expect(move.bucket == bucket && move.streams >= 1)
                        try await Task.sleep(for: .milliseconds(200))
                    }
                    try await Task.sleep(for: .milliseconds(300))
                    writing.withLock { $0 = false }
                }
                try await group.waitForAll()
            }
            writersWrote.withLock { count in count = acknowledged.withLock { $0.values.reduce(0) { $0 + $1.count } } }
            let last = EventMessage(messageName: "Last")
            try await store.append([last], to: streams[0], expectedVersion: .any)
            let failed = failures.withLock { $0 }
            #expect(failed.isEmpty, "\(failed.count) writes failed, first: \(failed.prefix(3))")
            acknowledged.withLock { $0[streams[0], default: []].append(last.uuid) }
            let written = acknowledged.withLock { $0 }
            // Stored once each (two writers of a stream are acknowledged in either order), numbered 1, 2, …
            var stored: [StreamName: [UUID]] = [:]
            for stream in streams {
                let events = try await store.load(stream).collect()
                stored[stream] = events.map(\.uuid)
                #expect(Set(events.map(\.uuid)) == Set(written[stream] ?? []) && events.count == written[stream]?.count ?? 0,
                    "\(stream) holds what was acknowledged, once")
                #expect(events.map(\.position) == (0..<events.count).map { $0 + 1 })
            }
            // The merged reader: every event once, each stream's in its order.
            let got = try await reader.value
            let total = written.values.reduce(0) { $0 + $1.count }
            #expect(got.count == total, "events read")
            #expect(Set(got.map(\.event.uuid)).count == got.count, "none twice")
            var byStream: [StreamName: [UUID]] = [:]
            for event in got { byStream[event.event.streamName, default: []].append(event.event.uuid) }
            for stream in streams { #expect(byStream[stream] ?? [] == stored[stream] ?? [], "\(stream) in order") }
            #expect(store.placement.arrivals.count == 3)
            for bucket in moving { #expect(store.placement.owners[bucket] != 0, "bucket \(bucket) left a") }
        }
    }

    /// The merged order puts events of different members in the order of their writers' clocks, which may
    /// disagree: a moved stream's events written after the move with a clock behind still come after the
    /// stream's earlier events, which live on the former member.
    @Test func aMovedStreamsLaterEventsComeAfterItsEarlierOnesWhateverTheClocks() async throws {
        try await PartitionTests.withStore(.sqlite) { store in
            let stream = try PartitionTests.stream(on: "a", of: store)
            try await store.create(stream, events: Self.events(3))
            // Other streams of a, written after, fill the first pages of a's order.
            for index in 1...4 { try await store.create(try PartitionTests.stream(on: "a", of: store, index: index), events: Self.events(2)) }
            try await store.move(bucket: store.location(of: stream).bucket, to: "b")
            let behind = Date().addingTimeInterval(-3_600)
            try await store.append([EventMessage(messageName: "Skewed", createdAt: behind)], to: stream, expectedVersion: .exact(3))
            for limit in [1, 2, 3, 5, 100] {
                var order: [Int] = []
                var position = CompositePosition.start
                while true {
                    let page = try await store.readAll(after: position, limit: limit)
                    order += page.events.filter { $0.event.streamName == stream }.map(\.event.position)
                    if page.events.isEmpty { break }
                    position = page.position
                }
                #expect(order == [1, 2, 3, 4], "pages of \(limit)")
            }
        }
    }

    /// A writer of a fenced bucket retries for the configured wait, then fails with `wrongPartition`;
    /// writers of other buckets never stop; once the fence is released the bucket's writes go on.
    @Test func aWriterOfAFencedBucketWaitsThenFailsAndOthersGoOn() async throws {
        var configuration = PartitionedStoreConfiguration()
        configuration.moveWait = .milliseconds(300)
        try await PartitionTests.withStore(.sqlite, configuration: configuration) { store in
            let fenced = try PartitionTests.stream(on: "a", of: store)
            let free = try PartitionTests.stream(on: "a", of: store, index: 1)
            let bucket = store.location(of: fenced).bucket
            #expect(store.location(of: free).bucket != bucket)
            let member = store.members[0].store
            #expect(try await member.fence(bucket, mapVersion: 1, true) == .fenced)
            let started = ContinuousClock.now
            await #expect {
                try await store.create(fenced, events: Self.events(1))
            } throws: { error in
                (error as? EventStoreError)?.code == .wrongPartition
            }
            #expect(ContinuousClock.now - started >= .milliseconds(300), "it waited")
            try await store.create(free, events: Self.events(1))
            #expect(try await member.fence(bucket, mapVersion: 1, false) == .owned)
            try await store.create(fenced, events: Self.events(1))
            #expect(try await store.load(fenced).collect().count == 1)
            // A map version the member does not store fences nothing.
            #expect(try await member.fence(bucket, mapVersion: 7, true) == .foreign)
        }
    }

    /// A member added to a store's members takes buckets by moves; readers of the whole store see each
    /// event once; a store opened with fewer members, or in another order, is refused.
    @Test(arguments: MemberKind.allCases)
    func aMemberAddedTakesBucketsByMoves(_ kind: MemberKind) async throws {
        if !kind.shouldRun { return }
        try await PartitionTests.withMembers(kind) { members in
            let two = try await PartitionedEventStore.open(members: Array(members.prefix(2)))
            let streams = (0..<30).map { try! StreamName("item-\($0)") }
            for stream in streams { try await two.create(stream, events: Self.events(3)) }
            let three = try await PartitionedEventStore.open(members: members)
            #expect(three.placement.members == ["a", "b", "c"] && three.placement.version == 2)
            #expect(three.placement.buckets(of: "c").isEmpty)
            await #expect(throws: EventStoreError.self) { try await PartitionedEventStore.open(members: Array(members.prefix(2))) }
            await #expect(throws: EventStoreError.self) { try await PartitionedEventStore.open(members: members.reversed()) }
            // The old store meets the new map at its next write's reload: it names members it lacks.
            var moved = 0
            for stream in streams.prefix(6) {
                let (_, bucket) = three.location(of: stream)
                if three.placement.owners[bucket] == 2 { continue }
                try await three.move(bucket: bucket, to: "c")
                moved += 1
            }
            #expect(moved > 0 && !three.placement.buckets(of: "c").isEmpty)
            for stream in streams {
                #expect(try await three.load(stream).collect().count == 3)
                try await three.append(Self.events(1), to: stream, expectedVersion: .exact(3))
            }
            let all = try await Self.readToHead(of: three)
            #expect(all.count == streams.count * 4)
            #expect(Set(all.map(\.event.uuid)).count == all.count)
            #expect(try await three.streamNames(limit: 100, offset: 0).count == streams.count)
            await #expect(throws: EventStoreError.self) { try await two.append(Self.events(1), to: streams[0], expectedVersion: .any) }
        }
    }
}

/// A value the tasks of a test share.
final class Shared<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    func withLock<T>(_ body: (inout Value) -> T) -> T { value.withLock { body(&$0) } }
}
