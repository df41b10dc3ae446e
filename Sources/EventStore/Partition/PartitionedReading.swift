import Logging

/// Reading a partitioned store as a whole: every member's own order, merged.
///
/// Each member keeps its own gap-free order; a reader keeps a ``CompositePosition`` (its place in each
/// member's) and reads every member after its part. Events of one member come in that member's order, so
/// each stream's events come in order; events of different members come in the order of their
/// `createdAt` (the writers' clocks), which is no promise: there is no order across members.
extension PartitionedEventStore {
    /// Up to `limit` events of `target` after `position`: each member's next events, merged by `createdAt`
    /// (each member's kept in its order), each with the composite position just after it.
    ///
    /// A member that cannot be read (a transient failure: down, unreachable, failing over) is passed over:
    /// its part of the position stays where it was, so its events come once it answers again, and the page
    /// names it in ``PartitionedPage/unavailable``. The other members' events come meanwhile (there is no
    /// order across members to keep).
    /// - Throws: `invalidArgument` when `limit` < 1 or `position` names no member of the store; a member's
    ///   failure that is not transient; the first member's failure when none could be read.
    public func readAll(after position: CompositePosition, of target: SubscriptionTarget = .all, limit: Int) async throws -> PartitionedPage {
        var cursor = MergeCursor(position, members: members.count)
        let (events, unavailable) = try await read(&cursor, of: target, limit: limit)
        return PartitionedPage(events: events, position: cursor.position, unavailable: unavailable)
    }

    /// ``advance(_:of:limit:)`` after a reader's checks: `limit`, the cursor's members, no transaction.
    func read(_ cursor: inout MergeCursor, of target: SubscriptionTarget, limit: Int) async throws
        -> (events: [PartitionedEvent], unavailable: [String: EventStoreError])
    {
        try StoreValidation.globalRead(after: .start, of: target, limit: limit)
        try checkMembers(of: cursor.position)
        try TransactionScope.checkOutsideTransaction(of: ObjectIdentifier(identity))
        return try await advance(&cursor, of: target, limit: limit)
    }

    /// Reads the members whose read events ran out (every member at once), then merges up to `limit` events
    /// of what `cursor` holds: the earliest `createdAt` first (ties: the member listed first), each member's
    /// in its order. A head that is a moved bucket's copy is skipped; one that must wait for its bucket's
    /// earlier events on the former member is held back. A member whose full read runs out is read again
    /// before the merge goes on (its next events may come first); a follower keeps the cursor, so that it
    /// reads each member's events once. Fewer than `limit` events only when every member was read as far
    /// as it could be.
    func advance(_ cursor: inout MergeCursor, of target: SubscriptionTarget, limit: Int) async throws
        -> (events: [PartitionedEvent], unavailable: [String: EventStoreError])
    {
        let names = members.map(\.name)
        var unavailable: [String: EventStoreError] = [:]
        var merged: [PartitionedEvent] = []
        var moves = MoveRules(placement, key: configuration.key)
        var reloaded = false
        // Every member with nothing in hand is read; then, while the merge stops short at a member whose
        // full read ran out, that member again.
        var toRead = cursor.buffered.indices.filter { cursor.buffered[$0].isEmpty }
        while !toRead.isEmpty {
            let read = await withTaskGroup(of: MemberRead.self) { group in
                for index in toRead {
                    let (member, after) = (members[index], cursor.position[names[index]])
                    group.addTask {
                        do {
                            return MemberRead(
                                index: index, page: try await member.store.readPage(after: after, of: target, limit: limit), failure: nil)
                        } catch {
                            return MemberRead(index: index, page: nil, failure: error)
                        }
                    }
                }
                var found: [MemberRead] = []
                for await result in group { found.append(result) }
                return found
            }
            for result in read {
                if let page = result.page {
                    cursor.buffered[result.index] = page.events[...]
                    cursor.full[result.index] = page.events.count >= limit
                    cursor.readThrough[result.index] = page.readThrough
                } else if let error = result.failure as? EventStoreError, error.code.isTransient {
                    unavailable[names[result.index]] = error
                    cursor.full[result.index] = false
                    cursor.readThrough[result.index] = cursor.position[names[result.index]]
                } else if let error = result.failure {
                    throw error
                }
            }
            if unavailable.count == members.count, let error = unavailable[names[0]] { throw error }
            var dry: Int?
            merging: while merged.count < limit {
                var chosen: Int?
                for index in cursor.buffered.indices {
                    var verdict = MoveRules.Verdict.skip
                    while let head = cursor.buffered[index].first {
                        verdict = moves.verdict(on: head, member: index, at: cursor.position, names: names)
                        if verdict == .unknown, !reloaded {
                            // A bucket this reader's map places elsewhere: its move may be newer than the map.
                            moves = MoveRules(try await reloadPlacement(), key: configuration.key)
                            reloaded = true
                            verdict = moves.verdict(on: head, member: index, at: cursor.position, names: names)
                        }
                        guard verdict == .skip || verdict == .unknown else { break }
                        // A copy (or a move's copy not yet in any map): every reader skips it.
                        cursor.buffered[index].removeFirst()
                        cursor.position[names[index]] = head.globalPosition
                    }
                    if cursor.buffered[index].isEmpty, cursor.full[index] {
                        dry = index
                        break merging
                    }
                    guard let candidate = cursor.buffered[index].first, verdict == .deliver else { continue }
                    if let best = chosen, cursor.buffered[best].first!.message.createdAtMicros <= candidate.message.createdAtMicros { continue }
                    chosen = index
                }
                guard let index = chosen else { break }
                let event = cursor.buffered[index].removeFirst()
                cursor.position[names[index]] = event.globalPosition
                merged.append(PartitionedEvent(event: event, member: names[index], position: cursor.position))
            }
            toRead = merged.count < limit ? dry.map { [$0] } ?? [] : []
        }
        // A member whose read was short and is taken whole is read up to how far it looked (past gaps no
        // reader can fill).
        for index in cursor.buffered.indices where cursor.buffered[index].isEmpty && !cursor.full[index] {
            cursor.position[names[index]] = Swift.max(cursor.position[names[index]], cursor.readThrough[index])
        }
        return (merged, unavailable)
    }

