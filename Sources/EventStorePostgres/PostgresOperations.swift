@_spi(Backend) import EventStore
import EventStoreSQL
import Foundation
import PostgresNIO

/// The store's operations on one connection, inside a transaction or savepoint the caller opened, on
/// arguments the store validated.
struct PostgresOperations: Sendable {
    let tables: PostgresTables
    let logger: Logger
    /// How long a start waits for another process's migration (``PostgresConfiguration/migrationTimeout``).
    var migrationTimeout: Duration = .seconds(300)
    let dialect = PostgresDialect()

    // MARK: Running queries

    @discardableResult
    func run(_ connection: PostgresConnection, _ query: PostgresQuery) async throws -> PostgresRowSequence {
        try await connection.query(query, logger: logger)
    }

    func run(_ connection: PostgresConnection, _ query: SQLQuery) async throws -> PostgresRowSequence {
        try await connection.query(query.postgres, logger: logger)
    }

    // MARK: Schema

    /// Creates or upgrades the schema; concurrent starts wait for each other on an advisory lock, at most
    /// `migrationTimeout` (`lock_timeout` bounds the wait; the migration's own statements are not bound).
    func migrate(_ c: PostgresConnection) async throws -> Int {
        let milliseconds = max(1, migrationTimeout.milliseconds)
        _ = try await run(c, "SELECT set_config('lock_timeout', \(bind: "\(milliseconds)ms"), true)" as SQLQuery)
        do {
            // The rows are read here: a statement's failure surfaces as its rows are read.
            for try await _ in try await run(c, "SELECT pg_advisory_xact_lock(hashtext(\(tables.migrationLockName)))") {}
        } catch let error as PSQLError where error.sqlState == "55P03" {
            throw EventStoreError.backend(
                "another process held the migration lock for \(migrationTimeout) (its migration is slow, or it hangs): see migration_timeout")
        }
        _ = try await run(c, "SELECT set_config('lock_timeout', \(bind: "0"), true)" as SQLQuery)
        try await run(
            c,
            PostgresQuery(
                unsafeSQL:
                    "CREATE TABLE IF NOT EXISTS \(tables.schemaTable) (id int PRIMARY KEY CHECK (id = 1), version int NOT NULL)"))
        var current = 0
        for try await version in try await run(c, PostgresQuery(unsafeSQL: "SELECT version FROM \(tables.schemaTable) WHERE id = 1"))
            .decode(Int.self)
        {
            current = version
        }
        if current > tables.latestVersion {
            throw EventStoreError.backend(
                "the database's schema is at version \(current), newer than this build knows (\(tables.latestVersion)): upgrade swift-event-store")
        }
        for migration in tables.migrations where migration.version > current {
            // One statement at a time: the extended protocol takes no lists of statements.
            for statement in Self.statements(of: migration.sql) {
                try await run(c, PostgresQuery(unsafeSQL: statement))
            }
            current = migration.version
        }
        try await run(
            c,
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO \(tables.schemaTable) (id, version) VALUES (1, \(current))
                    ON CONFLICT (id) DO UPDATE SET version = excluded.version
                    """))
        try await checkTransactionCounter(c)
        return current
    }

    /// The statements of a migration: split where a line ends with `;`, except inside a `$$`-quoted body
    /// (a function's).
    static func statements(of sql: String) -> [String] {
        var statements: [String] = []
        var current = ""
        for piece in sql.components(separatedBy: ";\n") {
            current += current.isEmpty ? piece : ";\n" + piece
            // An odd number of `$$` so far: the piece ended inside a body.
            if current.components(separatedBy: "$$").count % 2 == 0 { continue }
            let text = current.trimmingCharacters(in: .whitespacesAndNewlines)
            if !text.isEmpty { statements.append(text) }
            current = ""
        }
        let rest = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !rest.isEmpty { statements.append(rest) }
        return statements
    }

    /// Refuses a database whose server's transaction counter is behind its stored events.
    ///
    /// The global order is (transaction id, sequence), so it holds only while every new transaction's id is
    /// above every stored event's. A database restored from a dump into another cluster, or a failover to a
    /// server that lost transactions, can restart the counter below them: new events would then sort before
    /// stored ones, readers past the stored ones would never see them, and appends in transactions would fail
    /// for ever. `pg_snapshot_xmax` is the first id this server has not handed out yet.
    private func checkTransactionCounter(_ c: PostgresConnection) async throws {
        let query: PostgresQuery = """
            SELECT (SELECT transaction_id FROM \(unescaped: tables.events) ORDER BY transaction_id DESC LIMIT 1)::text::int8,
                pg_snapshot_xmax(pg_current_snapshot())::text::int8
            """
        for try await (stored, next) in try await run(c, query).decode((Int64?, Int64).self) {
            if let stored, stored >= next { throw TransactionCounter.behind(stored: stored, next: next) }
        }
    }

    // MARK: Writes

    func create(_ c: PostgresConnection, _ name: StreamName, metadata: Metadata, events: [EventMessage]) async throws
        -> AppendResult
    {
        try await appendInOneStatement(c, events, to: name, expectedVersion: .noStream, creatingWith: metadata)
    }

    /// Appends in one statement (the schema's append function), so that a top-level append is one round
    /// trip: the server commits it as the statement ends.
    func append(_ c: PostgresConnection, _ events: [EventMessage], to name: StreamName, expectedVersion: ExpectedVersion)
        async throws -> AppendResult
    {
        try await appendInOneStatement(c, events, to: name, expectedVersion: expectedVersion, creatingWith: nil)
    }

    /// Calls the append function; `metadata` (for `create`) says the stream must not exist yet.
    private func appendInOneStatement(
        _ c: PostgresConnection, _ events: [EventMessage], to name: StreamName, expectedVersion: ExpectedVersion,
        creatingWith metadata: Metadata?
    ) async throws -> AppendResult {
        let (mode, expected): (PostgresTables.AppendMode, Int64) =
            switch expectedVersion {
            case _ where metadata != nil: (.create, 0)
            case .any: (.any, 0)
            case .noStream: (.noStream, 0)
            case .streamExists: (.streamExists, 0)
            case let .exact(version): (.exact, Int64(version))
            }
        let keys = events.map(\.aggregateKey)
        let query: PostgresQuery = """
            SELECT outcome, current_version, transaction_id, last_position FROM \(unescaped: tables.appendFunction)(
                \(name.rawValue), \(name.category), \(metadata?.jsonText), \(tables.streamLockPrefix + name.rawValue),
                \(tables.channel), \(mode.rawValue), \(expected),
                \(events.map(\.uuid))::uuid[], \(events.map(\.messageName))::text[],
                \(events.map(\.payload.jsonText))::text[], \(events.map(\.metadata.jsonText))::text[],
                \(events.map(\.createdAtMicros))::int8[], \(keys.map { $0 != nil })::bool[],
                \(keys.map { $0?.type ?? "" })::text[], \(keys.map { $0?.id ?? "" })::text[],
                \(keys.map { $0?.version ?? "" })::text[])
            """
        var answer: (outcome: Int32, version: Int64?, transaction: Int64?, last: Int64?)?
        do {
            for try await row in try await run(c, query).decode((Int32, Int64?, Int64?, Int64?).self) { answer = row }
        } catch let error as PSQLError where error.isUniqueViolation(of: tables.eventsUUIDKey) {
            throw EventStoreError.duplicateEvent(name, "an event whose uuid is in this append (\(error.detail ?? "uuid taken"))")
        } catch let error as PSQLError where error.isUniqueViolation(of: tables.eventsAggregateKey) {
            throw EventStoreError.duplicateEvent(name, "an aggregate version in this append (\(error.detail ?? "version taken"))")
        } catch let error as PSQLError where error.isUniqueViolation(of: tables.streamNameKey) {
            throw EventStoreError.streamExists(name)
        } catch let error as PSQLError where error.sqlState == PostgresTables.deletedWhileAppending {
            throw EventStoreError.deletedWhileAppending(name)
        }
        guard let answer, let outcome = PostgresTables.AppendOutcome(rawValue: answer.outcome) else {
            throw EventStoreError.backend("the append function of stream \"\(name)\" gave no answer")
        }
        switch outcome {
        case .appended:
            var last: GlobalPosition?
            if let transaction = answer.transaction, let position = answer.last {
                last = GlobalPosition(commit: transaction, sequence: position)
            }
            return AppendResult(streamVersion: Int(answer.version ?? 0), lastGlobalPosition: last)
        case .exists:
            throw EventStoreError.streamExists(name)
        case .tombstone:
            throw EventStoreError.streamDeleted(name)
        case .conflict:
            // The shared check says what does not hold (it throws here).
            _ = try ExpectedVersionCheck.check(expectedVersion, current: answer.version.map(Int.init), of: name)
            throw EventStoreError.backend("the append function of stream \"\(name)\" found a conflict the check does not see")
        case .reordered:
            let version = Int(answer.version ?? 0)
            // This transaction wrote earlier (so its id is older) and a younger transaction appended to this
            // stream and committed meanwhile: appending now would put these events before that one's in the
            // global order. Only transactions spanning several writes can meet this; retrying works.
            throw EventStoreError.wrongExpectedVersion(name, expected: expectedVersion, actual: version).withReason(
                "stream \"\(name)\" was appended to by a younger transaction while this one ran: retry the transaction")
        }
    }

    /// Serialises writers of one stream until commit. An advisory lock takes no transaction id, so the
    /// id a writer gets with its first row comes after every earlier writer of the stream committed: the
    /// order of transaction ids is the order of the stream's positions.
    private func lock(_ c: PostgresConnection, _ name: StreamName) async throws {
        try await run(c, "SELECT pg_advisory_xact_lock(hashtext(\(tables.streamLockPrefix + name.rawValue)))")
    }

    /// Deletes the stream as `mode` says under the stream's append lock, so that an append holding it commits
    /// first (and is deleted with the stream) or runs after the delete (and finds it deleted).
    func delete(_ c: PostgresConnection, _ name: StreamName, mode: DeleteMode) async throws {
        try await lock(c, name)
        var row: StreamRow?
        for try await (id, version, deleted) in try await run(c, DeletionSQL.row(tables.streams, name)).decode((Int64, Int64, Int64).self) {
            row = StreamRow(id: id, version: Int(version), deleted: Int(deleted))
        }
        for statement in try DeletionSQL.statements(mode, of: row, name, events: tables.events, streams: tables.streams) {
            _ = try await run(c, statement)
        }
    }

    func isTombstone(_ c: PostgresConnection, _ name: StreamName) async throws -> Bool {
        for try await _ in try await run(c, DeletionSQL.tombstone(tables.streams, name)).decode(Int64.self) { return true }
        return false
    }

    func updateMetadata(_ c: PostgresConnection, _ metadata: Metadata, of name: StreamName) async throws {
        let query: SQLQuery = """
            UPDATE \(unsafeSQL: tables.streams) SET metadata = \(bind: metadata.jsonText)::jsonb, \(RetentionSQL.assignments(metadata))
            WHERE name = \(bind: name.rawValue) AND deleted = 0 RETURNING id
            """
        var found = false
        for try await _ in try await run(c, query).decode(Int64.self) { found = true }
        guard found else { throw DeletionSQL.missing(name, isTombstone: try await isTombstone(c, name)) }
    }

    // MARK: Reads

    func loadTarget(_ c: PostgresConnection, _ name: StreamName) async throws -> (id: Int64, retention: LoadRetention)? {
        for try await (id, first, maxAge) in try await run(c, RetentionSQL.loadTarget(tables.streams, name)).decode((Int64, Int64, Int64?).self) {
            return (id, LoadRetention(firstKept: Int(first), judgesAge: maxAge != nil))
        }
        return nil
    }

    func stream(_ c: PostgresConnection, _ name: StreamName) async throws -> Int64? {
        let query: PostgresQuery = "SELECT id FROM \(unescaped: tables.streams) WHERE name = \(name.rawValue) AND deleted = 0"
        for try await id in try await run(c, query).decode(Int64.self) { return id }
        return nil
    }

    func metadata(_ c: PostgresConnection, of name: StreamName) async throws -> Metadata {
        let query: PostgresQuery = "SELECT metadata::text FROM \(unescaped: tables.streams) WHERE name = \(name.rawValue) AND deleted = 0"
        for try await text in try await run(c, query).decode(String.self) { return try storedMetadata(text) }
        throw EventStoreError.streamNotFound(name)
    }

    static let columns = """
        e.global_position, e.position, e.uuid, e.message_name, e.payload::text, e.metadata::text,
        (extract(epoch FROM e.created_at) * 1000000)::int8, e.transaction_id::text::int8
        """

    /// The same columns for the libpq reader, read in binary: the timestamp as `timestamptz` (microseconds
    /// since 2000) and the transaction id as `xid8`, without the server's conversions (about 0.5 µs a row:
    /// `extract` yields a `numeric`).
    static let libpqColumns = """
        e.global_position, e.position, e.uuid, e.message_name, e.payload::text, e.metadata::text, e.created_at,
        e.transaction_id
        """

    /// One page of a load.
    func page(
        _ c: PostgresConnection, streamID: Int64, stream: StreamName, direction: RecordedEventSequence.Direction,
        matching: MetadataMatcher?, retention: LoadRetention, bound: Int, limit: Int
    ) async throws -> [RecordedEvent] {
        let query = pageQuery(streamID: streamID, direction: direction, matching: matching, retention: retention, bound: bound, limit: limit)
        return try await events(c, query) { _ in stream }
    }

    func pageQuery(
        streamID: Int64, direction: RecordedEventSequence.Direction, matching: MetadataMatcher?, retention: LoadRetention, bound: Int,
        limit: Int, columns: String = Self.columns
    ) -> SQLQuery {
        dialect.streamPage(
            columns: columns, events: tables.events, streams: tables.streams, streamID: streamID,
            forward: direction == .forward, matching: matching, retention: retention, bound: bound, limit: limit)
    }

    /// ``page(_:streamID:stream:direction:matching:bound:limit:)`` through libpq.
    func page(_ c: LibPQConnection, _ query: SQLQuery, stream: StreamName) throws -> [RecordedEvent] {
        var events: [RecordedEvent] = []
        try c.query(query) { row in events.append(try event(row, stream: stream)) }
        return events
    }

    /// Events of every stream after a global position, in global order (internal streams included).
    ///
    /// The global order is (transaction id, sequence). Only transactions older than every transaction still
    /// running are read (`pg_snapshot_xmin`), so a transaction that commits late is never passed over: the
    /// reader waits for it instead.
    /// A page of the global order: its events, the readable bound, and on a standby how far it had replayed
    /// WAL when it read them (`pg_last_wal_replay_lsn()`, as bytes; `nil` on a primary).
    ///
    /// The readable bound is the newest committed event below the oldest transaction still running, not that
    /// transaction's id: ids between them may belong to transactions that rolled back, whose WAL nothing has
    /// flushed; after a crash or a failover the server hands them out again, and a reader that had moved past
    /// them would skip their events. A committed event's id is durable, and so are the ids below it.
    struct GlobalOrderRead: Sendable {
        var events: [RecordedEvent] = []
        var readable: GlobalPosition?
        var replayed: Int64?
    }

    func readAll(_ c: PostgresConnection, after position: GlobalPosition, of target: SubscriptionTarget, limit: Int)
        async throws -> GlobalOrderRead
    {
        let query = readAllQuery(after: position, of: target, limit: limit, columns: Self.columns)
        var page = GlobalOrderRead()
        for try await row in try await run(c, query) {
            let cells = row.makeRandomAccess()
            if let commit = try cells[9].decode(Int64?.self) {
                page.readable = GlobalPosition(commit: commit, sequence: try cells[11].decode(Int64.self))
                page.replayed = try cells[10].decode(Int64?.self)
            } else {
                page.events.append(try event(cells, stream: try storedStreamName(try cells[8].decode(String.self))))
            }
        }
        return page
    }

    /// ``readAll(_:after:of:limit:)`` through libpq.
    func readAll(_ c: LibPQConnection, _ query: SQLQuery) throws -> GlobalOrderRead {
        var page = GlobalOrderRead()
        try c.query(query) { row in
            if !row.isNull(9) {
                page.readable = GlobalPosition(commit: try row.int64(9), sequence: try row.int64(11))
                page.replayed = row.isNull(10) ? nil : try row.int64(10)
            } else {
                page.events.append(try event(row, stream: try storedStreamName(row.text(8))))
            }
        }
        return page
    }

    func readAllQuery(after position: GlobalPosition, of target: SubscriptionTarget, limit: Int, columns: String) -> SQLQuery {
        // One row more than the page, with the bound alone: how far a short page looked, from the same
        // snapshot as its events (an empty page is that row alone): the newest event below the oldest
        // transaction still running (``GlobalOrderRead``).
        // Retention's predicate is computed in a subquery the planner keeps whole (`OFFSET 0`): written in
        // the join, its four conditions looked so selective to the planner, where the streams table has no
        // statistics (autovacuum analyzes a table only past 50 changed rows), that it sorted the whole
        // events table for every page instead of reading the global order's index (57 ms against 1.9 ms a
        // page of 1,000 out of 100,000 events).
        return """
            WITH snapshot AS MATERIALIZED (
                SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin, (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::int8 AS replayed
            ),
            bound AS MATERIALIZED (
                SELECT x.xmin, x.replayed, COALESCE(newest.transaction_id::text::int8, 0) AS commit, COALESCE(newest.global_position, 0) AS sequence
                FROM snapshot AS x LEFT JOIN LATERAL (
                    SELECT e.transaction_id, e.global_position FROM \(unsafeSQL: tables.events) AS e
                    WHERE e.transaction_id < x.xmin
                    ORDER BY e.transaction_id DESC, e.global_position DESC LIMIT 1
                ) AS newest ON true
            ),
            page (global_position, position, uuid, message_name, payload, metadata, micros, transaction_id, name) AS (
                SELECT \(unsafeSQL: columns), s.name
                FROM bound AS b, \(unsafeSQL: tables.events) AS e
                JOIN \(unsafeSQL: tables.streams) AS s ON s.id = e.stream_id
                CROSS JOIN LATERAL (SELECT \(RetentionSQL.kept(dialect)) AS kept OFFSET 0) AS k
                WHERE (e.transaction_id, e.global_position) > (\(bind: String(position.commit))::xid8, \(bind: position.sequence))
                    AND e.transaction_id < b.xmin
                    AND \(dialect.targetCondition(target, name: "s.name", category: "s.category")) AND k.kept
                ORDER BY e.transaction_id, e.global_position LIMIT \(bind: limit)
            )
            SELECT p.*, NULL::int8, NULL::int8, NULL::int8
            FROM page AS p
            UNION ALL
            SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, commit, replayed, sequence FROM bound
            ORDER BY 10 NULLS FIRST, 8, 1
            """
    }

    /// Counts what ``readAll(_:after:of:limit:)`` would read, up to `limit`, with the same bounds.
    func eventCount(_ c: PostgresConnection, after position: GlobalPosition, of target: SubscriptionTarget, limit: Int)
        async throws -> Int
    {
        let after: SQLQuery = """
            (e.transaction_id, e.global_position) > (\(bind: String(position.commit))::xid8, \(bind: position.sequence))
                AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
            """
        let query = dialect.eventCount(events: tables.events, streams: tables.streams, after: after, of: target, limit: limit)
        for try await count in try await run(c, query).decode(Int64.self) { return Int(count) }
        return 0
    }

    /// `(next transaction id, 0)`: every committed event sorts below it, and so does ``readableHead(_:)``.
    /// Asked of the primary: a standby's (a server
    /// the store still took for the primary while a failover demoted it) may be behind the one that handed
    /// a reader its position, which would then look like a position of another store.
    ///
    /// Not the snapshot's `xmax` alone: that is the newest transaction id *ended* plus one, and a primary
    /// ends a commit only once its synchronous standby has answered, while a standby that replayed the
    /// commit already shows its events: a reader's position from there was past `xmax`. `age()` of a
    /// transaction id counts from the next one to hand out (in a statement that holds none); the 32-bit
    /// difference is added to `xmax`, which is at most that far behind (an `xmax` whose low 32 bits are
    /// one of the special ids 0–2, after a wraparound, adds nothing).
    /// - Throws: `backend` (which makes the store look for the primary again) when the server is a standby.
    func highestPosition(_ c: PostgresConnection) async throws -> GlobalPosition {
        let query: PostgresQuery = """
            SELECT x.xmax::text::int8 + CASE WHEN xid(x.xmax)::text::int8 >= 3 THEN GREATEST(0, age(xid(x.xmax))) ELSE 0 END,
                pg_is_in_recovery()
            FROM (SELECT pg_snapshot_xmax(pg_current_snapshot()) AS xmax) AS x
            """
        for try await (next, recovering) in try await run(c, query).decode((Int64, Bool).self) {
            if recovering {
                throw EventStoreError.backend(
                    "the server asked for the newest position is a standby (a failover under way?): the primary is looked for again")
            }
            return GlobalPosition(commit: next, sequence: 0)
        }
        return .start
    }

    /// The position of the last event committed. (A transaction still running with an older id, committing
    /// later, sorts before it: a subscription from the end treats its events as stored before it began.)
    func headPosition(_ c: PostgresConnection) async throws -> GlobalPosition {
        let query: PostgresQuery = """
            SELECT transaction_id::text::int8, global_position FROM \(unescaped: tables.events)
            ORDER BY transaction_id DESC, global_position DESC LIMIT 1
            """
        for try await (transaction, position) in try await run(c, query).decode((Int64, Int64).self) {
            return GlobalPosition(commit: transaction, sequence: position)
        }
        return .start
    }

    /// Every event below the oldest transaction still running is committed and readable.
    func readableHead(_ c: PostgresConnection) async throws -> GlobalPosition {
        let query: PostgresQuery = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::int8"
        for try await xmin in try await run(c, query).decode(Int64.self) { return GlobalPosition(commit: xmin, sequence: 0) }
        return .start
    }

    /// The transaction at the readable head (`pg_snapshot_xmin`): a session's, from `pg_stat_activity`, or a
    /// prepared one, from `pg_prepared_xacts`. Both show transaction ids in 32 bits. Without
    /// `pg_read_all_stats` another role's session shows no start, so its age is unknown.
    func globalOrderBlockers(_ c: PostgresConnection) async throws -> [GlobalOrderBlocker] {
        let query: PostgresQuery = """
            WITH oldest AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::int8 % 4294967296 AS xid)
            SELECT 'session', a.backend_xid::text::int8, EXTRACT(EPOCH FROM clock_timestamp() - a.xact_start)::float8,
                a.datname::text, a.pid, a.state, a.application_name, NULL::text
            FROM pg_stat_activity AS a, oldest WHERE a.backend_xid::text::int8 = oldest.xid
            UNION ALL
            SELECT 'prepared', p.transaction::text::int8, EXTRACT(EPOCH FROM clock_timestamp() - p.prepared)::float8,
                p.database::text, NULL::int4, NULL::text, NULL::text, p.gid
            FROM pg_prepared_xacts AS p, oldest WHERE p.transaction::text::int8 = oldest.xid
            """
        var blockers: [GlobalOrderBlocker] = []
        let rows = try await run(c, query).decode((String, Int64, Double?, String?, Int32?, String?, String?, String?).self)
        for try await (kind, xid, age, database, pid, state, application, gid) in rows {
            blockers.append(
                GlobalOrderBlocker(
                    kind: kind == "prepared" ? .prepared : .session, transactionID: xid,
                    age: age.map { .milliseconds(Int64(($0 * 1000).rounded())) }, database: database,
                    processID: pid.map(Int.init), state: state, applicationName: application, preparedName: gid))
        }
        return blockers
    }

    func checkpoint(_ c: PostgresConnection, named name: String) async throws -> GlobalPosition? {
        let query: PostgresQuery = "SELECT position FROM \(unescaped: tables.checkpoints) WHERE name = \(name)"
        for try await text in try await run(c, query).decode(String.self) {
            guard let position = GlobalPosition(text) else { throw EventStoreError.corrupt("checkpoint \"\(name)\" is corrupt") }
            return position
        }
        return nil
    }

    func saveCheckpoint(_ c: PostgresConnection, _ position: GlobalPosition, named name: String) async throws {
        try await run(
            c,
            """
            INSERT INTO \(unescaped: tables.checkpoints) (name, position) VALUES (\(name), \(position.description))
            ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = now()
            """)
    }

    // MARK: Projections

    var projectionSQL: ProjectionSQL { ProjectionSQL(table: tables.projections) }

    func projectionRecord(_ c: PostgresConnection, named name: String, lock: Bool = false) async throws -> ProjectionRecord? {
        let rows = try await run(c, projectionSQL.select(name, lock: lock))
        for try await (name, kind, status, state, positions, checkpoint, lockedUntil, leaseOwner, action, source) in rows.decode(
            (String, String, String, String?, String, String?, Int64?, String?, String?, String?).self)
        {
            return try projectionSQL.record(
                ProjectionSQL.Row(
                    name: name, kind: kind, status: status, state: state, positions: positions, checkpoint: checkpoint,
                    lockedUntil: lockedUntil, leaseOwner: leaseOwner, readModelAction: action, source: source))
        }
        return nil
    }

    func projectionNames(_ c: PostgresConnection, _ filter: NameFilter, limit: Int, offset: Int) async throws -> [String] {
        var names: [String] = []
        let query = projectionSQL.names(filter, dialect: dialect, limit: limit, offset: offset)
        for try await name in try await run(c, query).decode(String.self) { names.append(name) }
        return names
    }

    /// Reads (locking), edits and writes a projection's row, and deletes the stream the edit names (the caller
    /// holds the transaction).
    /// - Throws: ``ProjectionRowRaced`` when another transaction inserted the row first: run it again.
    func changeProjection<Result>(
        _ c: PostgresConnection, named name: String, _ change: (inout ProjectionRecord?) throws -> ProjectionChange<Result>
    ) async throws -> Result {
        let existing = try await projectionRecord(c, named: name, lock: true)
        var record = existing
        let outcome = try change(&record)
        if let record, existing == nil {
            var inserted = false
            let query = projectionSQL.insert(record) + " ON CONFLICT (name) DO NOTHING RETURNING name"
            for try await _ in try await run(c, query).decode(String.self) { inserted = true }
            if !inserted { throw ProjectionRowRaced() }
        } else if let record {
            _ = try await run(c, projectionSQL.update(record))
        } else if existing != nil {
            _ = try await run(c, projectionSQL.delete(name))
        }
        if let stream = outcome.deleteStream, try await self.stream(c, stream) != nil { try await delete(c, stream, mode: .purge) }
        return outcome.result
    }

    // MARK: Partitions

    var partitionSQL: PartitionSQL {
        PartitionSQL(table: tables.partitions, shareLock: "", updateLock: " FOR UPDATE", advisoryKey: tables.partitions)
    }

    /// Runs a statement, reading whatever rows it returns.
    func execute(_ c: PostgresConnection, _ statement: SQLQuery) async throws {
        for try await _ in try await run(c, statement) {}
    }

    private func firstText(_ c: PostgresConnection, _ query: SQLQuery) async throws -> String? {
        for try await text in try await run(c, query).decode(String?.self) { return text }
        return nil
    }

    func storedPlacement(_ c: PostgresConnection) async throws -> PlacementMap? {
        try PartitionSQL.map(try await firstText(c, partitionSQL.map(lock: false)))
    }

    /// Stores `map` when the stored map's version is `replacing` (the caller holds the transaction).
    func storePlacement(_ c: PostgresConnection, _ map: PlacementMap, as member: String, replacing version: Int64?) async throws -> Bool {
        let sql = partitionSQL
        if let lock = sql.lockForMapChange() { try await execute(c, lock) }
        guard try PartitionSQL.map(try await firstText(c, sql.map(lock: true)))?.version == version else { return false }
        _ = try await run(c, sql.clear())
        for insert in sql.insert(map, as: member) { _ = try await run(c, insert) }
        return true
    }

    func bucketState(_ c: PostgresConnection, _ bucket: Int, mapVersion version: Int64) async throws -> BucketState {
        let sql = partitionSQL
        if let lock = sql.lockForWrite(of: bucket) { try await execute(c, lock) }
        return try PartitionSQL.state(try await firstText(c, sql.state(of: bucket, version: version)))
    }

    func storedRow(_ c: PostgresConnection, _ name: StreamName) async throws -> StoredStreamRow? {
        let rows = try await run(c, StreamCopySQL.row(tables.streams, name)).decode((Int64, Int64, Int64, Int64, Int64).self)
        for try await (id, version, deleted, beginsAt, removed) in rows {
            return StoredStreamRow(id: id, version: Int(version), deleted: Int(deleted), beginsAt: Int(beginsAt), removed: Int(removed))
        }
        return nil
    }

    func storedStreamNames(_ c: PostgresConnection, after name: String, limit: Int) async throws -> [String] {
        var names: [String] = []
        for try await text in try await run(c, StreamCopySQL.names(tables.streams, after: name, limit: limit)).decode(String.self) {
            names.append(text)
        }
        return names
    }

    // MARK: Consumer groups

    var consumerGroupSQL: ConsumerGroupSQL { ConsumerGroupSQL(table: tables.consumerGroups) }

    /// A group's row as JSON text; `lock` holds it until the transaction ends.
    func consumerGroupText(_ c: PostgresConnection, named name: String, lock: Bool = false) async throws -> String? {
        for try await text in try await run(c, consumerGroupSQL.select(name, lock: lock)).decode(String.self) { return text }
        return nil
    }

    func consumerGroupNames(_ c: PostgresConnection, limit: Int, offset: Int) async throws -> [String] {
        var names: [String] = []
        for try await name in try await run(c, consumerGroupSQL.names(limit: limit, offset: offset)).decode(String.self) { names.append(name) }
        return names
    }

    /// Reads (locking), edits and writes a group's row, with the server's clock (the caller holds the
    /// transaction).
    /// - Throws: ``ProjectionRowRaced`` when another transaction inserted the row first: run it again.
    func changeConsumerGroup<Result>(
        _ c: PostgresConnection, named name: String, _ change: (inout ConsumerGroupRecord?, Int64) throws -> Result
    ) async throws -> Result {
        let sql = consumerGroupSQL
        let existing = try await consumerGroupText(c, named: name, lock: true)
        var now: Int64?
        let clock: SQLQuery = "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::int8"
        for try await value in try await run(c, clock).decode(Int64.self) { now = value }
        guard let now else { throw EventStoreError.backend("PostgreSQL did not say what time it is") }
        let (result, write) = try ConsumerGroupSQL.apply(existing, now: now, change)
        switch write {
        case .none:
            break
        case let .insert(record):
            var inserted = false
            for try await _ in try await run(c, sql.insert(name, record) + " ON CONFLICT (name) DO NOTHING RETURNING name").decode(String.self) {
                inserted = true
            }
            if !inserted { throw ProjectionRowRaced() }
        case let .update(record):
            _ = try await run(c, sql.update(name, record))
        case .delete:
            _ = try await run(c, sql.delete(name))
        }
        return result
    }

    func snapshot(_ c: PostgresConnection, type: String, id: String) async throws -> Snapshot? {
        let query: PostgresQuery = """
            SELECT last_version, state::text, (extract(epoch FROM created_at) * 1000000)::int8 FROM \(unescaped: tables.snapshots)
            WHERE aggregate_type = \(type) AND aggregate_id = \(id)
            """
        for try await (version, state, micros) in try await run(c, query).decode((Int64, String, Int64).self) {
            return try Snapshot(
                aggregateType: type, aggregateID: id, lastVersion: Int(version), state: Payload(storedJSON: state),
                createdAt: Timestamp.date(microseconds: micros))
        }
        return nil
    }

    func save(_ c: PostgresConnection, _ snapshots: [Snapshot]) async throws {
        for snapshot in snapshots {
            try await run(
                c,
                """
                INSERT INTO \(unescaped: tables.snapshots) (aggregate_type, aggregate_id, last_version, state, created_at)
                VALUES (\(snapshot.aggregateType), \(snapshot.aggregateID), \(Int64(snapshot.lastVersion)), \(snapshot.state.jsonText)::json,
                    timestamptz 'epoch' + \(Timestamp.microseconds(snapshot.createdAt)) * interval '1 microsecond')
                ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET last_version = excluded.last_version,
                    state = excluded.state, created_at = excluded.created_at
                """)
        }
    }

    func removeSnapshots(_ c: PostgresConnection, type: String) async throws {
        try await run(c, "DELETE FROM \(unescaped: tables.snapshots) WHERE aggregate_type = \(type)")
    }

    private func events(
        _ c: PostgresConnection, _ query: SQLQuery, streamColumn: Bool = false,
        stream: (String?) throws -> StreamName
    ) async throws -> [RecordedEvent] {
        var events: [RecordedEvent] = []
        let rows = try await run(c, query)
        for try await row in rows {
            let cells = row.makeRandomAccess()
            events.append(try event(cells, stream: try stream(streamColumn ? try cells[8].decode(String.self) : nil)))
        }
        return events
    }

    /// An event from the first eight of ``columns`` in `cells`.
    private func event(_ cells: PostgresRandomAccessRow, stream streamName: StreamName) throws -> RecordedEvent {
        let global = try cells[0].decode(Int64.self)
        let position = try cells[1].decode(Int64.self)
        let uuid = try cells[2].decode(UUID.self)
        let name = try cells[3].decode(String.self)
        let payload = try cells[4].decode(String.self)
        let metadata = try cells[5].decode(String.self)
        let micros = try cells[6].decode(Int64.self)
        let transaction = try cells[7].decode(Int64.self)
        let message = EventMessage(
            messageName: name, payload: Payload(storedJSON: payload), metadata: try storedMetadata(metadata), uuid: uuid,
            createdAtMicros: micros)
        return RecordedEvent(
            streamName: streamName, position: Int(position),
            globalPosition: GlobalPosition(commit: transaction, sequence: global),
            message: message)
    }

    /// An event from the first eight of ``libpqColumns`` in a libpq row.
    private func event(_ row: LibPQRow, stream streamName: StreamName) throws -> RecordedEvent {
        let message = EventMessage(
            messageName: row.text(3), payload: Payload(storedJSON: row.text(4)), metadata: try storedMetadata(row.text(5)),
            uuid: try row.uuid(2), createdAtMicros: try row.timestampMicros(6))
        return RecordedEvent(
            streamName: streamName, position: Int(try row.int64(1)),
            globalPosition: GlobalPosition(commit: try row.int64(7), sequence: try row.int64(0)),
            message: message)
    }

    func streamNames(_ c: PostgresConnection, _ filter: NameFilter, matching: MetadataMatcher?, limit: Int, offset: Int)
        async throws -> [StreamName]
    {
        let query = DeletionSQL.streamNames(dialect, streams: tables.streams, filter, matching: matching, limit: limit, offset: offset)
        var names: [StreamName] = []
        for try await name in try await run(c, query).decode(String.self) { names.append(try storedStreamName(name)) }
        return names
    }

    func categoryNames(_ c: PostgresConnection, _ filter: NameFilter, limit: Int, offset: Int) async throws -> [String] {
        let query = DeletionSQL.categoryNames(dialect, streams: tables.streams, filter, limit: limit, offset: offset)
        var names: [String] = []
        for try await name in try await run(c, query).decode(String.self) { names.append(name) }
        return names
    }
}

extension PSQLError {
    /// The server's SQLSTATE, when the server reported the error.
    var sqlState: String? { serverInfo?[.sqlState] }

    /// `true` for a unique violation (23505) of the named constraint or index.
    func isUniqueViolation(of constraint: String) -> Bool {
        sqlState == "23505" && serverInfo?[.constraintName] == constraint
    }

    var detail: String? { serverInfo?[.detail] }
}

