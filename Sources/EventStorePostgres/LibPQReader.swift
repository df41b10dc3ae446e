import CLibPQ
import EventStore
import EventStoreSQL
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The store's hot reads (the pages of a load, the pages of the global order) through libpq, on blocking
/// workers of their own, when libpq is installed (``PostgresConfiguration/readsThroughLibpq``).
///
/// PostgresNIO decodes each row through an async sequence of cells; libpq hands a whole page over as one
/// result. On the benchmark's 100,000-event stream a C loop over libpq read the store's page query at
/// 290,000–315,000 rows/s where PostgresNIO's raw baseline read 145,000–159,000 (docs/decisions.md).
/// Writes, transactions and the other reads stay on PostgresNIO.
///
/// Each call has the store's deadlines: `connect_timeout` when a connection opens, and `queryTimeout` for
/// the call, past which the connection's socket is shut (the call fails with `backend`, the next call opens
/// a new connection); a cancelled caller's call is cut at once the same way. TCP keepalive is on.
final class LibPQReader: Sendable {
    private let pool: WorkerPool<LibPQConnection>
    private let queryTimeout: Duration

    /// A reader for `configuration`, or nil when libpq cannot be loaded or cannot check the server's
    /// certificate as PostgresNIO does (the reason is logged).
    static func make(_ configuration: PostgresConfiguration, logger: Logger) -> LibPQReader? {
        guard configuration.readsThroughLibpq else { return nil }
        guard eslpq_load() == 1 else {
            logger.notice(
                "[EventStore] PostgreSQL reads go through PostgresNIO: libpq could not be loaded (\(String(cString: eslpq_load_error()))); install libpq5 for faster loads")
            return nil
        }
        guard let conninfo = LibPQConnection.conninfo(configuration) else {
            logger.notice(
                "[EventStore] PostgreSQL reads go through PostgresNIO: sslmode=require checks the server's certificate against the system's trusted roots, and libpq finds no bundle of them here (\(LibPQConnection.trustedRootBundles.joined(separator: ", ")))")
            return nil
        }
        return LibPQReader(configuration, conninfo: conninfo)
    }

    private init(_ configuration: PostgresConfiguration, conninfo: String) {
        pool = WorkerPool(
            (0..<max(1, configuration.poolSize)).map { index in
                BlockingWorker(
                    label: "eventstore.postgres.reader.\(index)", open: { try LibPQConnection(conninfo, interrupter: $0) },
                    isBroken: \.isBroken)
            },
            waitLimit: configuration.connectTimeout)
        queryTimeout = configuration.queryTimeout
    }

    /// Runs `body` on a reader connection, under the query deadline.
    func read<T: Sendable>(_ body: @escaping @Sendable (LibPQConnection) throws -> T) async throws -> T {
        let timeout = queryTimeout
        return try await pool.withWorker { worker in
            do {
                return try await worker.run(cancellation: .interruptsAtOnce, deadline: timeout, body)
            } catch let interrupted as JobInterrupted {
                if interrupted.pastDeadline {
                    throw EventStoreError.backend(
                        "PostgreSQL did not answer within \(timeout): the reader's connection was closed (the next read opens a new one)",
                        underlying: interrupted.underlying)
                }
                throw interrupted.underlying
            }
        }
    }

    func close() async { await pool.shutDown() }
}

/// A libpq connection of the reader, used on its worker's queue only.
final class LibPQConnection {
    private let handle: OpaquePointer
    private let interrupter: BlockingInterrupter

    init(_ conninfo: String, interrupter: BlockingInterrupter) throws {
        guard let handle = eslpq_connect(conninfo) else { throw EventStoreError.backend("PostgreSQL: libpq could not allocate a connection") }
        guard eslpq_is_ok(handle) == 1 else {
            let message = String(cString: eslpq_error_message(handle))
            eslpq_finish(handle)
            throw EventStoreError.backend("PostgreSQL: could not connect (\(message.trimmingCharacters(in: .whitespacesAndNewlines)))")
        }
        self.handle = handle
        self.interrupter = interrupter
        // Shutting the socket down from another thread ends a call blocked on it at once: libpq sees the
        // connection closed and fails the call (a frozen server, a half-open socket, a cancelled caller). It
        // is shut through a descriptor of this connection's own: libpq closes its descriptor when the
        // connection breaks, and the number may then be another socket's by the time the interrupt runs.
        // Close-on-exec, as libpq's own: a child process must not hold the connection open.
        let socket = fcntl(eslpq_socket(handle), F_DUPFD_CLOEXEC, 0)
        guard socket >= 0 else {
            let reason = String(cString: strerror(errno))
            eslpq_finish(handle)
            throw EventStoreError.backend("PostgreSQL: the reader's connection cannot be interrupted (\(reason))")
        }
        self.socket = socket
        interrupter.arm { _ = shutdown(socket, Int32(SHUT_RDWR)) }
    }

