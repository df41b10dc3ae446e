import CSQLite
import Dispatch
import EventStore
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// The same rows written and read with the plain driver, for the ratio against the store.
///
/// Each baseline keeps events in tables shaped like the store's (a streams table with versions, an events
/// table with a global position and the unique keys on position and uuid), with the same batching: one
/// transaction per append. Reads materialise every column of every row as text.
protocol RawBaseline: Sendable {
    /// Appends `events` to `stream` in one transaction, creating the stream when it is new.
    func append(_ events: [EventMessage], to stream: String) async throws
    /// Reads a stream forward or backward. - Returns: how many rows.
    func load(_ stream: String, forward: Bool) async throws -> Int
    /// Reads a stream's rows whose metadata `_aggregate_id` is `aggregateID`. - Returns: how many rows.
    func load(_ stream: String, aggregateID: String) async throws -> Int
    /// Reads every event in global order, 1000 at a time. - Returns: how many rows.
    func readAll() async throws -> Int
    /// Drops what the baseline created, and the store's tables of the same prefix.
    func close() async throws
}

/// A baseline on a blocking C client, called on a dispatch queue of its own.
protocol BlockingRawBaseline: RawBaseline {
    /// Runs `body` on the baseline's queue.
    func run<T: Sendable>(_ body: @escaping @Sendable (Self) throws -> T) async throws -> T
    /// Runs statements that return no rows.
    func execute(_ sql: String) throws
}

extension BlockingRawBaseline {
    /// Runs `body` on the queue in one transaction begun with `begin`: committed when it returns, rolled back
    /// when it throws.
    func transaction(begun begin: String, _ body: @escaping @Sendable (Self) throws -> Void) async throws {
        try await run { raw in
            try raw.execute(begin)
            do {
                try body(raw)
                try raw.execute("COMMIT")
            } catch {
                try? raw.execute("ROLLBACK")
                throw error
            }
        }
    }
}


// MARK: Memory

/// For the in-memory store: a Swift array of the same values behind a lock.
final class MemoryRaw: RawBaseline {
    private struct Row: Sendable {
        let stream: String
        let position: Int
        let message: EventMessage
    }

    private let rows = Mutex<(all: [Row], byStream: [String: [Int]])>(([], [:]))

    func append(_ events: [EventMessage], to stream: String) async throws {
        rows.withLock { rows in
            var indexes = rows.byStream[stream, default: []]
            for event in events {
                indexes.append(rows.all.count)
                rows.all.append(Row(stream: stream, position: indexes.count, message: event))
            }
            rows.byStream[stream] = indexes
        }
    }

    /// Builds a recorded event for every row, as a reader would get it.
    func load(_ stream: String, forward: Bool) async throws -> Int {
        let (all, indexes) = rows.withLock { ($0.all, $0.byStream[stream] ?? []) }
        let name = try StreamName(stream)
        var count = 0
        for index in forward ? indexes : indexes.reversed() {
            let row = all[index]
            let event = RecordedEvent(
                streamName: name, position: row.position, globalPosition: GlobalPosition(sequence: Int64(index + 1)),
                message: row.message)
            if event.position > 0 { count += 1 }
        }
        return count
    }

    func load(_ stream: String, aggregateID: String) async throws -> Int {
        let (all, indexes) = rows.withLock { ($0.all, $0.byStream[stream] ?? []) }
        return indexes.filter { all[$0].message.metadata["_aggregate_id"]?.stringValue == aggregateID }.count
    }

    func readAll() async throws -> Int {
        var count = 0
        var next = 0
        while true {
            let page = rows.withLock { rows in Array(rows.all[min(next, rows.all.count)..<min(next + 1000, rows.all.count)]) }
            count += page.count
            next += page.count
            if page.count < 1000 { return count }
        }
    }

    func close() async throws {}
}

// MARK: SQLite

