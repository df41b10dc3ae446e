#if MySQL
@_spi(Backend) import EventStore
import EventStoreSQL
import Foundation
import Synchronization

/// The store's operations on one connection, inside a transaction or savepoint the caller opened, on
/// arguments the store validated.
struct MySQLOperations: BlockingSQLOperations {
    let tables: MySQLTables
    /// The connections' read timeout, in whole seconds: no statement the store sends may wait longer.
    let statementSeconds: UInt32
    /// How long a start waits for another process's migration (``MySQLConfiguration/migrationTimeout``).
    let migrationTimeout: Duration
    let dialect = MySQLDialect()
    /// The highest head a committed read saw, shared by every connection of the store (see `readAll`).
    let knownHead = KnownHead()
    /// The highest head below which every event is known to be on disk (see `makeDurable`).
    let knownDurable = KnownHead()
    /// The most rows of one `INSERT` statement (each row binds 10 values; the protocol allows 65,535), a power
    /// of two (see `EventInsert.chunks`).
    static let rowsPerInsert = 256

    // MARK: Schema

    /// Waits up to `migrationTimeout` for the named migration lock, in waits shorter than the connection's
    /// read timeout (one wait past it would end the connection, though the other process's migration is only
    /// slow).
    private func takeMigrationLock(_ c: MariaDBConnection) throws {
        let wait = max(0, min(5, Int(statementSeconds) - 1))
        let deadline = ContinuousClock.now + migrationTimeout
        while true {
            var locked = false
            try c.query("SELECT GET_LOCK(\(bind: tables.migrationLockName), \(bind: wait))") { row in locked = row.first == "1" }
            if locked { return }
            guard ContinuousClock.now < deadline else {
                throw EventStoreError.backend(
                    "another process held the migration lock for \(migrationTimeout) (its migration is slow, or it hangs): see migration_timeout")
            }
            // A blocking worker's thread, not the cooperative pool: the pause between waits of 0 s.
            if wait == 0 { Thread.sleep(forTimeInterval: 0.1) }
        }
    }

    /// Creates or upgrades the schema. DDL commits implicitly in MySQL, so concurrent starts are serialised
    /// by a named server lock instead of a transaction, and every statement is idempotent.
    func migrate(_ c: MariaDBConnection) throws -> Int {
        try takeMigrationLock(c)
        defer { _ = try? c.query("SELECT RELEASE_LOCK(\(bind: tables.migrationLockName))") }
        try c.execute("CREATE TABLE IF NOT EXISTS \(tables.schemaTable) (id INT NOT NULL PRIMARY KEY, version INT NOT NULL) ENGINE=InnoDB")
        var current = 0
        try c.query("SELECT version FROM \(unsafeSQL: tables.schemaTable) WHERE id = 1") { row in
            current = row.first.flatMap { $0.flatMap(Int.init) } ?? 0
        }
        if current > tables.latestVersion {
            throw EventStoreError.backend(
                "the database's schema is at version \(current), newer than this build knows (\(tables.latestVersion)): upgrade swift-event-store")
        }
        for migration in tables.migrations where migration.version > current {
            for statement in migration.statements { try c.execute(statement) }
            current = migration.version
        }
        try c.query(
            "INSERT INTO \(unsafeSQL: tables.schemaTable) (id, version) VALUES (1, \(bind: current)) ON DUPLICATE KEY UPDATE version = \(bind: current)")
        return current
    }

    // MARK: Writes

    /// Serialises appends until commit: positions are handed out in commit order, so a reader of the
    /// global order never passes over a late commit.
    private func lockAppends(_ c: MariaDBConnection) throws {
        try c.query("SELECT id FROM \(unsafeSQL: tables.lock) WHERE id = 1 FOR UPDATE")
    }

    /// Every append takes the one lock row, so a delete that takes it too runs before or after each append.
    func lockAppends(_ c: MariaDBConnection, of name: StreamName) throws { try lockAppends(c) }