    /// A duplicate of libpq's socket, open as long as this connection: what an interrupt shuts down.
    private let socket: Int32

    deinit {
        interrupter.disarm()
        eslpq_finish(handle)
        close(socket)
    }

    var isBroken: Bool { eslpq_is_ok(handle) != 1 }

    /// libpq's own descriptor of the connection, -1 once libpq has closed it.
    var libpqSocket: Int32 { eslpq_socket(handle) }

    /// Whether the read now running on this connection has been interrupted.
    var isInterrupted: Bool { interrupter.isInterrupted }

    /// Where the system's trusted roots are, by platform (Debian and Ubuntu, Fedora and RHEL, Alpine and
    /// macOS): what PostgresNIO's TLS checks a certificate against.
    static let trustedRootBundles = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"]

    /// libpq's connection string for `configuration`: every value quoted, so no value can add a keyword.
    ///
    /// The TLS modes keep PostgresNIO's guarantees. `require` is libpq's `verify-full` against the system's
    /// trusted roots (libpq's `require` checks no certificate), or nil when no bundle of them is found.
    /// `prefer` stays `prefer`: PostgresNIO's checks the certificate when TLS is agreed, but falls back to
    /// plain text when the server (or whoever answers for it) declines TLS, so neither stops an active
    /// attacker, and both encrypt against a passive one.
    static func conninfo(_ configuration: PostgresConfiguration, bundles: [String] = trustedRootBundles) -> String? {
        func quoted(_ value: String) -> String {
            "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
        }
        var tls = [("sslmode", configuration.tls.rawValue)]
        if configuration.tls == .require {
            guard let bundle = bundles.first(where: { FileManager.default.isReadableFile(atPath: $0) }) else { return nil }
            tls = [("sslmode", "verify-full"), ("sslrootcert", bundle)]
        }
        var pairs: [(String, String)] = [
            ("host", configuration.hosts.map(\.host).joined(separator: ",")),
            ("port", configuration.hosts.map { String($0.port) }.joined(separator: ",")), ("user", configuration.username),
            ("dbname", configuration.database ?? configuration.username)] + tls + [
            // libpq's smallest connect timeout is 2 seconds.
            ("connect_timeout", String(max(2, Int(configuration.connectTimeout.components.seconds)))),
            ("keepalives", "1"), ("keepalives_idle", "30"), ("keepalives_interval", "10"), ("keepalives_count", "3"),
            ("application_name", "eventstore-reader"),
        ]
        if let password = configuration.password { pairs.append(("password", password)) }
        // Several hosts: libpq tries them in order and keeps the one that takes writes, the one the store's
        // PostgresNIO calls find (PostgresNodes): a read sees the store's own writes.
        if configuration.hosts.count > 1 { pairs.append(("target_session_attrs", "read-write")) }
        return pairs.map { "\($0.0)=\(quoted($0.1))" }.joined(separator: " ")
    }

    /// Runs `query` (parameters `$1`, `$2`, …) with results in binary, calling `row` for each row.
    /// - Throws: ``LibPQError`` for what the server or the connection reports.
    func query(_ query: SQLQuery, row: (LibPQRow) throws -> Void) throws {
        let (sql, binds) = query.render { "$\($0)" }
        // Unnamed statements: a page's parse costs little beside its rows, and nothing is left on the server
        // (a statement name per query shape grew without bound, and a pooler in transaction mode loses them).
        let types = binds.map(\.libpqType)
        let result = withCStrings(binds.map(\.libpqText)) { values in
            eslpq_exec_params(handle, sql, Int32(values.count), types, values, 1)
        }
        defer { eslpq_clear(result) }
        try check(result)
        guard let result else { return }
        let rows = eslpq_rows(result)
        for index in 0..<rows { try row(LibPQRow(result: result, row: index)) }
    }

