@_spi(Backend) import EventStore

/// The partition placement table's SQL, the same on every SQL backend but for its row locks: one row per
/// bucket (its map version and state, `owned`, `fenced` or `foreign`) and a row for bucket -1 that holds
/// the placement map as JSON text. A write checks its bucket's row, holding it shared until it commits; a
/// change of the map rewrites every row, so it waits for those writes, and writes that check after it see
/// the new version.
package struct PartitionSQL: Sendable {
    /// The table's quoted name (written by the program, never taken from input).
    package let table: String
    /// The clause that holds a row read shared until the transaction ends: ` FOR SHARE` (PostgreSQL),
    /// ` LOCK IN SHARE MODE` (MariaDB), nothing on SQLite (whose write transaction holds the database).
    package let shareLock: String
    /// The clause that holds a row read for update: ` FOR UPDATE`, nothing on SQLite.
    package let updateLock: String

    package init(table: String, shareLock: String, updateLock: String) {
        (self.table, self.shareLock, self.updateLock) = (table, shareLock, updateLock)
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
}
