import Logging

/// What a bucket's move did (``PartitionedEventStore/move(bucket:to:)``).
public struct BucketMove: Sendable, Hashable {
    /// The bucket moved: a number from 0 to below ``PlacementMap/bucketCount``.
    public let bucket: Int
    /// The name of the member that owned the bucket before.
    public let from: String
    /// The name of the member that owns the bucket now.
    public let to: String
    /// The bucket's streams copied (live, soft-deleted and tombstones).
    public let streams: Int
    /// The events copied, those copied again after the fence included.
    public let events: Int
    /// How long the bucket's writes were stopped: the tail's copy and the map's change.
    public let fenced: Duration
    /// The map the move made.
    public let map: PlacementMap
}

/// Moving a bucket from its member to another: to add a member, or to spread the load.
///
/// 1. The bucket's streams are copied to the new member while their writers go on (each stream read in
///    one transaction of the old member and written in one of the new).
/// 2. The old member fences the bucket: its writes in flight commit, and later ones wait (a writer retries
///    for ``PartitionedStoreConfiguration/moveWait``, then fails with `wrongPartition`).
/// 3. The streams that changed meanwhile are copied again (their new events only, when only events came).
/// 4. The map changes, one version later, on the old member (which releases the fence: it no longer owns
///    the bucket), then the new, then the others. The move is recorded in the map (``BucketArrival``).
///
/// The old member keeps the bucket's streams as they were: they stay in its order, where merged readers
/// read them once; the new member's copies are skipped by merged readers, which deliver the bucket's later
/// events only after its earlier ones. So a bucket moves only to a member that never held it.
extension PartitionedEventStore {
    /// Moves `bucket` to the member named `member`. One move at a time: a change of the map meanwhile fails
    /// the move (and releases its fence).
    /// - Throws: `invalidArgument` for no such bucket or member, the bucket's own member, or a member that
    ///   held the bucket before; `wrongPartition` when the map changed meanwhile; a member's failure, after
    ///   which the bucket's writes go on at its old member (run the move again: it starts over).
    @discardableResult
    public func move(bucket: Int, to member: String) async throws -> BucketMove {
        try TransactionScope.checkOutsideTransaction(of: ObjectIdentifier(identity))
        let map = try await reloadPlacement()
        guard map.owners.indices.contains(bucket) else {
            throw EventStoreError.invalidArgument("there is no bucket \(bucket) (0 to \(map.bucketCount - 1))")
        }
        guard let targetIndex = map.members.firstIndex(of: member) else { throw EventStoreError.invalidArgument("no member is named \(member)") }
        let sourceIndex = map.owners[bucket]
        if sourceIndex == targetIndex { throw EventStoreError.invalidArgument("bucket \(bucket) is on \(member) already") }
        if map.hasHeld(bucket, member: targetIndex) {
            throw EventStoreError.invalidArgument(
                "\(member) held bucket \(bucket) before: its streams there stay in its order as the bucket's history, so the bucket moves only to a member that never held it")
        }
        let (source, target) = (members[sourceIndex], members[targetIndex])
        let log = configuration.logger
        // A failed move's copies on the new member: never owned there, so readers skip them; removed.
        for name in try await streams(of: bucket, on: target.store, map: map) {
            try await target.store.transaction { try await Self.member($0).removeCopy(of: name) }
        }
        log.info("moving bucket \(bucket) from \(source.name) to \(target.name): copying")
        var copied: [StreamName: StoredStream] = [:]
        var events = 0
        for name in try await streams(of: bucket, on: source.store, map: map) {
            guard let stored = try await copy(name, from: source.store, to: target.store) else { continue }
            copied[name] = stored
            events += stored.events.count
        }
        let clock = ContinuousClock()
        let fencedAt = clock.now
        let state = try await source.store.fence(bucket, mapVersion: map.version, true)
        guard state == .fenced else {
            throw EventStoreError(
                code: .wrongPartition, reason: "\(source.name) no longer owns bucket \(bucket) under placement map \(map.version): the map changed meanwhile")
        }
        do {
            let sourceThrough = try await source.store.headPosition()
            let now = try await streams(of: bucket, on: source.store, map: map)
            for name in now {
                events += try await copyChanges(of: name, since: copied[name], from: source.store, to: target.store)
            }
            for name in copied.keys where !now.contains(name) {
                try await target.store.transaction { try await Self.member($0).removeCopy(of: name) }
            }
            let copiedThrough = try await target.store.headPosition()
            let moved = try map.moving(bucket, to: member, copiedThrough: copiedThrough, sourceThrough: sourceThrough)
            guard try await source.store.storePlacement(moved, as: source.name, replacing: map.version) else {
                throw EventStoreError(code: .wrongPartition, reason: "\(source.name)'s placement map changed during the move of bucket \(bucket)")
            }
            let fenced = clock.now - fencedAt
            try await store(moved, on: target)
            self.adopt(moved)
            try await spreadPlacement(moved)
            log.info("moved bucket \(bucket) from \(source.name) to \(target.name): \(now.count) streams, writes stopped for \(fenced)")
            return BucketMove(bucket: bucket, from: source.name, to: target.name, streams: now.count, events: events, fenced: fenced, map: moved)
        } catch {
            do {
                _ = try await source.store.fence(bucket, mapVersion: map.version, false)
            } catch let release {
                log.error("the fence of bucket \(bucket) on \(source.name) could not be released: \(release) (run the move again)")
            }
            throw error
        }
    }