    func rows(_ events: [EventMessage]) -> EventRows { EventRows(events, timestamp: Self.datetime) }

    func create(_ c: MariaDBConnection, _ name: StreamName, metadata: Metadata, events: EventRows) throws -> AppendResult {
        try lockAppends(c)
        let (id, version) = try createTarget(c, name, metadata: metadata)
        let last = try insert(c, events, streamID: id, after: version, stream: name)
        return AppendResult(streamVersion: version + events.count, lastGlobalPosition: last)
    }

    /// One call of the append procedure (``MySQLTables/appendProcedureSQL``): one round trip when it
    /// `commitsItself` (at the top level), where the statements one by one took eight for a batch of 100;
    /// in the caller's transaction or savepoint otherwise.
    func append(
        _ c: MariaDBConnection, _ events: EventRows, to name: StreamName, expectedVersion: ExpectedVersion, commitsItself: Bool
    ) throws -> AppendResult {
        let (mode, expected): (Int64, Int64) =
            switch expectedVersion {
            case .any: (0, 0)
            case .noStream: (1, 0)
            case .streamExists: (2, 0)
            case let .exact(version): (3, Int64(version))
            }
        let category: SQLValue = name.category.map { .text($0) } ?? .null
        var answer: [String?] = []
        do {
            try c.query(
                """
                CALL \(unsafeSQL: tables.appendProcedure)(\(bind: name.rawValue), \(bind: category), \(bind: mode),
                    \(bind: expected), \(bind: Self.json(events)), \(bind: Int64(events.count)), \(bind: Int64(commitsItself ? 1 : 0)))
                """
            ) { answer = $0 }
        } catch let error as MariaDBError where error.isDuplicateEntry {
            // The events table refused a row (the stream existed: a new one holds no duplicate); say which.
            if let id = try stream(c, name)?.id { try explainDuplicate(c, events.events[...], streamID: id, stream: name) }
            throw error
        } catch let error as MariaDBError where error.message.contains(MySQLTables.deletedWhileAppending) {
            throw EventStoreError.deletedWhileAppending(name)
        }
        guard answer.count == 3, let outcome = answer[0] else {
            throw EventStoreError.backend("the append procedure of stream \"\(name)\" gave no answer")
        }
        let version = answer[1].flatMap { Int($0) }
        if outcome == "5" { throw EventStoreError.streamDeleted(name) }
        guard outcome == "0", let version else {
            _ = try ExpectedVersionCheck.check(expectedVersion, current: version, of: name)
            throw EventStoreError.backend("the append procedure of stream \"\(name)\" refused an expected version that holds")
        }
        return AppendResult(streamVersion: version, lastGlobalPosition: answer[2].flatMap { Int64($0) }.map { GlobalPosition(sequence: $0) })
    }

    /// The events of `rows` as the append procedure takes them: a JSON array of
    /// `[uuid, name, payload, metadata, created_at, aggregate type, id, version]`, each a string or `null`.
    /// Payload and metadata go as strings of their JSON text, not as JSON: MariaDB's JSON functions stop at 32
    /// levels of nesting, fewer than a payload may have.
    static func json(_ rows: EventRows) -> String {
        var json = "["
        for event in 0..<rows.count {
            json += event == 0 ? "[" : ",["
            for (column, value) in zip(0..., rows.values(of: event)) {
                if column > 0 { json += "," }
                if case let .text(text) = value { JSONValue.appendString(text, to: &json) } else { json += "null" }
            }
            json += "]"
        }
        return json + "]"
    }