    /// The events of `target` after `position` as they come: every member read, then waited on (woken by
    /// this process's appends, or after each member's `pollInterval`), until the consuming task is
    /// cancelled. A page is read only when the consumer has taken the one before, so a slow consumer slows
    /// reading and memory stays bounded; each member's events are read once (a member is read again when the
    /// events read from it are merged). A failed read is tried again with back-off; each event comes once,
    /// with the position to resume after it.
    public func follow(_ target: SubscriptionTarget = .all, after position: CompositePosition = .start, pageSize: Int = 500)
        -> PartitionedSubscription
    {
        PartitionedSubscription(store: self, target: target, after: position, pageSize: pageSize)
    }

    /// Waits until a member signals an append after `generations`, at most `timeout` on `clock` (each member's
    /// poll interval when `nil`).
    func waitForAppends(after generations: [UInt64], timeout: Duration? = nil, clock: AnyClock = AnyClock(ContinuousClock())) async {
        let members = self.members
        await withTaskGroup(of: Void.self) { group in
            for (index, member) in members.enumerated() {
                group.addTask {
                    await member.store.appendNotifier.wait(
                        after: generations[index], timeout: timeout ?? member.store.pollInterval, clock: clock)
                }
            }
            await group.next()
            group.cancelAll()
        }
    }
}

/// A merged reader's state between reads: its position, and each member's events read and not yet merged.
struct MergeCursor: Sendable {
    var position: CompositePosition
    /// Each member's events read after its part of ``position``, not yet delivered or skipped.
    var buffered: [ArraySlice<RecordedEvent>]
    /// Whether each member's last read came back full: more may be there at once.
    var full: [Bool]
    /// How far each member's last read looked.
    var readThrough: [GlobalPosition]

    init(_ position: CompositePosition, members: Int) {
        self.position = position
        buffered = Array(repeating: [], count: members)
        full = Array(repeating: false, count: members)
        readThrough = Array(repeating: .start, count: members)
    }
}

/// A member's page of a merged read, or its failure.
private struct MemberRead: Sendable {
    let index: Int
    let page: GlobalOrderPage?
    let failure: (any Error)?
}

/// How a merged reader treats an event of a bucket that moved (``PlacementMap/arrivals``): a member's copies
/// of a bucket that moved to it are skipped (the reader delivers the events where they were written); its
/// later events of that bucket wait until the reader has passed the bucket's events on the former member.
struct MoveRules {
    enum Verdict { case deliver, skip, wait, unknown }

    let map: PlacementMap
    let key: PartitionKey
    /// The move that brought each bucket to each member, by `bucket * members + member`.
    private let arrivals: [Int: BucketArrival]
    /// Each bucket's member before any move.
    private let firstOwners: [Int]

    init(_ map: PlacementMap, key: PartitionKey) {
        self.map = map
        self.key = key
        var arrivals: [Int: BucketArrival] = [:]
        var firstOwners = map.owners
        var seen = Set<Int>()
        for arrival in map.arrivals {
            arrivals[arrival.bucket * map.members.count + arrival.member] = arrival
            if seen.insert(arrival.bucket).inserted { firstOwners[arrival.bucket] = arrival.from }
        }
        self.arrivals = arrivals
        self.firstOwners = firstOwners
    }

