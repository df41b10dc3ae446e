@_spi(Backend) import EventStore
import EventStoreSQL
import Foundation

/// The store's operations on one connection. The caller provides the transaction (or savepoint) around
/// each write, so that every write is all or nothing, and has validated the arguments.
struct SQLiteOperations: BlockingSQLOperations {
    typealias PageQuery = (head: SQLQuery, tail: SQLQuery)
    let tables: SQLiteTables
    let dialect = SQLiteDialect()

    // MARK: Schema

    /// Creates or upgrades the schema; safe to run from several processes at once.
    /// - Returns: the schema version.
    func migrate(_ c: SQLiteConnection) throws -> Int {
        try c.immediateTransaction {
            try c.query("CREATE TABLE IF NOT EXISTS \(tables.schemaTable) (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)")
            var current = 0
            try c.query("SELECT version FROM \(tables.schemaTable) WHERE id = 1") { current = Int($0.int(0)) }
            if current > tables.latestVersion {
                throw EventStoreError.backend(
                    "the database's schema is at version \(current), newer than this build knows (\(tables.latestVersion)): upgrade swift-event-store")
            }
            for migration in tables.migrations where migration.version > current {
                try c.execute(migration.sql)
                current = migration.version
            }
            try c.query(
                "INSERT INTO \(tables.schemaTable) (id, version) VALUES (1, \(bind: current)) ON CONFLICT (id) DO UPDATE SET version = excluded.version"
            )
            return current
        }
    }

    // MARK: Writes

    /// Nothing to take: every write runs in a `BEGIN IMMEDIATE` transaction, which holds the database's one
    /// write lock until it ends.
    func lockAppends(_ c: SQLiteConnection, of name: StreamName) {}

    func rows(_ events: [EventMessage]) -> EventRows { EventRows(events) { Timestamp.format(microseconds: $0) } }

    func create(_ c: SQLiteConnection, _ name: StreamName, metadata: Metadata, events: EventRows) throws -> AppendResult {
        let (id, version) = try createTarget(c, name, metadata: metadata)
        let last = try insert(c, events, streamID: id, after: version, stream: name)
        if !events.isEmpty { try c.query("UPDATE \(tables.streams) SET version = \(bind: version + events.count) WHERE id = \(bind: id)") }
        return AppendResult(streamVersion: version + events.count, lastGlobalPosition: last)
    }

    /// In the write transaction the connections opened (`commitsItself` is never true here).
    func append(
        _ c: SQLiteConnection, _ events: EventRows, to name: StreamName, expectedVersion: ExpectedVersion, commitsItself: Bool
    ) throws -> AppendResult {
        let (id, version) = try appendTarget(c, name, expectedVersion: expectedVersion)
        let last = try insert(c, events, streamID: id, after: version, stream: name)
        if !events.isEmpty {
            try c.query("UPDATE \(tables.streams) SET version = \(bind: version + events.count) WHERE id = \(bind: id)")
        }
        return AppendResult(streamVersion: version + events.count, lastGlobalPosition: last)
    }

    func insertStream(_ c: SQLiteConnection, _ name: StreamName, metadata: Metadata) throws -> Int64 {
        let category: SQLValue = name.category.map { .text($0) } ?? .null
        let retention = RetentionSQL.insertion(metadata)
        do {
            try c.query(
                """
                INSERT INTO \(tables.streams) (name, category, metadata, version, created_at\(retention.columns))
                VALUES (\(bind: name.rawValue), \(bind: category), \(bind: metadata.jsonText), 0, \(bind: Timestamp.format(Date()))\(retention.values))
                """)
        } catch let error as SQLiteError where error.isUniqueViolation {
            throw EventStoreError.streamExists(name)
        }
        return c.lastInsertRowID
    }

    /// Inserts the events a chunk per statement (at most 64 rows: 640 values, below SQLite's 32,766).
    private func insert(_ c: SQLiteConnection, _ events: EventRows, streamID: Int64, after version: Int, stream: StreamName)
        throws -> GlobalPosition?
    {
        var position = version + 1
        for chunk in EventInsert.chunks(of: events.count, largest: 64) {
            let statement = EventInsert.statement(into: "\(tables.events)", events, chunk, streamID: streamID, firstPosition: position)
            do {
                try c.query(statement)
            } catch let error as SQLiteError where error.isUniqueViolation {
                // SQLite undid the statement's rows: find which event it refused.
                try explainDuplicate(c, events.events[chunk], streamID: streamID, stream: stream)
                throw error
            }
            position += chunk.count
        }
        return events.isEmpty ? nil : GlobalPosition(sequence: c.lastInsertRowID)
    }