/// The SQLite C library, called directly on a dispatch queue: WAL and `synchronous = FULL`, as the store.
final class SQLiteRaw: BlockingRawBaseline, @unchecked Sendable {
    private let queue = DispatchQueue(label: "eventstore.bench.sqlite")
    // Touched only on `queue`.
    private var db: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]
    private let streams: String
    private let events: String
    /// The store's tables of the same prefix, dropped by `close()`.
    private let storeTables: [String]

    init(path: String, prefix: String, storeTables: [String]) async throws {
        self.storeTables = storeTables
        streams = "\"\(prefix)raw_streams\""
        events = "\"\(prefix)raw_events\""
        try await run { raw in
            guard sqlite3_open_v2(path, &raw.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK else {
                throw BenchFailure("cannot open \(path)")
            }
            sqlite3_busy_timeout(raw.db, 5000)
            try raw.execute("PRAGMA journal_mode = WAL")
            try raw.execute("PRAGMA synchronous = FULL")
            try raw.execute(
                """
                CREATE TABLE \(raw.streams) (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,
                    version INTEGER NOT NULL DEFAULT 0);
                CREATE TABLE \(raw.events) (global_position INTEGER PRIMARY KEY AUTOINCREMENT, stream_id INTEGER NOT NULL,
                    position INTEGER NOT NULL, uuid TEXT NOT NULL, message_name TEXT NOT NULL, payload TEXT NOT NULL,
                    metadata TEXT NOT NULL, created_at TEXT NOT NULL, UNIQUE (stream_id, position), UNIQUE (stream_id, uuid));
                """)
        }
    }

    func run<T: Sendable>(_ body: @escaping @Sendable (SQLiteRaw) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body(self) }) }
        }
    }

    func execute(_ sql: String) throws {
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else { throw BenchFailure(String(cString: sqlite3_errmsg(db))) }
    }

    private func statement(_ sql: String) throws -> OpaquePointer {
        if let cached = statements[sql] {
            sqlite3_reset(cached)
            sqlite3_clear_bindings(cached)
            return cached
        }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil) == SQLITE_OK, let statement else {
            throw BenchFailure(String(cString: sqlite3_errmsg(db)))
        }
        statements[sql] = statement
        return statement
    }

    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    private func bind(_ statement: OpaquePointer, _ index: Int32, _ text: String) {
        sqlite3_bind_text(statement, index, text, -1, Self.transient)
    }

    private func step(_ statement: OpaquePointer) throws -> Bool {
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw BenchFailure(String(cString: sqlite3_errmsg(db)))
        }
    }

    /// Reads every column of the current row as text, as a driver hands rows over.
    private func materialise(_ statement: OpaquePointer) -> Int {
        var bytes = 0
        for column in 0..<sqlite3_column_count(statement) {
            if let text = sqlite3_column_text(statement, column) { bytes += String(cString: text).utf8.count }
        }
        return bytes
    }

    func append(_ messages: [EventMessage], to stream: String) async throws {
        let rows = messages.map { RawRow($0) }
        try await transaction(begun: "BEGIN IMMEDIATE") { raw in
            let select = try raw.statement("SELECT id, version FROM \(raw.streams) WHERE name = ?")
            raw.bind(select, 1, stream)
            var id: Int64
            var version: Int64 = 0
            if try raw.step(select) {
                id = sqlite3_column_int64(select, 0)
                version = sqlite3_column_int64(select, 1)
            } else {
                let insert = try raw.statement("INSERT INTO \(raw.streams) (name) VALUES (?)")
                raw.bind(insert, 1, stream)
                _ = try raw.step(insert)
                id = sqlite3_last_insert_rowid(raw.db)
            }
            sqlite3_reset(select)
            let insert = try raw.statement(
                "INSERT INTO \(raw.events) (stream_id, position, uuid, message_name, payload, metadata, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
            for row in rows {
                version += 1
                sqlite3_reset(insert)
                sqlite3_bind_int64(insert, 1, id)
                sqlite3_bind_int64(insert, 2, version)
                raw.bind(insert, 3, row.uuid)
                raw.bind(insert, 4, row.name)
                raw.bind(insert, 5, row.payload)
                raw.bind(insert, 6, row.metadata)
                raw.bind(insert, 7, row.createdAt)
                _ = try raw.step(insert)
            }
            let update = try raw.statement("UPDATE \(raw.streams) SET version = ? WHERE id = ?")
            sqlite3_bind_int64(update, 1, version)
            sqlite3_bind_int64(update, 2, id)
            _ = try raw.step(update)
        }
    }

    private func count(_ sql: String, _ binds: [String]) async throws -> Int {
        try await run { raw in
            let statement = try raw.statement(sql)
            for (index, value) in binds.enumerated() { raw.bind(statement, Int32(index + 1), value) }
            var rows = 0
            while try raw.step(statement) {
                _ = raw.materialise(statement)
                rows += 1
            }
            sqlite3_reset(statement)
            return rows
        }
    }

    private var columns: String { "e.global_position, e.position, e.uuid, e.message_name, e.payload, e.metadata, e.created_at" }

    func load(_ stream: String, forward: Bool) async throws -> Int {
        try await count(
            "SELECT \(columns) FROM \(events) AS e JOIN \(streams) AS s ON s.id = e.stream_id WHERE s.name = ? ORDER BY e.position \(forward ? "ASC" : "DESC")",
            [stream])
    }

    func load(_ stream: String, aggregateID: String) async throws -> Int {
        try await count(
            "SELECT \(columns) FROM \(events) AS e JOIN \(streams) AS s ON s.id = e.stream_id WHERE s.name = ? AND json_extract(e.metadata, '$._aggregate_id') = ? ORDER BY e.position",
            [stream, aggregateID])
    }

    func readAll() async throws -> Int {
        try await run { raw in
            let statement = try raw.statement(
                "SELECT e.global_position, e.position, e.uuid, e.message_name, e.payload, e.metadata, e.created_at, s.name FROM \(raw.events) AS e JOIN \(raw.streams) AS s ON s.id = e.stream_id WHERE e.global_position > ? ORDER BY e.global_position LIMIT 1000")
            var total = 0
            var last: Int64 = 0
            while true {
                sqlite3_reset(statement)
                sqlite3_bind_int64(statement, 1, last)
                var page = 0
                while try raw.step(statement) {
                    last = sqlite3_column_int64(statement, 0)
                    _ = raw.materialise(statement)
                    page += 1
                }
                total += page
                if page < 1000 { return total }
            }
        }
    }

    func close() async throws {
        try await run { raw in
            for statement in raw.statements.values { sqlite3_finalize(statement) }
            raw.statements = [:]
            try raw.execute("DROP TABLE \(raw.events); DROP TABLE \(raw.streams)")
            for table in raw.storeTables { try raw.execute("DROP TABLE IF EXISTS \"\(table)\"") }
            sqlite3_close(raw.db)
            raw.db = nil
        }
    }
}