    func insertStream(_ c: MariaDBConnection, _ name: StreamName, metadata: Metadata) throws -> Int64 {
        let category: SQLValue = name.category.map { .text($0) } ?? .null
        let retention = RetentionSQL.insertion(metadata)
        do {
            let result = try c.query(
                """
                INSERT INTO \(unsafeSQL: tables.streams) (name, category, metadata, version, created_at\(retention.columns))
                VALUES (\(bind: name.rawValue), \(bind: category), \(bind: metadata.jsonText), 0, UTC_TIMESTAMP(6)\(retention.values))
                """)
            return Int64(result.insertID)
        } catch let error as MariaDBError where error.isDuplicateEntry {
            throw EventStoreError.streamExists(name)
        }
    }

    private func insert(_ c: MariaDBConnection, _ events: EventRows, streamID: Int64, after version: Int, stream: StreamName)
        throws -> GlobalPosition?
    {
        guard !events.isEmpty else { return nil }
        var last: Int64 = 0
        var position = version + 1
        for chunk in EventInsert.chunks(of: events.count, largest: Self.rowsPerInsert) {
            let statement = EventInsert.statement(
                into: "\(unsafeSQL: tables.events)", events, chunk, streamID: streamID, firstPosition: position)
            do {
                let result = try c.query(statement)
                // The first id of a multi-row insert; the rows of one statement take consecutive ids.
                last = Int64(result.insertID) + Int64(chunk.count) - 1
            } catch let error as MariaDBError where error.isDuplicateEntry {
                try explainDuplicate(c, events.events[chunk], streamID: streamID, stream: stream)
                throw error
            }
            position += chunk.count
        }
        let (updated, _) = try c.query(
            "UPDATE \(unsafeSQL: tables.streams) SET version = \(bind: version + events.count) WHERE id = \(bind: streamID)")
        // The stream's row went away after this append read it: fail, so that its events are rolled back.
        if updated != 1 { throw EventStoreError.deletedWhileAppending(stream) }
        return GlobalPosition(sequence: last)
    }

    /// `yyyy-MM-dd HH:mm:ss.ffffff`, UTC: what a DATETIME(6) column takes.
    static func datetime(_ micros: Int64) -> String { Timestamp.format(microseconds: micros, dateTimeSeparator: " ") }

    var tableNames: SQLTableNames { tables.names }

    func run(_ c: MariaDBConnection, _ statement: SQLQuery) throws { try c.query(statement) }

    func firstColumn(_ c: MariaDBConnection, _ query: SQLQuery) throws -> [String] {
        var values: [String] = []
        try c.query(query) { row in values.append(row.first.flatMap { $0 } ?? "") }
        return values
    }

    // MARK: Reads

    func storedRow(_ c: MariaDBConnection, _ name: StreamName) throws -> StoredStreamRow? {
        var found: StoredStreamRow?
        try c.query(StreamCopySQL.row(tables.streams, name)) { row in
            let values = (0..<5).compactMap { row[$0].flatMap { Int64($0) } }
            if values.count == 5 {
                found = StoredStreamRow(
                    id: values[0], version: Int(values[1]), deleted: Int(values[2]), beginsAt: Int(values[3]), removed: Int(values[4]))
            }
        }
        return found
    }

    var copyTables: (streams: String, events: String) { (tables.streams, tables.events) }

    func storedStreamNames(_ c: MariaDBConnection, after name: String, limit: Int) throws -> [String] {
        try firstColumn(c, StreamCopySQL.names(tables.streams, after: name, limit: limit))
    }

    func stream(_ c: MariaDBConnection, _ name: StreamName) throws -> StreamRow? {
        var found: StreamRow?
        try c.query(DeletionSQL.row(tables.streams, name)) { row in
            if let id = row[0].flatMap({ Int64($0) }), let version = row[1].flatMap({ Int($0) }), let deleted = row[2].flatMap({ Int($0) }) {
                found = StreamRow(id: id, version: version, deleted: deleted)
            }
        }
        return found
    }

    func metadata(_ c: MariaDBConnection, of name: StreamName) throws -> Metadata {
        var text: String?
        try c.query("SELECT metadata FROM \(unsafeSQL: tables.streams) WHERE name = \(bind: name.rawValue) AND deleted = 0") { text = $0[0] }
        guard let text else { throw EventStoreError.streamNotFound(name) }
        return try storedMetadata(text)
    }