    var tableNames: SQLTableNames { tables.names }

    func run(_ c: SQLiteConnection, _ statement: SQLQuery) throws { try c.query(statement) }

    func firstColumn(_ c: SQLiteConnection, _ query: SQLQuery) throws -> [String] {
        var values: [String] = []
        try c.query(query) { values.append($0.text(0)) }
        return values
    }

    // MARK: Reads

    func storedRow(_ c: SQLiteConnection, _ name: StreamName) throws -> StoredStreamRow? {
        var row: StoredStreamRow?
        try c.query(StreamCopySQL.row(tables.streams.quoted, name)) {
            row = StoredStreamRow(
                id: $0.int(0), version: Int($0.int(1)), deleted: Int($0.int(2)), beginsAt: Int($0.int(3)), removed: Int($0.int(4)))
        }
        return row
    }

    var copyTables: (streams: String, events: String) { (tables.streams.quoted, tables.events.quoted) }

    func storedStreamNames(_ c: SQLiteConnection, after name: String, limit: Int) throws -> [String] {
        try firstColumn(c, StreamCopySQL.names(tables.streams.quoted, after: name, limit: limit))
    }

    func stream(_ c: SQLiteConnection, _ name: StreamName) throws -> StreamRow? {
        var row: StreamRow?
        try c.query(DeletionSQL.row(tables.streams.quoted, name)) {
            row = StreamRow(id: $0.int(0), version: Int($0.int(1)), deleted: Int($0.int(2)))
        }
        return row
    }

    func metadata(_ c: SQLiteConnection, of name: StreamName) throws -> Metadata {
        var text: String?
        try c.query("SELECT metadata FROM \(tables.streams) WHERE name = \(bind: name.rawValue) AND deleted = 0") { text = $0.text(0) }
        guard let text else { throw EventStoreError.streamNotFound(name) }
        return try storedMetadata(text)
    }

    /// The query of a load's pages, without the bound position and limit.
    func loadTarget(_ c: SQLiteConnection, _ name: StreamName) throws -> (id: Int64, retention: LoadRetention)? {
        var found: (id: Int64, retention: LoadRetention)?
        try c.query(RetentionSQL.loadTarget(tables.streams.quoted, name)) { row in
            found = (row.int(0), LoadRetention(firstKept: Int(row.int(1)), judgesAge: !row.isNull(2)))
        }
        return found
    }

    /// The query of a load's pages, without the bound position and limit (SQLite needs no upper bound: its
    /// planner walks the index in order).
    func pageQuery(streamID: Int64, direction: RecordedEventSequence.Direction, matching: MetadataMatcher?, retention: LoadRetention)
        -> PageQuery
    {
        var filter = matching.map { dialect.predicate(for: $0, metadata: "e.metadata") } ?? "1 = 1"
        if retention.firstKept > 1 { filter = "\(filter) AND e.position >= \(bind: retention.firstKept)" }
        if retention.judgesAge { filter = "\(filter) AND \(RetentionSQL.withinAge(dialect, streams: tables.streams.quoted, streamID: streamID))" }
        let comparison = direction == .forward ? ">=" : "<="
        let order = direction == .forward ? "ASC" : "DESC"
        let columns = "e.global_position, e.position, e.uuid, e.message_name, e.payload, e.metadata, e.created_at"
        let head: SQLQuery =
            "SELECT \(unsafeSQL: columns) FROM \(tables.events) AS e WHERE e.stream_id = \(bind: streamID) AND \(filter) AND e.position \(unsafeSQL: comparison) "
        return (head, " ORDER BY e.position \(unsafeSQL: order) LIMIT ")
    }

    func page(_ c: SQLiteConnection, _ query: PageQuery, stream: StreamName, bound: Int, limit: Int)
        throws -> [RecordedEvent]
    {
        var events: [RecordedEvent] = []
        events.reserveCapacity(limit)
        try c.query(query.head + "\(bind: bound)" + query.tail + "\(bind: limit)") { row in
            events.append(try recordedEvent(row, stream: stream))
        }
        return events
    }

