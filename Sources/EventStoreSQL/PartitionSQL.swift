@_spi(Backend) import EventStore

/// The partition placement table's SQL, the same on every SQL backend but for its locks: one row per
/// bucket (its map version and state, `owned`, `fenced` or `foreign`) and a row for bucket -1 that holds
/// the placement map as JSON text. A write checks its bucket's row, holding a shared lock until it commits;
/// a change of the map (or a bucket's fence) takes that lock exclusively before it rewrites the rows, so it
/// waits for those writes, and writes that check after it see the new version.
///
/// The lock is the row's own on MariaDB (`LOCK IN SHARE MODE` against the change's `FOR UPDATE`), the write
/// transaction on SQLite, and advisory locks on PostgreSQL: there a row lock would give the writer its
/// transaction id before its stream's append lock does, and two writers of one stream could then commit in
/// the other order than their ids (the append refuses that as a reordering).
package struct PartitionSQL: Sendable {
    /// The table's quoted name (written by the program, never taken from input).
    package let table: String
    /// The clause that holds a row read shared until the transaction ends: ` LOCK IN SHARE MODE` (MariaDB),
    /// nothing on SQLite (whose write transaction holds the database) and PostgreSQL (advisory locks).
    package let shareLock: String
    /// The clause that holds a row read for update: ` FOR UPDATE`, nothing on SQLite.
    package let updateLock: String
    /// PostgreSQL's advisory locks' keys start with this text (the table's name), `nil` elsewhere.
    package let advisoryKey: String?

    package init(table: String, shareLock: String, updateLock: String, advisoryKey: String? = nil) {
        (self.table, self.shareLock, self.updateLock, self.advisoryKey) = (table, shareLock, updateLock, advisoryKey)
    }

    /// Before a write's check of its bucket (its own statement, so that the check's snapshot comes after
    /// the wait): the map's and the bucket's advisory locks, shared.
    package func lockForWrite(of bucket: Int) -> SQLQuery? {
        advisoryKey.map { key in
            """
            SELECT pg_advisory_xact_lock_shared(hashtextextended(\(bind: key + ":map"), 0)),
                pg_advisory_xact_lock_shared(hashtextextended(\(bind: key + ":\(bucket)"), 0))
            """
        }
    }

    /// Before a change of the map: the map's advisory lock, exclusive.
    package func lockForMapChange() -> SQLQuery? {
        advisoryKey.map { "SELECT pg_advisory_xact_lock(hashtextextended(\(bind: $0 + ":map"), 0))" }
    }

    /// A bucket's fence set or released: its advisory lock, exclusive, then its row changed.
    package func fence(_ bucket: Int, version: Int64, from: BucketState, to: BucketState) -> [SQLQuery] {
        let lock: SQLQuery? = advisoryKey.map { "SELECT pg_advisory_xact_lock(hashtextextended(\(bind: $0 + ":\(bucket)"), 0))" }
        let change: SQLQuery = """
            UPDATE \(unsafeSQL: table) SET state = \(bind: to.rawValue)
            WHERE bucket = \(bind: bucket) AND map_version = \(bind: version) AND state = \(bind: from.rawValue)
            """
        return (lock.map { [$0] } ?? []) + [change]
    }

    /// The row that holds the map.
    static let mapBucket = -1

    package func map(lock: Bool) -> SQLQuery {
        "SELECT map FROM \(unsafeSQL: table) WHERE bucket = \(bind: Self.mapBucket)\(unsafeSQL: lock ? updateLock : "")"
    }

    /// The bucket's state under `version`: no row when the member stores another version.
    package func state(of bucket: Int, version: Int64) -> SQLQuery {
        "SELECT state FROM \(unsafeSQL: table) WHERE bucket = \(bind: bucket) AND map_version = \(bind: version)\(unsafeSQL: shareLock)"
    }

    /// The buckets whose state is `fenced`, as text, in order.
    package func fenced() -> SQLQuery {
        "SELECT CAST(bucket AS CHAR(20)) FROM \(unsafeSQL: table) WHERE state = \(bind: BucketState.fenced.rawValue) ORDER BY bucket"
    }

    package func clear() -> SQLQuery {
        "DELETE FROM \(unsafeSQL: table)"
    }

    /// Inserts for every row of `map` as the member `member` stores it, at most 200 rows per statement.
    package func insert(_ map: PlacementMap, as member: String) -> [SQLQuery] {
        let index = map.members.firstIndex(of: member)
        var rows: [SQLQuery] = ["(\(bind: Self.mapBucket), \(bind: map.version), \(bind: BucketState.foreign.rawValue), \(bind: map.jsonText))"]
        for (bucket, owner) in map.owners.enumerated() {
            let state: BucketState = owner == index ? .owned : .foreign
            rows.append("(\(bind: bucket), \(bind: map.version), \(bind: state.rawValue), NULL)")
        }
        return stride(from: 0, to: rows.count, by: 200).map { start in
            "INSERT INTO \(unsafeSQL: table) (bucket, map_version, state, map) VALUES "
                + SQLQuery.joined(Array(rows[start..<min(start + 200, rows.count)]), separator: ", ")
        }
    }

    /// Reads a map row's text.
    package static func map(_ text: String?) throws(EventStoreError) -> PlacementMap? {
        guard let text else { return nil }
        return try PlacementMap(jsonText: text)
    }

    /// Reads a state row's text; no row is `foreign`.
    package static func state(_ text: String?) throws(EventStoreError) -> BucketState {
        guard let text else { return .foreign }
        guard let state = BucketState(rawValue: text) else { throw .corrupt("a bucket's state is \(JSONValue.string(text).jsonText)") }
        return state
    }
}