    func snapshot(_ c: MariaDBConnection, type: String, id: String) throws -> Snapshot? {
        var found: Snapshot?
        try c.query(
            """
            SELECT last_version, state, DATE_FORMAT(created_at, '%Y-%m-%dT%H:%i:%s.%f') FROM \(unsafeSQL: tables.snapshots)
            WHERE aggregate_type = \(bind: type) AND aggregate_id = \(bind: id)
            """
        ) { row in
            guard let version = row[0].flatMap({ Int($0) }), let state = row[1] else {
                throw EventStoreError.corrupt("a stored snapshot is corrupt")
            }
            found = try Snapshot(
                aggregateType: type, aggregateID: id, lastVersion: version, state: Payload(storedJSON: state),
                createdAt: Timestamp.date(microseconds: row[2].flatMap(Timestamp.parseMicroseconds) ?? 0))
        }
        return found
    }

    func save(_ c: MariaDBConnection, _ snapshots: [Snapshot]) throws {
        for snapshot in snapshots {
            try c.query(
                """
                INSERT INTO \(unsafeSQL: tables.snapshots) (aggregate_type, aggregate_id, last_version, state, created_at)
                VALUES (\(bind: snapshot.aggregateType), \(bind: snapshot.aggregateID), \(bind: snapshot.lastVersion),
                    \(bind: snapshot.state.jsonText), \(bind: Self.datetime(Timestamp.microseconds(snapshot.createdAt))))
                ON DUPLICATE KEY UPDATE last_version = VALUES(last_version), state = VALUES(state), created_at = VALUES(created_at)
                """)
        }
    }

    func removeSnapshots(_ c: MariaDBConnection, type: String) throws {
        try c.query("DELETE FROM \(unsafeSQL: tables.snapshots) WHERE aggregate_type = \(bind: type)")
    }

    // MARK: Consumer groups

    var locksGroupRows: Bool { true }

    var partitionSQL: PartitionSQL {
        PartitionSQL(table: tables.partitions, shareLock: " LOCK IN SHARE MODE", updateLock: " FOR UPDATE")
    }

    func databaseNow(_ c: MariaDBConnection) throws -> Int64 {
        let now = try firstColumn(c, "SELECT CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED)").first.flatMap { Int64($0) }
        guard let now else { throw EventStoreError.backend("MariaDB did not say what time it is") }
        return now
    }

    /// `INSERT IGNORE`: a row another transaction inserted first is left alone, and reported.
    func insertConsumerGroup(_ c: MariaDBConnection, _ sql: ConsumerGroupSQL, name: String, record: String) throws -> Bool {
        try c.query("INSERT IGNORE INTO \(unsafeSQL: sql.table) (name, record) VALUES (\(bind: name), \(bind: record))").affected == 1
    }

    private static let columns =
        "e.global_position, e.position, e.uuid, e.message_name, e.payload, e.metadata, DATE_FORMAT(e.created_at, '%Y-%m-%dT%H:%i:%s.%f')"

    struct PageQuery: Sendable {
        let streamID: Int64
        let direction: RecordedEventSequence.Direction
        let matching: MetadataMatcher?
        let retention: LoadRetention
    }

    func loadTarget(_ c: MariaDBConnection, _ name: StreamName) throws -> (id: Int64, retention: LoadRetention)? {
        var found: (id: Int64, retention: LoadRetention)?
        try c.query(RetentionSQL.loadTarget(tables.streams, name)) { row in
            if let id = row[0].flatMap({ Int64($0) }), let first = row[1].flatMap({ Int($0) }) {
                found = (id, LoadRetention(firstKept: first, judgesAge: row[2] != nil))
            }
        }
        return found
    }