    /// Events of `target` after `position`, in global order (one writer: positions follow commits).
    /// Reads the head first: every event up to it was committed before the page's read began, so a short
    /// page saw all of them.
    func readAll(_ c: SQLiteConnection, after position: GlobalPosition, of target: SubscriptionTarget, limit: Int) throws
        -> (events: [RecordedEvent], readable: GlobalPosition?)
    {
        let head = try headPosition(c)
        let columns = "e.global_position, e.position, e.uuid, e.message_name, e.payload, e.metadata, e.created_at, s.name"
        let query: SQLQuery = """
            SELECT \(unsafeSQL: columns) FROM \(tables.events) AS e JOIN \(tables.streams) AS s ON s.id = e.stream_id
            WHERE e.global_position > \(bind: position.sequence) AND \(dialect.targetCondition(target, name: "s.name", category: "s.category"))
                AND \(RetentionSQL.kept(dialect))
            ORDER BY e.global_position LIMIT \(bind: limit)
            """
        var events: [RecordedEvent] = []
        try c.query(query) { row in
            events.append(try recordedEvent(row, stream: try storedStreamName(row.text(7))))
        }
        return (events, head)
    }

    func eventCount(_ c: SQLiteConnection, after position: GlobalPosition, of target: SubscriptionTarget, limit: Int) throws -> Int {
        let query = dialect.eventCount(
            events: tables.events.quoted, streams: tables.streams.quoted, after: "e.global_position > \(bind: position.sequence)",
            of: target, limit: limit)
        var count = 0
        try c.query(query) { count = Int($0.int(0)) }
        return count
    }

    func headPosition(_ c: SQLiteConnection) throws -> GlobalPosition {
        var head: Int64 = 0
        try c.query("SELECT COALESCE(MAX(global_position), 0) FROM \(tables.events)") { head = $0.int(0) }
        return GlobalPosition(sequence: head)
    }

    /// The events table's AUTOINCREMENT counter: positions are never handed out twice, even after deletes.
    func highestPosition(_ c: SQLiteConnection) throws -> GlobalPosition {
        var highest: Int64 = 0
        try c.query("SELECT seq FROM sqlite_sequence WHERE name = \(bind: tables.names.events.name)") { highest = $0.int(0) }
        return GlobalPosition(sequence: highest)
    }

    func checkpoint(_ c: SQLiteConnection, named name: String) throws -> GlobalPosition? {
        var text: String?
        try c.query("SELECT position FROM \(tables.checkpoints) WHERE name = \(bind: name)") { text = $0.text(0) }
        return try text.map { text in
            guard let position = GlobalPosition(text) else { throw EventStoreError.corrupt("checkpoint \"\(name)\" is corrupt") }
            return position
        }
    }

    func saveCheckpoint(_ c: SQLiteConnection, _ position: GlobalPosition, named name: String) throws {
        try c.query(
            """
            INSERT INTO \(tables.checkpoints) (name, position, updated_at) VALUES (\(bind: name), \(bind: position.description), \(bind: Timestamp.format(Date())))
            ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at
            """)
    }

    // MARK: Projections

    var projectionSQL: ProjectionSQL { ProjectionSQL(table: tables.projections.quoted) }

    func projectionRecord(_ c: SQLiteConnection, named name: String) throws -> ProjectionRecord? {
        var row: ProjectionSQL.Row?
        try c.query(projectionSQL.select(name, lock: false)) { r in
            func optionalText(_ column: Int32) -> String? { r.isNull(column) ? nil : r.text(column) }
            row = ProjectionSQL.Row(
                name: r.text(0), kind: r.text(1), status: r.text(2), state: optionalText(3), positions: r.text(4),
                checkpoint: optionalText(5), lockedUntil: r.isNull(6) ? nil : r.int(6), leaseOwner: optionalText(7),
                readModelAction: optionalText(8), source: optionalText(9))
        }
        return try row.map { try projectionSQL.record($0) }
    }

    func projectionNames(_ c: SQLiteConnection, _ filter: NameFilter, limit: Int, offset: Int) throws -> [String] {
        var names: [String] = []
        try c.query(projectionSQL.names(filter, dialect: dialect, limit: limit, offset: offset)) { names.append($0.text(0)) }
        return names
    }