/// An event's columns as text, as every baseline writes them.
struct RawRow: Sendable {
    let uuid: String, name: String, payload: String, metadata: String
    /// `created_at` as text, and as microseconds since 1970.
    let createdAt: String, micros: Int64

    init(_ message: EventMessage) {
        uuid = message.uuid.lowercased
        name = message.messageName
        payload = message.payload.jsonText
        metadata = message.metadata.jsonText
        createdAt = Timestamp.format(microseconds: message.createdAtMicros)
        micros = message.createdAtMicros
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

// MARK: PostgreSQL

/// PostgresNIO on its own client: one `UNNEST` insert per append, as the store does it. Reads go through
/// libpq (``LibPQRaw``) when the store's do, else through PostgresNIO.
final class PostgresRaw: RawBaseline {
    private let client: PostgresClient
    private let libpq: LibPQRaw?
    private let runner: Task<Void, Never>
    private let logger: Logger
    private let streams: String
    private let events: String
    /// The store's tables of the same prefix, dropped by `close()`.
    private let storeTables: [String]
    /// The store's append function of the same prefix (quoted), dropped by `close()`.
    private let storeFunction: String

    /// - Parameter libpq: the connection string of libpq for the reads, or nil to read through PostgresNIO.
    init(
        configuration: PostgresClient.Configuration, libpq: String?, prefix: String, storeTables: [String],
        storeFunction: String, logger: Logger
    ) async throws {
        self.storeTables = storeTables
        self.storeFunction = storeFunction
        self.libpq = try libpq.flatMap { try LibPQRaw(conninfo: $0) }
        let client = PostgresClient(configuration: configuration)
        self.client = client
        self.runner = Task { await client.run() }
        self.logger = logger
        streams = "\"\(prefix)raw_streams\""
        events = "\"\(prefix)raw_events\""
        let (streams, events) = (self.streams, self.events)
        try await client.withConnection { c in
            _ = try await c.query(
                """
                CREATE TABLE \(unescaped: streams) (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    name text COLLATE "C" NOT NULL UNIQUE, version bigint NOT NULL DEFAULT 0)
                """, logger: logger)
            _ = try await c.query(
                """
                CREATE TABLE \(unescaped: events) (global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    stream_id bigint NOT NULL, position bigint NOT NULL, uuid uuid NOT NULL, message_name text NOT NULL,
                    payload json NOT NULL, metadata jsonb NOT NULL, created_at timestamptz NOT NULL,
                    UNIQUE (stream_id, position), UNIQUE (stream_id, uuid))
                """, logger: logger)
        }
    }

    func append(_ messages: [EventMessage], to stream: String) async throws {
        let rows = messages.map { RawRow($0) }
        let (streams, events, logger) = (self.streams, self.events, self.logger)
        try await client.withConnection { c in
            _ = try await c.query("BEGIN", logger: logger)
            do {
                var found: (Int64, Int64)?
                for try await row in try await c.query(
                    "SELECT id, version FROM \(unescaped: streams) WHERE name = \(stream) FOR UPDATE", logger: logger
                ).decode((Int64, Int64).self) {
                    found = row
                }
                if found == nil {
                    for try await id in try await c.query(
                        "INSERT INTO \(unescaped: streams) (name) VALUES (\(stream)) RETURNING id", logger: logger
                    ).decode(Int64.self) {
                        found = (id, 0)
                    }
                }
                guard let (id, version) = found else { throw BenchFailure("no stream row") }
                _ = try await c.query(
                    """
                    INSERT INTO \(unescaped: events) (stream_id, position, uuid, message_name, payload, metadata, created_at)
                    SELECT \(id), \(version) + e.ord, e.uuid, e.name, e.payload::json, e.metadata::jsonb,
                        timestamptz 'epoch' + e.micros * interval '1 microsecond'
                    FROM unnest(\(rows.map(\.uuid))::uuid[], \(rows.map(\.name))::text[], \(rows.map(\.payload))::text[],
                        \(rows.map(\.metadata))::text[], \(rows.map(\.micros))::int8[])
                        WITH ORDINALITY AS e(uuid, name, payload, metadata, micros, ord)
                    """, logger: logger)
                _ = try await c.query(
                    "UPDATE \(unescaped: streams) SET version = \(version + Int64(rows.count)) WHERE id = \(id)", logger: logger)
                _ = try await c.query("COMMIT", logger: logger)
            } catch {
                _ = try? await c.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    private static let columns = "e.global_position, e.position, e.uuid::text, e.message_name, e.payload::text, e.metadata::text, e.created_at::text"

    private func count(_ query: PostgresQuery) async throws -> Int {
        let logger = self.logger
        return try await client.withConnection { c in
            var rows = 0
            for try await _ in try await c.query(query, logger: logger).decode((Int64, Int64, String, String, String, String, String).self) {
                rows += 1
            }
            return rows
        }
    }

    /// The columns the store's libpq reader takes: integers, uuid and timestamp in binary, JSON as text.
    private static let libpqColumns = "e.global_position, e.position, e.uuid, e.message_name, e.payload::text, e.metadata::text, e.created_at"

    func load(_ stream: String, forward: Bool) async throws -> Int {
        if let libpq {
            return try await libpq.rows(
                """
                SELECT \(Self.libpqColumns) FROM \(events) AS e JOIN \(streams) AS s ON s.id = e.stream_id
                WHERE s.name = $1 ORDER BY e.position \(forward ? "ASC" : "DESC")
                """, [(25, stream)]
            ).count
        }
        return try await count(
            """
            SELECT \(unescaped: Self.columns) FROM \(unescaped: events) AS e JOIN \(unescaped: streams) AS s ON s.id = e.stream_id
            WHERE s.name = \(stream) ORDER BY e.position \(unescaped: forward ? "ASC" : "DESC")
            """)
    }

    func load(_ stream: String, aggregateID: String) async throws -> Int {
        if let libpq {
            return try await libpq.rows(
                """
                SELECT \(Self.libpqColumns) FROM \(events) AS e JOIN \(streams) AS s ON s.id = e.stream_id
                WHERE s.name = $1 AND e.metadata ->> '_aggregate_id' = $2 ORDER BY e.position
                """, [(25, stream), (25, aggregateID)]
            ).count
        }
        return try await count(
            """
            SELECT \(unescaped: Self.columns) FROM \(unescaped: events) AS e JOIN \(unescaped: streams) AS s ON s.id = e.stream_id
            WHERE s.name = \(stream) AND e.metadata ->> '_aggregate_id' = \(aggregateID) ORDER BY e.position
            """)
    }

    func readAll() async throws -> Int {
        var total = 0
        var last: Int64 = 0
        while let libpq {
            let page = try await libpq.rows(
                """
                SELECT \(Self.libpqColumns), s.name FROM \(events) AS e JOIN \(streams) AS s ON s.id = e.stream_id
                WHERE e.global_position > $1 ORDER BY e.global_position LIMIT 1000
                """, [(20, String(last))])
            total += page.count
            last = page.count > 0 ? page.last : last
            if page.count < 1000 { return total }
        }
        while true {
            let logger = self.logger
            let query: PostgresQuery = """
                SELECT \(unescaped: Self.columns), s.name FROM \(unescaped: events) AS e
                JOIN \(unescaped: streams) AS s ON s.id = e.stream_id
                WHERE e.global_position > \(last) ORDER BY e.global_position LIMIT 1000
                """
            let page = try await client.withConnection { c in
                var rows: [Int64] = []
                for try await row in try await c.query(query, logger: logger)
                    .decode((Int64, Int64, String, String, String, String, String, String).self)
                {
                    rows.append(row.0)
                }
                return rows
            }
            total += page.count
            last = page.last ?? last
            if page.count < 1000 { return total }
        }
    }

    func close() async throws {
        let (streams, events, logger, storeFunction) = (self.streams, self.events, self.logger, self.storeFunction)
        let storeTables = storeTables.map { "\"\($0)\"" }.joined(separator: ", ")
        try await client.withConnection { c in
            _ = try await c.query("DROP TABLE \(unescaped: events), \(unescaped: streams)", logger: logger)
            _ = try await c.query("DROP TABLE IF EXISTS \(unescaped: storeTables)", logger: logger)
            _ = try await c.query("DROP FUNCTION IF EXISTS \(unescaped: storeFunction)", logger: logger)
        }
        runner.cancel()
        await runner.value
    }
}
