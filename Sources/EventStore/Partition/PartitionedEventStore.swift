import Logging
import Synchronization

/// Settings of a ``PartitionedEventStore``.
public struct PartitionedStoreConfiguration: Sendable {
    /// What decides a stream's member (``PartitionKey/stream`` by default).
    public var key: PartitionKey = .stream
    /// The buckets of a first placement map (1,024 by default); a store that finds a map keeps its count.
    public var bucketCount: Int = PlacementMap.defaultBucketCount
    /// How long a write waits for a bucket that a move holds, or for a member whose map lags, before it
    /// fails with `wrongPartition` (5 s by default).
    public var moveWait: Duration = .seconds(5)
    /// Where the store logs map reloads.
    public var logger = Logger(label: "eventstore.partitioned")

    /// Settings with `key` and the defaults for the rest.
    /// - Parameter key: What decides a stream's member; ``PartitionKey/stream`` by default.
    public init(key: PartitionKey = .stream) { self.key = key }
}

/// One store over several member stores, each a whole database (in production, each a cluster): a
/// stream lives on one member, chosen by a stable hash of its routing key (``PartitionKey``) into a fixed
/// number of buckets and the placement map (``PlacementMap``) from buckets to members, which every member
/// stores with its version.
///
/// ```swift
/// let store = try await PartitionedEventStore.open(members: [
///     .init(name: "a", store: try await PostgresEventStore.connect(url: urlA)),
///     .init(name: "b", store: try await PostgresEventStore.connect(url: urlB)),
/// ])
/// try await store.append(events, to: "order-7", expectedVersion: .noStream)   // on order-7's member
/// ```
///
/// - **Writes** run in a transaction of the stream's member that first checks, holding the bucket's row,
///   that the member owns the bucket under the store's map version: a write routed by an old map fails
///   instead of landing on the wrong member; the store then reloads the map and tries again.
/// - **Reads** go to the stream's member; **listings** merge every member's, in byte order, with `limit`
///   and `offset` counted over the merged list.
/// - **Transactions** run on one member: the first stream a transaction touches chooses it, and a call for
///   a stream of another member fails with `invalidArgument`, rolling the transaction back.
/// - An append's ``AppendResult/lastGlobalPosition`` is a position in its member's own order: there is no
///   order across members.
public final class PartitionedEventStore: EventStore, Sendable {
    /// A member: its name in the placement map, and its store.
    public struct Member: Sendable {
        /// The member's name in the placement map: 1 to 64 ASCII letters, digits, `_`, `-` and `.`.
        public let name: String
        /// The member's store.
        public let store: any PartitionMemberStore

        /// A member; ``PartitionedEventStore/open(members:configuration:)`` checks its name.
        /// - Parameters:
        ///   - name: The member's name in the placement map: 1 to 64 ASCII letters, digits, `_`, `-` and `.`.
        ///   - store: The member's store.
        public init(name: String, store: any PartitionMemberStore) {
            self.name = name
            self.store = store
        }
    }

    /// The members, in the order of the placement map's ``PlacementMap/members``.
    public let members: [Member]
    /// The settings the store was opened with.
    public let configuration: PartitionedStoreConfiguration
    private let map: Mutex<PlacementMap>
    /// Marks the tasks inside this store's transactions.
    let identity = Identity()

    final class Identity: Sendable {}

    /// Opens a store over `members`: it reads the placement map each member stores and keeps the newest,
    /// stores it in every member that lacks it or stores an older one, and makes a first map (members own
    /// equal ranges of buckets) when none stores one. Members listed after the stored map's are added to
    /// it, owning no bucket until buckets move to them (``move(bucket:to:)``).
    /// - Throws: `invalidArgument` for no member, a name used twice, or members that do not start with the
    ///   stored map's, in its order; `backend` when a member cannot be reached and none of the others stores
    ///   a map.
    public static func open(members: [Member], configuration: PartitionedStoreConfiguration = .init()) async throws
        -> PartitionedEventStore
    {
        let names = members.map(\.name)
        var newest = try await newestMap(of: members, logger: configuration.logger)
        if newest == nil {
            newest = try PlacementMap.initial(members: names, bucketCount: configuration.bucketCount)
        }
        guard var map = newest else { throw EventStoreError.invalidArgument("a partitioned store has one member or more") }
        if names.count > map.members.count, Array(names.prefix(map.members.count)) == map.members {
            for name in names.dropFirst(map.members.count) { map = try map.adding(member: name) }
        }
        if map.members != names {
            throw EventStoreError.invalidArgument(
                "the members \(names) are not those of the stored placement map (\(map.members), version \(map.version))")
        }
        let store = PartitionedEventStore(members: members, configuration: configuration, map: map)
        try await store.spreadPlacement(map)
        return store
    }

