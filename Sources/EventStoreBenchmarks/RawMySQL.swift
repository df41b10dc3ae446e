#if MySQL
import CMariaDB
import Dispatch
import EventStore
import Foundation

/// libmariadb called directly (text protocol, escaped literals, one multi-row insert per append) on a
/// dispatch queue, into tables shaped like the store's.
final class MySQLRaw: BlockingRawBaseline, @unchecked Sendable {
    private let queue = DispatchQueue(label: "eventstore.bench.mariadb")
    // Touched only on `queue`.
    private let handle: UnsafeMutablePointer<MYSQL>
    private let streams: String
    private let events: String
    /// The store's tables of the same prefix, dropped by `close()`.
    private let storeTables: [String]

    init(
        host: String, port: Int, username: String, password: String?, database: String, prefix: String,
        storeTables: [String]
    ) async throws {
        guard let handle = mysql_init(nil) else { throw BenchFailure("mysql_init failed") }
        self.handle = handle
        self.storeTables = storeTables
        streams = "`\(prefix)raw_streams`"
        events = "`\(prefix)raw_events`"
        try await run { raw in
            mysql_options(raw.handle, MYSQL_SET_CHARSET_NAME, "utf8mb4")
            guard mysql_real_connect(raw.handle, host, username, password, database, UInt32(port), nil, 0) != nil else {
                throw BenchFailure(String(cString: mysql_error(raw.handle)))
            }
            try raw.execute(
                """
                CREATE TABLE \(raw.streams) (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARBINARY(150) NOT NULL UNIQUE,
                    version BIGINT NOT NULL DEFAULT 0) ENGINE=InnoDB
                """)
            try raw.execute(
                """
                CREATE TABLE \(raw.events) (global_position BIGINT AUTO_INCREMENT PRIMARY KEY, stream_id BIGINT NOT NULL,
                    position BIGINT NOT NULL, uuid BINARY(36) NOT NULL, message_name VARBINARY(255) NOT NULL,
                    payload LONGTEXT NOT NULL, metadata LONGTEXT NOT NULL, created_at DATETIME(6) NOT NULL,
                    UNIQUE KEY (stream_id, position), UNIQUE KEY (stream_id, uuid)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
                """)
        }
    }

    deinit { mysql_close(handle) }

    func run<T: Sendable>(_ body: @escaping @Sendable (MySQLRaw) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body(self) }) }
        }
    }

    func execute(_ sql: String) throws {
        guard mysql_real_query(handle, sql, UInt(sql.utf8.count)) == 0 else { throw BenchFailure(String(cString: mysql_error(handle))) }
    }

    /// A quoted, escaped string literal.
    private func literal(_ text: String) -> String {
        let bytes = Array(text.utf8)
        var out = [CChar](repeating: 0, count: bytes.count * 2 + 1)
        let length = bytes.withUnsafeBufferPointer { source in
            source.withMemoryRebound(to: CChar.self) { mysql_real_escape_string(handle, &out, $0.baseAddress, UInt(bytes.count)) }
        }
        return "'" + String(decoding: out[0..<Int(length)].map { UInt8(bitPattern: $0) }, as: UTF8.self) + "'"
    }

    /// Runs a query and reads every column of every row as text.
    private func rows(_ sql: String) throws -> [[String]] {
        try execute(sql)
        guard let result = mysql_use_result(handle) else { return [] }
        defer { mysql_free_result(result) }
        let columns = Int(mysql_num_fields(result))
        var rows: [[String]] = []
        while let row = mysql_fetch_row(result) {
            guard let lengths = mysql_fetch_lengths(result) else { continue }
            rows.append(
                (0..<columns).map { column in
                    guard let value = row[column] else { return "" }
                    return String(decoding: UnsafeRawBufferPointer(start: value, count: Int(lengths[column])), as: UTF8.self)
                })
        }
        return rows
    }

    func append(_ messages: [EventMessage], to stream: String) async throws {
        let rows = messages.map { RawRow($0) }
        try await transaction(begun: "START TRANSACTION") { raw in
            let name = raw.literal(stream)
            let found = try raw.rows("SELECT id, version FROM \(raw.streams) WHERE name = \(name) FOR UPDATE")
            let id: String
            var version: Int
            if let row = found.first {
                id = row[0]
                version = Int(row[1]) ?? 0
            } else {
                try raw.execute("INSERT INTO \(raw.streams) (name) VALUES (\(name))")
                id = String(mysql_insert_id(raw.handle))
                version = 0
            }
            var values: [String] = []
            for row in rows {
                version += 1
                values.append(
                    "(\(id), \(version), \(raw.literal(row.uuid)), \(raw.literal(row.name)), \(raw.literal(row.payload)), \(raw.literal(row.metadata)), \(raw.literal(row.createdAt)))")
            }
            try raw.execute(
                "INSERT INTO \(raw.events) (stream_id, position, uuid, message_name, payload, metadata, created_at) VALUES "
                    + values.joined(separator: ","))
            try raw.execute("UPDATE \(raw.streams) SET version = \(version) WHERE id = \(id)")
        }
    }

    private var columns: String { "e.global_position, e.position, e.uuid, e.message_name, e.payload, e.metadata, e.created_at" }

    func load(_ stream: String, forward: Bool) async throws -> Int {
        try await run { raw in
            try raw.rows(
                "SELECT \(raw.columns) FROM \(raw.events) AS e JOIN \(raw.streams) AS s ON s.id = e.stream_id WHERE s.name = \(raw.literal(stream)) ORDER BY e.position \(forward ? "ASC" : "DESC")"
            ).count
        }
    }

    func load(_ stream: String, aggregateID: String) async throws -> Int {
        try await run { raw in
            try raw.rows(
                "SELECT \(raw.columns) FROM \(raw.events) AS e JOIN \(raw.streams) AS s ON s.id = e.stream_id WHERE s.name = \(raw.literal(stream)) AND JSON_UNQUOTE(JSON_EXTRACT(e.metadata, '$._aggregate_id')) = \(raw.literal(aggregateID)) ORDER BY e.position"
            ).count
        }
    }

    func readAll() async throws -> Int {
        try await run { raw in
            var total = 0
            var last = "0"
            while true {
                let page = try raw.rows(
                    "SELECT STRAIGHT_JOIN \(raw.columns), s.name FROM \(raw.events) AS e JOIN \(raw.streams) AS s ON s.id = e.stream_id WHERE e.global_position > \(last) ORDER BY e.global_position LIMIT 1000")
                total += page.count
                last = page.last?.first ?? last
                if page.count < 1000 { return total }
            }
        }
    }

    func close() async throws {
        try await run { raw in
            try raw.execute("DROP TABLE \(raw.events), \(raw.streams)")
            try raw.execute("DROP TABLE IF EXISTS " + raw.storeTables.map { "`\($0)`" }.joined(separator: ", "))
        }
    }
}
#endif