    func pageQuery(streamID: Int64, direction: RecordedEventSequence.Direction, matching: MetadataMatcher?, retention: LoadRetention)
        -> PageQuery
    {
        PageQuery(streamID: streamID, direction: direction, matching: matching, retention: retention)
    }

    func page(_ c: MariaDBConnection, _ page: PageQuery, stream: StreamName, bound: Int, limit: Int) throws -> [RecordedEvent] {
        let query = dialect.streamPage(
            columns: Self.columns, events: tables.events, streams: tables.streams, streamID: page.streamID,
            forward: page.direction == .forward, matching: page.matching, retention: page.retention, bound: bound, limit: limit)
        return try events(c, query) { _ in stream }
    }

    /// Events of `target` after a global position, in global order.
    func readAll(_ c: MariaDBConnection, after position: GlobalPosition, of target: SubscriptionTarget, limit: Int) throws
        -> (events: [RecordedEvent], readable: GlobalPosition?)
    {
        // InnoDB builds a statement's read view without stopping commits, so one view can show a writer's
        // events but not those of the writer that held the append lock just before it, and a reader that
        // went on from the later ones would never see the earlier. The page is bounded by the head an earlier
        // statement saw: every writer below that head had committed before that statement's view was built,
        // so this statement's view shows them all. Any earlier statement's head bounds it as well, so a
        // head one read saw serves the reads after it: one head query per catch-up, not one a page. A short
        // page under such a head may stop before newer events, so the head is asked then, and the page read
        // again when it moved. Heads seen inside a transaction are not kept: they count its own writes.
        let known = knownHead.value
        var page: [RecordedEvent]
        var bound: Int64
        if known > position.sequence {
            (page, bound) = (try readAll(c, after: position, upTo: known, of: target, limit: limit), known)
            if page.count < limit {
                let head = try currentHead(c)
                if head > known { (page, bound) = (try readAll(c, after: position, upTo: head, of: target, limit: limit), head) }
            }
        } else {
            bound = try currentHead(c)
            // Nothing past the reader: it looked as far as it stands (no durability needed to stay there).
            guard bound > position.sequence else { return ([], GlobalPosition(sequence: bound)) }
            page = try readAll(c, after: position, upTo: bound, of: target, limit: limit)
        }
        // A reader goes on from the head after a short page, so the head is made durable, not the page alone.
        try makeDurable(c, upTo: bound)
        return (page, bound <= knownDurable.value ? GlobalPosition(sequence: bound) : nil)
    }

    /// InnoDB shows a commit's rows before its log is flushed, so a crash can still lose events a page shows
    /// (or that a reader passed over as not of its target), and AUTO_INCREMENT then hands their positions out
    /// again, to events a reader past them would skip. A commit of this connection's own waits for the log's
    /// flush up to its own record, which lies past every commit up to the head (they were visible before it
    /// began): once it returns, they are on disk. Made once per head: a read that looks no further than the
    /// last head made durable needs none. A read inside a transaction cannot commit on its own and makes none
    /// (documentation: "How MySQL and MariaDB keep the global order"); it says then that it looked no further than its events.
    private func makeDurable(_ c: MariaDBConnection, upTo bound: Int64) throws {
        guard bound > knownDurable.value, !c.isInTransaction else { return }
        // Rows by connection, so that readers seldom wait for one another's row lock.
        try c.query(
            """
            INSERT INTO \(unsafeSQL: tables.durabilityProbe) (id, commits) VALUES (MOD(CONNECTION_ID(), 16), 1)
            ON DUPLICATE KEY UPDATE commits = commits + 1
            """)
        knownDurable.raise(to: bound)
    }

    /// The head, kept as ``knownHead`` when no transaction is open.
    private func currentHead(_ c: MariaDBConnection) throws -> Int64 {
        let head = try headPosition(c).sequence
        if !c.isInTransaction { knownHead.raise(to: head) }
        return head
    }