    private init(members: [Member], configuration: PartitionedStoreConfiguration, map: PlacementMap) {
        self.members = members
        self.configuration = configuration
        self.map = Mutex(map)
    }

    /// The placement map the store routes by now.
    public var placement: PlacementMap { map.withLock { $0 } }

    /// The member a stream lives on, under the current map, and its bucket.
    public func location(of stream: StreamName) -> (member: String, bucket: Int) {
        let (member, bucket) = route(stream, in: placement)
        return (member.name, bucket)
    }

    /// Reads the members' maps again and routes by the newest (which it stores in members that lag).
    /// Members that cannot be reached are passed over.
    /// - Throws: `invalidArgument` when the newest map names other members than this store's (a member
    ///   was added by another process: open the store again with every member).
    @discardableResult
    public func reloadPlacement() async throws -> PlacementMap {
        guard let newest = try await Self.newestMap(of: members, logger: configuration.logger) else { return placement }
        if newest.members != members.map(\.name) {
            throw EventStoreError.invalidArgument(
                "placement map \(newest.version) names the members \(newest.members), and this store was opened with \(members.map(\.name)): open it again with every member")
        }
        let current = map.withLock { current in
            if newest.version > current.version { current = newest }
            return current
        }
        try await spreadPlacement(current)
        return current
    }

    /// Routes by `map` from now on, unless the store routes by a newer one.
    func adopt(_ map: PlacementMap) {
        self.map.withLock { current in
            if map.version > current.version { current = map }
        }
    }

    /// The newest map the reachable members store, `nil` when none stores one.
    /// - Throws: the first member's failure when no member could be read.
    private static func newestMap(of members: [Member], logger: Logger) async throws -> PlacementMap? {
        if members.isEmpty { throw EventStoreError.invalidArgument("a partitioned store has one member or more") }
        let found = await withTaskGroup(of: Result<PlacementMap?, any Error>.self) { group in
            for member in members {
                group.addTask {
                    do { return .success(try await member.store.storedPlacement()) } catch { return .failure(error) }
                }
            }
            var results: [Result<PlacementMap?, any Error>] = []
            for await result in group { results.append(result) }
            return results
        }
        let maps = found.compactMap { try? $0.get() }
        if maps.isEmpty, case let .failure(error)? = found.first(where: { if case .failure = $0 { true } else { false } }) {
            throw error
        }
        for case let .failure(error) in found { logger.warning("a member's placement map could not be read: \(error)") }
        return maps.compactMap { $0 }.max { $0.version < $1.version }
    }

    /// Stores `map` in every reachable member whose map is older (or missing).
    func spreadPlacement(_ map: PlacementMap) async throws {
        for member in members {
            do {
                let stored = try await member.store.storedPlacement()
                if let stored, stored.version >= map.version { continue }
                if try await !member.store.storePlacement(map, as: member.name, replacing: stored?.version) {
                    configuration.logger.info("member \(member.name) changed its placement map meanwhile")
                }
            } catch let error as EventStoreError where error.code.isTransient {
                configuration.logger.warning("member \(member.name) could not store placement map \(map.version): \(error)")
            }
        }
    }

    // MARK: Routing writes

    /// The stream's member and bucket under `map`.
    func route(_ stream: StreamName, in map: PlacementMap) -> (member: Member, bucket: Int) {
        let bucket = PartitionKey.bucket(of: configuration.key.key(of: stream), count: map.bucketCount)
        return (members[map.owners[bucket]], bucket)
    }

