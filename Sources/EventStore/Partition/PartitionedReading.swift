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
        if limit < 1 { throw EventStoreError.invalidArgument("limit must be 1 or more, not \(limit)") }
        let names = members.map(\.name)
        if let stranger = position.parts.keys.first(where: { !names.contains($0) }) {
            throw EventStoreError.invalidArgument("the position names \(stranger), which is no member of this store")
        }
        // Each member's page after its part (every member at once).
        try TransactionScope.checkOutsideTransaction(of: ObjectIdentifier(identity))
        let read = await withTaskGroup(of: (Int, Result<GlobalOrderPage, any Error>).self) { group in
            for (index, member) in members.enumerated() {
                let after = position[member.name]
                group.addTask {
                    do {
                        return (index, .success(try await member.store.readPage(after: after, of: target, limit: limit)))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            var found = [Result<GlobalOrderPage, any Error>?](repeating: nil, count: members.count)
            for await (index, result) in group { found[index] = result }
            return found.compactMap { $0 }
        }
        var memberPages: [GlobalOrderPage] = []
        var unavailable: [String: EventStoreError] = [:]
        for (index, result) in read.enumerated() {
            switch result {
            case let .success(page): memberPages.append(page)
            case let .failure(error as EventStoreError) where error.code.isTransient:
                unavailable[names[index]] = error
                memberPages.append(GlobalOrderPage(events: [], after: position[names[index]], limit: limit, readable: nil))
            case let .failure(error): throw error
            }
        }
        if unavailable.count == members.count, let first = names.first, let error = unavailable[first] { throw error }
        // A merge of the pages' heads, the earliest `createdAt` first (ties: the member listed first). A head
        // that is a moved bucket's copy is skipped; one that must wait for the bucket's earlier events on
        // its former member is held back.
        var next = [Int](repeating: 0, count: members.count)
        var current = position
        var merged: [PartitionedEvent] = []
        var moves = MoveRules(placement, key: configuration.key)
        var reloaded = false
        while merged.count < limit {
            var chosen: Int?
            for (index, page) in memberPages.enumerated() {
                var verdict = MoveRules.Verdict.skip
                while next[index] < page.events.count {
                    let head = page.events[next[index]]
                    verdict = moves.verdict(on: head, member: index, at: current, names: names)
                    if verdict == .unknown, !reloaded {
                        // A bucket this reader's map places elsewhere: its move may be newer than the map.
                        moves = MoveRules(try await reloadPlacement(), key: configuration.key)
                        reloaded = true
                        verdict = moves.verdict(on: head, member: index, at: current, names: names)
                    }
                    guard verdict == .skip || verdict == .unknown else { break }
                    // A copy (or a move's copy not yet in any map): every reader skips it.
                    next[index] += 1
                    current[members[index].name] = head.globalPosition
                }
                guard next[index] < page.events.count, verdict == .deliver else { continue }
                let candidate = page.events[next[index]]
                if let best = chosen, memberPages[best].events[next[best]].message.createdAtMicros <= candidate.message.createdAtMicros {
                    continue
                }
                chosen = index
            }
            guard let index = chosen else { break }
            let event = memberPages[index].events[next[index]]
            next[index] += 1
            current[members[index].name] = event.globalPosition
            merged.append(PartitionedEvent(event: event, member: members[index].name, position: current))
        }
        // A member whose page was taken whole is read up to its page's end (past gaps no reader can fill).
        for (index, page) in memberPages.enumerated() where next[index] == page.events.count {
            current[members[index].name] = Swift.max(current[members[index].name], page.readThrough)
        }
        return PartitionedPage(events: merged, position: current, unavailable: unavailable)
    }

    /// The events of `target` after `position` as they come: every member read, then waited on (woken by
    /// this process's appends, or after each member's `pollInterval`), until the consuming task is
    /// cancelled. A failed read is tried again with back-off; each event comes once, with the position to
    /// resume after it.
    public func follow(_ target: SubscriptionTarget = .all, after position: CompositePosition = .start, pageSize: Int = 500)
        -> AsyncThrowingStream<PartitionedEvent, any Error>
    {
        AsyncThrowingStream { continuation in
            let task = Task {
                var at = position
                var delay: Duration = .milliseconds(100)
                while !Task.isCancelled {
                    let generations = members.map { $0.store.appendNotifier.generation }
                    let page: PartitionedPage
                    do {
                        page = try await readAll(after: at, of: target, limit: pageSize)
                        delay = .milliseconds(100)
                    } catch let error as EventStoreError where error.code.isTransient {
                        configuration.logger.warning("a partitioned reader could not read; it tries again in \(delay): \(error)")
                        try? await Task.sleep(for: delay)
                        delay = Swift.min(delay * 2, .seconds(5))
                        continue
                    } catch {
                        continuation.finish(throwing: error)
                        return
                    }
                    if !page.unavailable.isEmpty {
                        configuration.logger.warning(
                            "a partitioned reader goes on without \(page.unavailable.keys.sorted()), whose events come once they answer: \(page.unavailable.values.first.map(String.init(describing:)) ?? "")")
                    }
                    for event in page.events { continuation.yield(event) }
                    at = page.position
                    if page.events.count < pageSize { await waitForAppends(after: generations) }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Waits until a member signals an append after `generations`, at most the longest poll interval.
    private func waitForAppends(after generations: [UInt64]) async {
        let members = self.members
        await withTaskGroup(of: Void.self) { group in
            for (index, member) in members.enumerated() {
                group.addTask {
                    await member.store.appendNotifier.wait(after: generations[index], timeout: member.store.pollInterval)
                }
            }
            await group.next()
            group.cancelAll()
        }
    }
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
        if map.arrivals.isEmpty { return deliverIfFirstOwner(event, member) }
        let bucket = PartitionKey.bucket(of: key.key(of: event.streamName), count: map.bucketCount)
        if let arrival = arrivals[bucket * map.members.count + member] {
            if event.globalPosition <= arrival.copiedThrough { return .skip }
            return position[names[arrival.from]] >= arrival.sourceThrough ? .deliver : .wait
        }
        return firstOwners[bucket] == member ? .deliver : .unknown
    }

    private func deliverIfFirstOwner(_ event: RecordedEvent, _ member: Int) -> Verdict {
        let bucket = PartitionKey.bucket(of: key.key(of: event.streamName), count: map.bucketCount)
        return map.owners[bucket] == member ? .deliver : .unknown
    }
}