    /// The names of the streams of `bucket` that `store` holds, whatever their state.
    func streams(of bucket: Int, on store: any PartitionMemberStore, map: PlacementMap) async throws -> [StreamName] {
        var names: [StreamName] = []
        var after = ""
        while true {
            let page = try await store.storedStreamNames(after: after, limit: 1000)
            for text in page {
                guard let name = try? StreamName(text) else { continue }
                if PartitionKey.bucket(of: configuration.key.key(of: name), count: map.bucketCount) == bucket { names.append(name) }
            }
            guard page.count == 1000, let last = page.last else { return names }
            after = last
        }
    }

    /// Copies a whole stream, read in one transaction of `source` and written in one of `target`.
    /// - Returns: the stream as read, `nil` when it is gone.
    private func copy(_ name: StreamName, from source: any PartitionMemberStore, to target: any PartitionMemberStore) async throws
        -> StoredStream?
    {
        guard let stored = try await source.transaction({ try await Self.member($0).storedStream(name, from: 0) }) else { return nil }
        try await target.transaction { try await Self.member($0).insertCopy(stored) }
        return stored
    }

    /// Brings the copy of a stream up to date, under the fence: nothing when it did not change; its new
    /// events when only events came (the copy's last event still there, its row otherwise the same); else
    /// the whole stream again. - Returns: the events copied.
    private func copyChanges(
        of name: StreamName, since earlier: StoredStream?, from source: any PartitionMemberStore, to target: any PartitionMemberStore
    ) async throws -> Int {
        guard let earlier else { return try await copy(name, from: source, to: target)?.events.count ?? 0 }
        let last = earlier.events.last
        let tail = try await source.transaction { try await Self.member($0).storedStream(name, from: last?.position ?? 0) }
        guard let tail else { return 0 }
        let same =
            tail.rowID == earlier.rowID && tail.state == earlier.state && tail.beginsAt == earlier.beginsAt
            && tail.removed == earlier.removed && tail.metadata == earlier.metadata
            && (last == nil || tail.events.first?.uuid == last?.uuid)
        if same && tail.version == earlier.version { return 0 }
        if same && tail.state == .live {
            let new = tail.events.filter { $0.position > (last?.position ?? 0) }
            if new.count == tail.version - earlier.version {
                try await target.transaction { store in
                    _ = try await store.append(new.map(\.message), to: name, expectedVersion: .exact(earlier.version))
                }
                return new.count
            }
        }
        try await target.transaction { try await Self.member($0).removeCopy(of: name) }
        return try await copy(name, from: source, to: target)?.events.count ?? 0
    }

    /// Stores `map` on `member`, whatever older map it stores.
    private func store(_ map: PlacementMap, on member: Member) async throws {
        while true {
            let stored = try await member.store.storedPlacement()
            if let stored, stored.version >= map.version { return }
            if try await member.store.storePlacement(map, as: member.name, replacing: stored?.version) { return }
        }
    }

    /// A member's transaction as a member store.
    static func member(_ transaction: any EventStore) throws -> any PartitionMemberStore {
        guard let member = transaction as? any PartitionMemberStore else {
            throw EventStoreError.backend("a member's transactions cannot copy streams")
        }
        return member
    }
}