    private func readAll(_ c: MariaDBConnection, after position: GlobalPosition, upTo head: Int64, of target: SubscriptionTarget, limit: Int)
        throws -> [RecordedEvent]
    {
        // STRAIGHT_JOIN: read events in global order and look their streams up, never the other way round
        // (which sorted every later event for each page).
        let query: SQLQuery = """
            SELECT STRAIGHT_JOIN \(unsafeSQL: Self.columns), s.name FROM \(unsafeSQL: tables.events) AS e
            JOIN \(unsafeSQL: tables.streams) AS s ON s.id = e.stream_id
            WHERE e.global_position > \(bind: position.sequence) AND e.global_position <= \(bind: head)
                AND \(dialect.targetCondition(target, name: "s.name", category: "s.category")) AND \(RetentionSQL.kept(dialect))
            ORDER BY e.global_position LIMIT \(bind: limit)
            """
        return try events(c, query) { row in try storedStreamName(row[7] ?? "") }
    }

    /// The events table's AUTO_INCREMENT counter (the next id) less one.
    func highestPosition(_ c: MariaDBConnection) throws -> GlobalPosition {
        var next: Int64 = 1
        try c.query(
            """
            SELECT AUTO_INCREMENT FROM information_schema.TABLES
            WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = \(bind: tables.names.events.name)
            """
        ) { row in next = row.first.flatMap { $0.flatMap { Int64($0) } } ?? 1 }
        return GlobalPosition(sequence: next - 1)
    }

    func eventCount(_ c: MariaDBConnection, after position: GlobalPosition, of target: SubscriptionTarget, limit: Int) throws -> Int {
        let query = dialect.eventCount(
            events: tables.events, streams: tables.streams, after: "e.global_position > \(bind: position.sequence)",
            of: target, limit: limit)
        return try firstColumn(c, query).first.flatMap { Int($0) } ?? 0
    }

    func headPosition(_ c: MariaDBConnection) throws -> GlobalPosition {
        var head: Int64 = 0
        try c.query("SELECT COALESCE(MAX(global_position), 0) FROM \(unsafeSQL: tables.events)") { row in
            head = row[0].flatMap { Int64($0) } ?? 0
        }
        return GlobalPosition(sequence: head)
    }

    func checkpoint(_ c: MariaDBConnection, named name: String) throws -> GlobalPosition? {
        var text: String?
        try c.query("SELECT position FROM \(unsafeSQL: tables.checkpoints) WHERE name = \(bind: name)") { text = $0[0] }
        return try text.map { text in
            guard let position = GlobalPosition(text) else { throw EventStoreError.corrupt("checkpoint \"\(name)\" is corrupt") }
            return position
        }
    }

    // MARK: Projections

    var projectionSQL: ProjectionSQL { ProjectionSQL(table: tables.projections) }

    func projectionRecord(_ c: MariaDBConnection, named name: String) throws -> ProjectionRecord? {
        try projectionRecord(c, named: name, lock: false)
    }

    private func projectionRecord(_ c: MariaDBConnection, named name: String, lock: Bool) throws -> ProjectionRecord? {
        var row: ProjectionSQL.Row?
        try c.query(projectionSQL.select(name, lock: lock)) { r in
            row = ProjectionSQL.Row(
                name: r[0] ?? "", kind: r[1] ?? "", status: r[2] ?? "", state: r[3], positions: r[4] ?? "{}",
                checkpoint: r[5], lockedUntil: r[6].flatMap { Int64($0) }, leaseOwner: r[7], readModelAction: r[8],
                source: r[9])
        }
        return try row.map { try projectionSQL.record($0) }
    }

    func projectionNames(_ c: MariaDBConnection, _ filter: NameFilter, limit: Int, offset: Int) throws -> [String] {
        var names: [String] = []
        try c.query(projectionSQL.names(filter, dialect: dialect, limit: limit, offset: offset)) { names.append($0[0] ?? "") }
        return names
    }