    private func check(_ result: OpaquePointer?) throws {
        guard eslpq_result_is_ok(result) != 1 else { return }
        let message = result.map { String(cString: eslpq_result_error($0)) } ?? String(cString: eslpq_error_message(handle))
        let state = result.flatMap { eslpq_result_sqlstate($0) }.map { String(cString: $0) }
        throw LibPQError(sqlState: state, message: message.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// Calls `body` with C strings of `texts` (NULL for nil), alive for the call.
private func withCStrings<R>(_ texts: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let pointers: [UnsafeMutablePointer<CChar>?] = texts.map { $0.map { strdup($0) } }
    defer { for pointer in pointers { free(pointer) } }
    return body(pointers.map { $0.map { UnsafePointer($0) } })
}

/// An error libpq reported: the server's (with its SQLSTATE) or the connection's.
struct LibPQError: Error, CustomStringConvertible {
    let sqlState: String?
    let message: String
    var description: String { sqlState.map { "\(message) (SQLSTATE \($0))" } ?? message }
}

/// A row of a binary result, valid inside the row callback.
struct LibPQRow {
    fileprivate let result: OpaquePointer
    fileprivate let row: Int32

    func isNull(_ column: Int32) -> Bool { eslpq_is_null(result, row, column) == 1 }

    /// An `int8` (or `xid8`, or `timestamptz`: microseconds since 2000) column.
    func int64(_ column: Int32) throws -> Int64 {
        let bytes = try self.bytes(column, length: 8)
        var value: UInt64 = 0
        for byte in bytes { value = value << 8 | UInt64(byte) }
        return Int64(bitPattern: value)
    }

    /// A `timestamptz` column: microseconds since 1970 (the binary form counts them from 2000).
    /// - Throws: ``LibPQError`` for a value past what 64 bits of microseconds since 1970 hold (`infinity`).
    func timestampMicros(_ column: Int32) throws -> Int64 {
        let (micros, overflow) = try int64(column).addingReportingOverflow(946_684_800_000_000)
        guard !overflow else { throw LibPQError(sqlState: nil, message: "a timestamp out of range (column \(column))") }
        return micros
    }

    /// A `text` (or `json`, `jsonb::text`) column.
    func text(_ column: Int32) -> String {
        let length = Int(eslpq_length(result, row, column))
        guard length > 0, let start = eslpq_value(result, row, column) else { return "" }
        return start.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }

    /// A `uuid` column.
    func uuid(_ column: Int32) throws -> UUID {
        let b = try bytes(column, length: 16)
        return UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
    }

    private func bytes(_ column: Int32, length: Int) throws -> UnsafeBufferPointer<UInt8> {
        guard Int(eslpq_length(result, row, column)) == length, let start = eslpq_value(result, row, column) else {
            throw LibPQError(sqlState: nil, message: "column \(column) is not \(length) bytes long")
        }
        return UnsafeBufferPointer(start: UnsafeRawPointer(start).assumingMemoryBound(to: UInt8.self), count: length)
    }
}

extension SQLValue {
    /// The parameter's type for `PQprepare`, as PostgresNIO binds it (0: the server infers it from the query).
    fileprivate var libpqType: UInt32 {
        switch self {
        case .null: return 0
        case .int: return 20  // int8
        case .double: return 701  // float8
        case .text: return 25  // text
        }
    }

    /// The parameter's text form.
    fileprivate var libpqText: String? {
        switch self {
        case .null: return nil
        case let .int(i): return String(i)
        case let .double(d):
            if d.isNaN { return "NaN" }
            if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
            return "\(d)"
        case let .text(s): return s
        }
    }

    /// Whether libpq can pass the value: a text parameter is a C string, which ends at U+0000.
    fileprivate var passesThroughLibpq: Bool {
        if case let .text(s) = self { return !s.utf8.contains(0) }
        return true
    }
}

extension SQLQuery {
    /// Whether libpq can pass every parameter (a text holding U+0000 goes through PostgresNIO, whose error
    /// for it the store reports the same way on every path).
    var passesThroughLibpq: Bool {
        parts.allSatisfy { part in
            if case let .bind(value) = part { return value.passesThroughLibpq }
            return true
        }
    }
}

extension PostgresConfiguration {
    /// libpq's connection string for this configuration (what the store's reader connects with), for the
    /// benchmark's libpq baseline.
    package var libpqConnectionString: String? { LibPQConnection.conninfo(self) }
}