    /// Runs `body` in a transaction of the stream's member that first checks the member owns its bucket
    /// under the current map; when it does not, reloads the map and tries again (waiting while a move holds
    /// the bucket, at most ``PartitionedStoreConfiguration/moveWait``).
    func write<T: Sendable>(_ stream: StreamName, _ body: @escaping @Sendable (any EventStore) async throws -> T) async throws -> T {
        try TransactionScope.checkOutsideTransaction(of: ObjectIdentifier(identity))
        let deadline = ContinuousClock.now + configuration.moveWait
        while true {
            let current = placement
            let (member, bucket) = route(stream, in: current)
            do {
                return try await member.store.transaction { transaction in
                    try await Self.claim(bucket, of: current, on: transaction, member: member.name)
                    return try await body(transaction)
                }
            } catch let error as EventStoreError where error.code == .wrongPartition {
                let reloaded = try await reloadPlacement()
                if reloaded.version != current.version { continue }
                if ContinuousClock.now >= deadline { throw error }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    /// Checks, on a member's transaction, that the member owns `bucket` under `map`.
    static func claim(_ bucket: Int, of map: PlacementMap, on transaction: any EventStore, member: String) async throws {
        guard let memberTransaction = transaction as? any PartitionMemberStore else {
            throw EventStoreError.backend("member \(member)'s transactions cannot check buckets")
        }
        let state = try await memberTransaction.bucketState(bucket, mapVersion: map.version)
        guard state == .owned else {
            throw EventStoreError(
                code: .wrongPartition,
                reason: "member \(member) does not take writes of bucket \(bucket) under placement map \(map.version) (\(state.rawValue))")
        }
    }

    // MARK: EventStore

    @discardableResult
    public func create(_ stream: StreamName, metadata: Metadata, events: [EventMessage]) async throws -> AppendResult {
        try await write(stream) { try await $0.create(stream, metadata: metadata, events: events) }
    }

    @discardableResult
    public func append(_ events: [EventMessage], to stream: StreamName, expectedVersion: ExpectedVersion) async throws
        -> AppendResult
    {
        try await write(stream) { try await $0.append(events, to: stream, expectedVersion: expectedVersion) }
    }

    public func delete(_ stream: StreamName, mode: DeleteMode) async throws {
        try await write(stream) { try await $0.delete(stream, mode: mode) }
    }

    public func updateStreamMetadata(_ metadata: Metadata, of stream: StreamName) async throws {
        try await write(stream) { try await $0.updateStreamMetadata(metadata, of: stream) }
    }

    public func load(_ stream: StreamName, from: Int, count: Int?, matching: MetadataMatcher?) async throws -> RecordedEventSequence {
        try await reader(of: stream).load(stream, from: from, count: count, matching: matching)
    }

    public func loadReverse(_ stream: StreamName, from: Int?, count: Int?, matching: MetadataMatcher?) async throws
        -> RecordedEventSequence
    {
        try await reader(of: stream).loadReverse(stream, from: from, count: count, matching: matching)
    }

    public func hasStream(_ stream: StreamName) async throws -> Bool {
        try await reader(of: stream).hasStream(stream)
    }

    public func streamMetadata(of stream: StreamName) async throws -> Metadata {
        try await reader(of: stream).streamMetadata(of: stream)
    }

    /// The store a read of `stream` goes to: its member's. (Inside a transaction, reads go through the
    /// transaction's store; this store refuses them.)
    private func reader(of stream: StreamName) throws -> any EventStore {
        try TransactionScope.checkOutsideTransaction(of: ObjectIdentifier(identity))
        return route(stream, in: placement).member.store
    }

    /// Every member's names merged in byte order: each member is asked for its first `offset + limit` of the
    /// streams it owns (a member keeps the streams of buckets that moved away, in its order, but no longer
    /// lists them).
    public func streamNames(_ filter: NameFilter, matching: MetadataMatcher?, limit: Int, offset: Int) async throws -> [StreamName] {
        try await streamNames(filter, matching: matching, limit: limit, offset: offset, inTransaction: nil)
    }

    /// ``streamNames(_:matching:limit:offset:)`` with a transaction's member read by `inTransaction` (given
    /// how many names to read, and from where).
    func streamNames(
        _ filter: NameFilter, matching: MetadataMatcher?, limit: Int, offset: Int,
        inTransaction: (member: String, read: @Sendable (_ limit: Int, _ offset: Int) async throws -> [StreamName])?
    ) async throws -> [StreamName] {
        try StoreValidation.listing(filter, matching: matching, limit: limit, offset: offset)
        let wanted = offset.addingReportingOverflow(limit).overflow ? Int.max : offset + limit
        let map = placement
        let owned = { @Sendable (index: Int, read: @Sendable (_ limit: Int, _ offset: Int) async throws -> [StreamName]) in
            try await self.owned(by: index, in: map, wanted: wanted, read)
        }
        let lists = try await eachMember(
            inTransaction: inTransaction.map { open in
                let index = members.firstIndex { $0.name == open.member } ?? 0
                return (open.member, { try await owned(index, open.read) })
            }
        ) { index, store in
            try await owned(index) { try await store.streamNames(filter, matching: matching, limit: $0, offset: $1) }
        }
        return Self.merge(lists.map { $0.map(\.rawValue) }, offset: offset, limit: limit).compactMap { try? StreamName($0) }
    }

    /// The first `wanted` names that `read` lists (given a limit and an offset) of streams whose bucket the
    /// member at `index` owns under `map`.
    private func owned(
        by index: Int, in map: PlacementMap, wanted: Int, _ read: @Sendable (_ limit: Int, _ offset: Int) async throws -> [StreamName]
    ) async throws -> [StreamName] {
        try await Self.firstKept(wanted, read) { map.owners[PartitionKey.bucket(of: configuration.key.key(of: $0), count: map.bucketCount)] == index }
    }

    /// The first `wanted` names that `read` lists (given a limit and an offset) that `keep` keeps: a read of as
    /// many as wanted, then more while names were left out.
    static func firstKept<Name>(
        _ wanted: Int, _ read: @Sendable (_ limit: Int, _ offset: Int) async throws -> [Name], keep: (Name) -> Bool
    ) async throws -> [Name] {
        var names: [Name] = []
        var offset = 0
        while names.count < wanted {
            let asked = wanted - names.count
            let page = try await read(asked, offset)
            names += page.filter(keep)
            if page.count < asked { break }
            offset += page.count
        }
        return names
    }

    /// Every member's categories merged in byte order, each once.
    public func categoryNames(_ filter: NameFilter, limit: Int, offset: Int) async throws -> [String] {
        try await categoryNames(filter, limit: limit, offset: offset, inTransaction: nil)
    }

    /// ``categoryNames(_:limit:offset:)`` with a transaction's member read by `inTransaction`.
    func categoryNames(
        _ filter: NameFilter, limit: Int, offset: Int, inTransaction: (member: String, read: @Sendable (_ limit: Int) async throws -> [String])?
    ) async throws -> [String] {
        try StoreValidation.listing(filter, limit: limit, offset: offset)
        let wanted = offset.addingReportingOverflow(limit).overflow ? Int.max : offset + limit
        let lists = try await eachMember(inTransaction: inTransaction.map { open in (open.member, { try await open.read(wanted) }) }) {
            try await $1.categoryNames(filter, limit: wanted, offset: 0)
        }
        return Self.merge(lists, offset: offset, limit: limit)
    }

    /// Runs `read` on every member at once, but for a transaction's member, whose list `inTransaction` reads
    /// on the transaction; the results in member order.
    func eachMember<T: Sendable>(
        inTransaction: (member: String, read: @Sendable () async throws -> T)? = nil,
        _ read: @escaping @Sendable (_ index: Int, _ store: any EventStore) async throws -> T
    ) async throws -> [T] {
        if inTransaction == nil { try TransactionScope.checkOutsideTransaction(of: ObjectIdentifier(identity)) }
        return try await withThrowingTaskGroup(of: (Int, T).self) { group in
            for (index, member) in members.enumerated() {
                if let inTransaction, inTransaction.member == member.name {
                    group.addTask { (index, try await inTransaction.read()) }
                } else {
                    group.addTask { (index, try await read(index, member.store)) }
                }
            }
            var results = [T?](repeating: nil, count: members.count)
            for try await (index, value) in group { results[index] = value }
            return results.compactMap { $0 }
        }
    }

    /// Sorted lists merged in UTF-8 byte order, each name once, then `offset` and `limit` applied.
    static func merge(_ lists: [[String]], offset: Int, limit: Int) -> [String] {
        let all = lists.joined().sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var merged: [String] = []
        for name in all where merged.last.map({ !$0.utf8.elementsEqual(name.utf8) }) ?? true { merged.append(name) }
        return Array(merged.dropFirst(offset).prefix(limit))
    }

    // MARK: Transactions

    /// Runs `body` in one transaction of one member: the member of the first stream it touches (a
    /// listing, which touches every member, is refused inside it). A call for a stream of another member
    /// fails with `invalidArgument` and rolls the transaction back; nothing is written.
    @discardableResult
    public func transaction<T: Sendable>(_ body: @Sendable (any EventStore) async throws -> T) async throws -> T {
        try TransactionScope.checkCanBegin()
        let transaction = PartitionedTransaction(store: self, map: placement)
        let result: T
        do {
            result = try await TransactionScope.run(in: ObjectIdentifier(identity)) { try await body(transaction) }
        } catch {
            await transaction.rollBack(after: error)
            throw error
        }
        try await transaction.finish(.success(()))
        return result
    }
}

extension PartitionedEventStore: SnapshotStore {
    /// The member a snapshot lives on: that of the aggregate's stream (`type-id`, as a repository with one
    /// stream per aggregate names it), so that it lives beside its events; a type and id that make no
    /// stream name are routed by that text all the same.
    private func snapshotMember(type: String, id: String) throws -> (index: Int, store: any SnapshotStore) {
        let text = "\(type)-\(id)"
        let current = placement
        let key = (try? StreamName(text)).map(configuration.key.key(of:)) ?? text
        let index = current.owners[PartitionKey.bucket(of: key, count: current.bucketCount)]
        guard let snapshots = members[index].store as? any SnapshotStore else {
            throw EventStoreError.invalidArgument("member \(members[index].name) keeps no snapshots")
        }
        return (index, snapshots)
    }

    public func snapshot(ofType aggregateType: String, id aggregateID: String) async throws -> Snapshot? {
        try await snapshotMember(type: aggregateType, id: aggregateID).store.snapshot(ofType: aggregateType, id: aggregateID)
    }

    /// Saves each snapshot on its aggregate's member (one save per member).
    public func save(_ snapshots: [Snapshot]) async throws {
        var byMember: [Int: (store: any SnapshotStore, snapshots: [Snapshot])] = [:]
        for snapshot in snapshots {
            let (index, store) = try snapshotMember(type: snapshot.aggregateType, id: snapshot.aggregateID)
            byMember[index, default: (store, [])].snapshots.append(snapshot)
        }
        for index in byMember.keys.sorted() {
            guard let group = byMember[index] else { continue }
            try await group.store.save(group.snapshots)
        }
    }

    /// Removes the type's snapshots from every member.
    public func removeAll(ofType aggregateType: String) async throws {
        _ = try await eachMember { _, store in
            guard let snapshots = store as? any SnapshotStore else { return }
            try await snapshots.removeAll(ofType: aggregateType)
        }
    }
}

extension PartitionedEventStore: ScavengingEventStore {
    /// Scavenges every member; the counts added up.
    @discardableResult
    public func scavenge() async throws -> ScavengeResult {
        let results = try await eachMember { _, store -> ScavengeResult in
            guard let scavenging = store as? any ScavengingEventStore else { return ScavengeResult() }
            return try await scavenging.scavenge()
        }
        return results.reduce(ScavengeResult()) { ScavengeResult(streams: $0.streams + $1.streams, events: $0.events + $1.events) }
    }
}