    /// Reads, edits and writes a projection's row, and deletes the stream the edit names (the caller holds
    /// the write transaction).
    func changeProjection<Result>(
        _ c: SQLiteConnection, named name: String, _ change: (inout ProjectionRecord?) throws -> ProjectionChange<Result>
    ) throws -> Result {
        let existing = try projectionRecord(c, named: name)
        var record = existing
        let outcome = try change(&record)
        if let record {
            try c.query(existing == nil ? projectionSQL.insert(record) : projectionSQL.update(record))
        } else if existing != nil {
            try c.query(projectionSQL.delete(name))
        }
        if let stream = outcome.deleteStream, try self.stream(c, stream)?.isLive == true { try delete(c, stream, mode: .purge) }
        return outcome.result
    }

    func snapshot(_ c: SQLiteConnection, type: String, id: String) throws -> Snapshot? {
        var found: Snapshot?
        try c.query(
            "SELECT last_version, state, created_at FROM \(tables.snapshots) WHERE aggregate_type = \(bind: type) AND aggregate_id = \(bind: id)"
        ) { row in
            found = try Snapshot(
                aggregateType: type, aggregateID: id, lastVersion: Int(row.int(0)), state: Payload(storedJSON: row.text(1)),
                createdAt: Timestamp.date(microseconds: Timestamp.parseMicroseconds(row.text(2)) ?? 0))
        }
        return found
    }

    func save(_ c: SQLiteConnection, _ snapshots: [Snapshot]) throws {
        for snapshot in snapshots {
            try c.query(
                """
                INSERT INTO \(tables.snapshots) (aggregate_type, aggregate_id, last_version, state, created_at)
                VALUES (\(bind: snapshot.aggregateType), \(bind: snapshot.aggregateID), \(bind: snapshot.lastVersion),
                    \(bind: snapshot.state.jsonText), \(bind: Timestamp.format(snapshot.createdAt)))
                ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET last_version = excluded.last_version,
                    state = excluded.state, created_at = excluded.created_at
                """)
        }
    }

    func removeSnapshots(_ c: SQLiteConnection, type: String) throws {
        try c.query("DELETE FROM \(tables.snapshots) WHERE aggregate_type = \(bind: type)")
    }

    // MARK: Consumer groups

    /// Write transactions exclude each other: a group's row needs no lock of its own.
    var locksGroupRows: Bool { false }

    /// Nor does a bucket's: a write's transaction (`BEGIN IMMEDIATE`) holds the database until it ends.
    var partitionSQL: PartitionSQL { PartitionSQL(table: tables.partitions.quoted, shareLock: "", updateLock: "") }

    /// The database is a file on this machine: its clock is the machine's.
    func databaseNow(_ c: SQLiteConnection) throws -> Int64 { Timestamp.microseconds(Date()) }

    /// In the write transaction no other writer can have inserted it.
    func insertConsumerGroup(_ c: SQLiteConnection, _ sql: ConsumerGroupSQL, name: String, record: String) throws -> Bool {
        try c.query(sql.insert(name, record))
        return true
    }

    private func recordedEvent(_ row: SQLiteRow, stream: StreamName) throws -> RecordedEvent {
        guard let uuid = row.bytes(2, UUIDText.parse), let createdAt = row.bytes(6, Timestamp.parseMicroseconds(utf8:)) else {
            throw EventStoreError.corrupt("stored event \(row.int(0)) of \"\(stream)\" is corrupt (uuid or created_at)")
        }
        let message = EventMessage(
            messageName: row.text(3), payload: Payload(storedJSON: row.text(4)), metadata: try storedMetadata(row.text(5)),
            uuid: uuid, createdAtMicros: createdAt)
        return RecordedEvent(
            streamName: stream, position: Int(row.int(1)), globalPosition: GlobalPosition(sequence: row.int(0)),
            message: message)
    }

    func streamNames(_ c: SQLiteConnection, _ filter: NameFilter, matching: MetadataMatcher?, limit: Int, offset: Int)
        throws -> [StreamName]
    {
        var names: [String] = []
        try c.query(DeletionSQL.streamNames(dialect, streams: tables.streams.quoted, filter, matching: matching, limit: limit, offset: offset)) {
            names.append($0.text(0))
        }
        return try names.map { name throws(EventStoreError) in try storedStreamName(name) }
    }

    func categoryNames(_ c: SQLiteConnection, _ filter: NameFilter, limit: Int, offset: Int) throws -> [String] {
        var categories: [String] = []
        try c.query(DeletionSQL.categoryNames(dialect, streams: tables.streams.quoted, filter, limit: limit, offset: offset)) {
            categories.append($0.text(0))
        }
        return categories
    }
}