/// Partition placement on a blocking backend, from its ``BlockingSQLOperations``.
extension BlockingSQLOperations {
    package func storedPlacement(_ c: Connection) throws -> PlacementMap? {
        try PartitionSQL.map(try firstColumn(c, partitionSQL.map(lock: false)).first)
    }

    /// Stores `map` when the stored map's version is `replacing`; the caller holds the write transaction.
    package func storePlacement(_ c: Connection, _ map: PlacementMap, as member: String, replacing version: Int64?) throws -> Bool {
        let sql = partitionSQL
        let stored = try PartitionSQL.map(try firstColumn(c, sql.map(lock: true)).first)
        guard stored?.version == version else { return false }
        try run(c, sql.clear())
        for insert in sql.insert(map, as: member) { try run(c, insert) }
        return true
    }

    package func bucketState(_ c: Connection, _ bucket: Int, mapVersion version: Int64) throws -> BucketState {
        try PartitionSQL.state(try firstColumn(c, partitionSQL.state(of: bucket, version: version)).first)
    }
}

extension SQLEventStore: PartitionMemberStore {
    @_spi(Backend) public func storedPlacement() async throws -> PlacementMap? {
        try await read(.readPlacement) { try await driver.storedPlacement($0) }
    }

    @_spi(Backend) public func storePlacement(_ map: PlacementMap, as member: String, replacing version: Int64?) async throws -> Bool {
        try map.validate()
        guard map.members.contains(member) else { throw EventStoreError.invalidArgument("\(member) is not a member of the placement map") }
        return try await write(.changePlacement, signal: false) { try await driver.storePlacement($0, map, as: member, replacing: version) }
    }

    @_spi(Backend) public func bucketState(_ bucket: Int, mapVersion version: Int64) async throws -> BucketState {
        guard transactionContext != nil else {
            throw EventStoreError.invalidArgument("a bucket's state is read inside a transaction, which holds its row")
        }
        return try await read(.readPlacement) { try await driver.bucketState($0, bucket, mapVersion: version) }
    }

    @_spi(Backend) public func fence(_ bucket: Int, mapVersion version: Int64, _ fenced: Bool) async throws -> BucketState {
        try await transaction { store in
            guard let store = store as? SQLEventStore else { throw EventStoreError.backend("a transaction's store is not the store's") }
            let (from, to): (BucketState, BucketState) = fenced ? (.owned, .fenced) : (.fenced, .owned)
            let sql = store.driver.partitionSQL
            try await store.write(.changePlacement, signal: false) {
                try await store.driver.execute($0, sql.fence(bucket, version: version, from: from, to: to))
            }
            return try await store.bucketState(bucket, mapVersion: version)
        }
    }