    /// What to do with `event` of the member at `member` for a reader at `position` (`names`: the members'
    /// names): deliver it; skip it (a copy); hold it back (its bucket's earlier events on the former member
    /// come first); or `unknown`: the map does not say the member ever held the bucket (a move's copy, or
    /// a move newer than the map).
    func verdict(on event: RecordedEvent, member: Int, at position: CompositePosition, names: [String]) -> Verdict {
        let bucket = PartitionKey.bucket(of: key.key(of: event.streamName), count: map.bucketCount)
        if let arrival = arrivals[bucket * map.members.count + member] {
            if event.globalPosition <= arrival.copiedThrough { return .skip }
            return position[names[arrival.from]] >= arrival.sourceThrough ? .deliver : .wait
        }
        return firstOwners[bucket] == member ? .deliver : .unknown
    }
}

/// The events of a partitioned store's merged order as they come (see ``PartitionedEventStore/follow(_:after:pageSize:)``).
/// It ends only when the consuming task is cancelled, or with an error that is not a member's transient
/// failure.
public struct PartitionedSubscription: AsyncSequence, Sendable {
    /// An event of the merged order, with its member and the position to resume after it.
    public typealias Element = PartitionedEvent

    let store: PartitionedEventStore
    let target: SubscriptionTarget
    let after: CompositePosition
    let pageSize: Int

    /// An iterator that reads from the subscription's start position; each iterator reads on its own.
    public func makeAsyncIterator() -> Iterator {
        Iterator(store: store, target: target, after: after, pageSize: pageSize)
    }

    /// Reads the merged order a page at a time, and waits for appends once it has caught up.
    public struct Iterator: AsyncIteratorProtocol {
        let store: PartitionedEventStore
        let target: SubscriptionTarget
        let pageSize: Int
        var cursor: MergeCursor
        var buffer: [PartitionedEvent] = []
        var index = 0
        /// The members' append signals before the last read, when that read could merge no more now: the
        /// next read waits for a signal after them.
        var waitAfter: [UInt64]?
        /// The members the last read passed over (logged when the set changes).
        var unavailable: Set<String> = []
        var checked = false
        let after: CompositePosition

        init(store: PartitionedEventStore, target: SubscriptionTarget, after: CompositePosition, pageSize: Int) {
            (self.store, self.target, self.after, self.pageSize) = (store, target, after, pageSize)
            cursor = MergeCursor(after, members: store.members.count)
        }

        /// The next event, waiting for one when every member was read as far as it could be; `nil` once the
        /// consuming task is cancelled. A member that fails transiently is passed over while the others are
        /// read; when none can be read, the read is tried again after 100 ms, doubling up to 5 s.
        /// - Throws: ``EventStoreError`` `invalidArgument` on the first call when the start position names no member
        ///   of the store or the page size is below 1; a member's failure that is not transient.
        public mutating func next() async throws -> PartitionedEvent? {
            if !checked {
                try store.checkMembers(of: after)
                if pageSize < 1 { throw EventStoreError.invalidArgument("pageSize must be 1 or more, not \(pageSize)") }
                checked = true
            }
            var delay: Duration = .milliseconds(100)
            let logger = store.configuration.logger
            while index == buffer.count {
                if Task.isCancelled { return nil }
                if let generations = waitAfter {
                    await store.waitForAppends(after: generations)
                    if Task.isCancelled { return nil }
                }
                let generations = store.members.map { $0.store.appendNotifier.generation }
                do {
                    let (merged, down) = try await store.advance(&cursor, of: target, limit: pageSize)
                    (buffer, index, delay) = (merged, 0, .milliseconds(100))
                    // A short page: nothing more can be merged now (the members were read as far as they could be).
                    waitAfter = merged.count < pageSize ? generations : nil
                    if Set(down.keys) != unavailable {
                        unavailable = Set(down.keys)
                        if unavailable.isEmpty {
                            logger.notice("a partitioned reader reads every member again")
                        } else {
                            logger.warning(
                                "a partitioned reader goes on without \(unavailable.sorted()), whose events come once they answer: \(down.values.first.map(String.init(describing:)) ?? "")")
                        }
                    }
                } catch where Task.isCancelled {
                    // Cancelling the consumer ends the sequence, whatever the read in flight threw.
                    return nil
                } catch let error as EventStoreError where error.code.isTransient {
                    logger.warning("a partitioned reader could not read; it tries again in \(delay): \(error)")
                    try? await Task.sleep(for: delay)
                    delay = Swift.min(delay * 2, .seconds(5))
                    waitAfter = nil
                }
            }
            index += 1
            return buffer[index - 1]
        }
    }
}