    /// Reads (locking), edits and writes a projection's row, and deletes the stream the edit names (the caller
    /// holds the transaction).
    /// - Throws: ``ProjectionRowRaced`` when another transaction inserted the row first: run it again.
    func changeProjection<Result>(
        _ c: MariaDBConnection, named name: String, _ change: (inout ProjectionRecord?) throws -> ProjectionChange<Result>
    ) throws -> Result {
        let existing = try projectionRecord(c, named: name, lock: true)
        var record = existing
        let outcome = try change(&record)
        if let record, existing == nil {
            // A row inserted meanwhile by another transaction leaves this insert with no row affected.
            let (affected, _) = try c.query(projectionSQL.insert(record) + " ON DUPLICATE KEY UPDATE name = name")
            if affected != 1 { throw ProjectionRowRaced() }
        } else if let record {
            try c.query(projectionSQL.update(record))
        } else if existing != nil {
            try c.query(projectionSQL.delete(name))
        }
        if let stream = outcome.deleteStream, try self.stream(c, stream)?.isLive == true { try delete(c, stream, mode: .purge) }
        return outcome.result
    }

    func saveCheckpoint(_ c: MariaDBConnection, _ position: GlobalPosition, named name: String) throws {
        try c.query(
            """
            INSERT INTO \(unsafeSQL: tables.checkpoints) (name, position, updated_at) VALUES (\(bind: name), \(bind: position.description), UTC_TIMESTAMP(6))
            ON DUPLICATE KEY UPDATE position = VALUES(position), updated_at = VALUES(updated_at)
            """)
    }

    private func events(_ c: MariaDBConnection, _ query: SQLQuery, stream: ([String?]) throws -> StreamName) throws
        -> [RecordedEvent]
    {
        var events: [RecordedEvent] = []
        try c.query(query) { row in
            guard let global = row[0].flatMap({ Int64($0) }), let position = row[1].flatMap({ Int($0) }),
                let uuid = row[2].flatMap({ UUID(uuidString: $0) }), let name = row[3], let payload = row[4],
                let metadata = row[5], let micros = row[6].flatMap(Timestamp.parseMicroseconds)
            else { throw EventStoreError.corrupt("a stored event is corrupt") }
            let message = EventMessage(
                messageName: name, payload: Payload(storedJSON: payload), metadata: try storedMetadata(metadata),
                uuid: uuid, createdAtMicros: micros)
            events.append(
                RecordedEvent(
                    streamName: try stream(row), position: position, globalPosition: GlobalPosition(sequence: global),
                    message: message))
        }
        return events
    }

    func streamNames(_ c: MariaDBConnection, _ filter: NameFilter, matching: MetadataMatcher?, limit: Int, offset: Int) throws
        -> [StreamName]
    {
        var names: [String] = []
        try c.query(DeletionSQL.streamNames(dialect, streams: tables.streams, filter, matching: matching, limit: limit, offset: offset)) { row in
            if let name = row[0] { names.append(name) }
        }
        return try names.map { name throws(EventStoreError) in try storedStreamName(name) }
    }

    func categoryNames(_ c: MariaDBConnection, _ filter: NameFilter, limit: Int, offset: Int) throws -> [String] {
        var names: [String] = []
        try c.query(DeletionSQL.categoryNames(dialect, streams: tables.streams, filter, limit: limit, offset: offset)) { row in
            if let name = row[0] { names.append(name) }
        }
        return names
    }
}


/// A head position that only rises, shared between connections.
final class KnownHead: Sendable {
    private let atomic = Atomic<Int64>(0)

    var value: Int64 { atomic.load(ordering: .acquiring) }

    func raise(to head: Int64) {
        var current = atomic.load(ordering: .relaxed)
        while head > current {
            let (exchanged, original) = atomic.compareExchange(
                expected: current, desired: head, successOrdering: .releasing, failureOrdering: .relaxed)
            if exchanged { return }
            current = original
        }
    }
}
#endif