    @_spi(Backend) public func fencedBuckets() async throws -> [Int] {
        try await read(.readPlacement) { try await driver.fencedBuckets($0) }
    }

    @_spi(Backend) public func storedStreamNames(after name: String, limit: Int) async throws -> [String] {
        if limit < 1 { throw EventStoreError.invalidArgument("limit must be 1 or more, not \(limit)") }
        return try await read(.copyStream) { try await driver.storedStreamNames($0, after: name, limit: limit) }
    }

    /// Throws unless this is a transaction's store.
    private func checkInTransaction(_ what: String) throws {
        guard transactionContext != nil else { throw EventStoreError.invalidArgument("\(what) inside a transaction") }
    }

    @_spi(Backend) public func storedStream(_ stream: StreamName, from position: Int) async throws -> StoredStream? {
        try checkInTransaction("a stream's copy is read")
        guard let row = try await read(.copyStream, stream: stream, { try await driver.storedRow($0, stream) }) else { return nil }
        guard let state = StoredStream.State(rawValue: row.deleted) else {
            throw EventStoreError.corrupt("stream \(stream)'s row has the state \(row.deleted)")
        }
        let metadata = state == .live ? try await streamMetadata(of: stream) : [:]
        let query = driver.pageQuery(streamID: row.id, direction: .forward, matching: nil, retention: .none)
        var events: [RecordedEvent] = []
        var bound = max(position, 1)
        while true {
            let page = try await read(.copyStream, stream: stream) {
                try await driver.page($0, query, stream: stream, bound: bound, limit: Self.copyPageSize)
            }
            events += page
            guard page.count == Self.copyPageSize, let last = page.last else { break }
            bound = last.position + 1
        }
        return StoredStream(
            name: stream, rowID: row.id, metadata: metadata, version: row.version, state: state, beginsAt: row.beginsAt, removed: row.removed,
            events: events)
    }

    /// The events a stream's copy reads per query.
    static let copyPageSize = 1000

    @_spi(Backend) public func insertCopy(_ copy: StoredStream) async throws {
        try checkInTransaction("a stream's copy is written")
        let name = copy.name
        if try await read(.copyStream, stream: name, { try await driver.storedRow($0, name) }) != nil {
            throw EventStoreError.streamExists(name)
        }
        let streams = driver.copyTables.streams
        // The row as `create` makes it, then each run of consecutive positions appended after the version
        // set just before it, then the row's version, state and counters.
        try await create(name, metadata: copy.metadata, events: [])
        var start = 0
        while start < copy.events.count {
            var end = start + 1
            while end < copy.events.count, copy.events[end].position == copy.events[end - 1].position + 1 { end += 1 }
            let first = copy.events[start].position
            try await write(.copyStream, stream: name, signal: false) {
                try await driver.execute($0, [StreamCopySQL.setVersion(streams, name, first - 1)])
            }
            try await append(copy.events[start..<end].map(\.message), to: name, expectedVersion: .exact(first - 1))
            start = end
        }
        let row = StoredStreamRow(id: 0, version: copy.version, deleted: copy.state.rawValue, beginsAt: copy.beginsAt, removed: copy.removed)
        try await write(.copyStream, stream: name, signal: false) {
            try await driver.execute($0, [StreamCopySQL.setRow(streams, name, row)])
        }
    }

    @_spi(Backend) public func removeCopy(of stream: StreamName) async throws {
        try checkInTransaction("a stream's copy is removed")
        guard let row = try await read(.copyStream, stream: stream, { try await driver.storedRow($0, stream) }) else { return }
        let (streams, events) = driver.copyTables
        try await write(.copyStream, stream: stream, signal: false) {
            try await driver.execute($0, StreamCopySQL.remove(events: events, streams: streams, id: row.id))
        }
    }
}
