import EventStore
import EventStoreSQL
import EventStoreTestSupport
import Foundation
import Testing

@testable import EventStorePostgres

@Suite("PostgreSQL libpq reader", .enabled(if: PostgresTestServer.shouldRun, "\(PostgresTestServer.skipMessage)"), .serialized, .watchdog(.seconds(180)))
struct PostgresLibPQReaderTests {
    static func reader(_ url: String, queryTimeout: Duration) throws -> LibPQReader {
        var configuration = try PostgresConfiguration(url: url)
        configuration.connectTimeout = .seconds(5)
        configuration.queryTimeout = queryTimeout
        configuration.poolSize = 2
        return try #require(LibPQReader.make(configuration, logger: PostgresTestServer.logger), "libpq is not installed")
    }

    /// The values of a row, as text.
    static func texts(_ reader: LibPQReader, _ query: SQLQuery) async throws -> [String] {
        try await reader.read { c in
            var texts: [String] = []
            try c.query(query) { row in
                for column in 0..<4 { texts.append(row.isNull(Int32(column)) ? "NULL" : row.text(Int32(column))) }
            }
            return texts
        }
    }

    /// Parameters reach the server typed as PostgresNIO binds them (int8, float8, text, unknown for NULL),
    /// with their exact values; text holding quotes, backslashes and non-ASCII characters arrives unchanged.
    @Test func parametersArriveTypedAndExact() async throws {
        let reader = try Self.reader(try PostgresTestServer.server.requiredURL(), queryTimeout: .seconds(30))
        defer { Task { await reader.close() } }
        let hostile = "it's \\ \"é\" 😀; DROP TABLE x"
        let types = try await Self.texts(
            reader,
            "SELECT pg_typeof(\(bind: Int64.min))::text, pg_typeof(\(bind: SQLValue.double(0.1)))::text, pg_typeof(\(bind: hostile))::text, \(bind: SQLValue.null)::text")
        #expect(types == ["bigint", "double precision", "text", "NULL"])
        let values = try await Self.texts(
            reader,
            "SELECT \(bind: Int64.min)::text, (\(bind: SQLValue.double(0.1)) = 0.1::float8)::text, \(bind: hostile), (\(bind: SQLValue.double(-.infinity)) = '-Infinity'::float8)::text")
        #expect(values == [String(Int64.min), "true", hostile, "true"])
    }

    /// A server error comes back typed, with its SQLSTATE, and the connection serves the next read.
    @Test func aServerErrorCarriesItsStateAndTheConnectionGoesOn() async throws {
        let reader = try Self.reader(try PostgresTestServer.server.requiredURL(), queryTimeout: .seconds(30))
        defer { Task { await reader.close() } }
        let error = await #expect(throws: LibPQError.self) { try await Self.texts(reader, "SELECT 1/0, 1, 1, 1") }
        #expect(error?.sqlState == "22012")
        #expect(try await Self.texts(reader, "SELECT 'a', 'b', 'c', 'd'") == ["a", "b", "c", "d"])
    }

    /// The connection string quotes every value, so a password or database name cannot add keywords.
    @Test func theConnectionStringQuotesEveryValue() throws {
        var configuration = try PostgresConfiguration(url: "postgres://app@db.example:6543/events")
        configuration.password = "a'b\\c d sslmode=disable"
        let conninfo = try #require(LibPQConnection.conninfo(configuration))
        #expect(conninfo.contains("password='a\\'b\\\\c d sslmode=disable'"))
        #expect(conninfo.contains("host='db.example' port='6543' user='app' dbname='events' sslmode='prefer'"))
        #expect(conninfo.contains("keepalives='1'"))
    }

    /// Runs `body` with a private server and a reader on it that has read once; removes the server
    /// afterwards (thawed first), whatever state the body left it in.
    static func withPrivateServer(
        _ name: String, queryTimeout: Duration, _ body: (PrivatePostgresServer, LibPQReader) async throws -> Void
    ) async throws {
        let server = try await PrivatePostgresServer.start(name)
        do {
            let reader = try Self.reader(server.url, queryTimeout: queryTimeout)
            #expect(try await Self.texts(reader, "SELECT '1', '2', '3', '4'") == ["1", "2", "3", "4"])
            try await body(server, reader)
            await reader.close()
        } catch {
            try? server.thaw()
            await server.remove()
            throw error
        }
        await server.remove()
    }

    /// On a server that stops answering (SIGSTOP), a read fails at the query deadline with `backend`, long
    /// before anything else would end it; once the server runs again the next read opens a new connection.
    @Test func aReadOnAFrozenServerFailsAtItsDeadlineAndTheNextReadReconnects() async throws {
        try await Self.withPrivateServer("libpq-frozen", queryTimeout: .seconds(2)) { server, reader in
            try await server.freeze()
            Watchdog.step("read from the frozen server")
            let started = ContinuousClock.now
            let error = await #expect(throws: EventStoreError.self) { try await Self.texts(reader, "SELECT '1', '2', '3', '4'") }
            let waited = ContinuousClock.now - started
            #expect(error?.code == .backend)
            #expect(error?.reason.contains("did not answer within 2.0 seconds") == true, "\(String(describing: error))")
            #expect(waited >= .seconds(2) && waited < .seconds(20), "\(waited)")
            try server.thaw()
            Watchdog.step("read after the thaw")
            #expect(try await Self.texts(reader, "SELECT '5', '6', '7', '8'") == ["5", "6", "7", "8"])
        }
    }

    /// `sslmode=require` checks the server's certificate and name in PostgresNIO; libpq's `require` checks
    /// neither (review, 2026-12-06), so the reader asks for `verify-full` against the system's trusted roots,
    /// and where it finds none, reads go through PostgresNIO. `prefer` and `disable` stay as they are.
    @Test func tlsModesKeepPostgresNIOsCertificateChecks() throws {
        var configuration = try PostgresConfiguration(url: "postgres://app@db.example:6543/events?sslmode=require")
        let bundle = FileManager.default.temporaryDirectory.appendingPathComponent("roots-\(UUID().uuidString).pem")
        try Data("roots".utf8).write(to: bundle)
        defer { try? FileManager.default.removeItem(at: bundle) }
        let required = try #require(LibPQConnection.conninfo(configuration, bundles: ["/nonexistent/roots.pem", bundle.path]))
        #expect(required.contains("sslmode='verify-full' sslrootcert='\(bundle.path)'"))
        #expect(LibPQConnection.conninfo(configuration, bundles: ["/nonexistent/roots.pem"]) == nil)
        configuration.tls = .prefer
        #expect(LibPQConnection.conninfo(configuration, bundles: [])?.contains("sslmode='prefer' connect_timeout") == true)
        configuration.tls = .disable
        #expect(LibPQConnection.conninfo(configuration, bundles: [])?.contains("sslmode='disable' connect_timeout") == true)
    }

    /// An interrupt shut libpq's socket down by its number (review, 2026-12-06), and libpq closes that
    /// number when the connection breaks: by the time a deadline or a cancellation ran, it could be another
    /// socket's, and that socket was shut instead. Here the connection breaks (its backend is terminated),
    /// another socket takes the number inside the same read, and the read's deadline passes: that socket
    /// must still carry data.
    @Test func anInterruptAfterTheConnectionBrokeLeavesAloneTheSocketThatTookItsNumber() async throws {
        let reader = try Self.reader(try PostgresTestServer.server.requiredURL(), queryTimeout: .seconds(1))
        defer { Task { await reader.close() } }
        // Other tests open descriptors at the same time and may take the number first: then the scenario was
        // not built, and it is built again (at most five times).
        var outcome = ""
        for _ in 0..<5 {
            outcome = try await Self.breakAndReuse(reader)
            if !outcome.hasPrefix("no new socket took number") { break }
        }
        #expect(outcome == "intact")
    }

    /// One try of the scenario above: what became of the socket that took the broken connection's number.
    private static func breakAndReuse(_ reader: LibPQReader) async throws -> String {
        try await reader.read { c -> String in
            let number = c.libpqSocket
            try? c.query("SELECT pg_terminate_backend(pg_backend_pid())::text") { _ in }
            guard c.libpqSocket < 0 else { return "libpq kept its socket after the backend ended" }
            // Descriptors are handed out lowest first: the number is free, and a new socket takes it.
            var pair: [Int32] = [-1, -1]
            var others: [Int32] = []
            defer { for descriptor in others + pair where descriptor >= 0 { close(descriptor) } }
            for _ in 0..<64 where !pair.contains(number) {
                others += pair
                guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0 else { return "socketpair failed" }
            }
            guard let taken = pair.firstIndex(of: number) else { return "no new socket took number \(number)" }
            let deadline = ContinuousClock.now + .seconds(30)
            while !c.isInterrupted, ContinuousClock.now < deadline { usleep(10_000) }
            guard c.isInterrupted else { return "the read's deadline never interrupted it" }
            var byte: UInt8 = 1
            let sent = send(pair[taken], &byte, 1, Int32(MSG_NOSIGNAL))
            return sent == 1 ? "intact" : "the socket that took the number was shut (errno \(errno))"
        }
    }

    /// Cancelling a read that waits on a frozen server returns at once with CancellationError (its socket is
    /// shut under it), long before its deadline; the reader goes on afterwards.
    @Test func aCancelledReadOnAFrozenServerReturnsAtOnce() async throws {
        try await Self.withPrivateServer("libpq-cancel", queryTimeout: .seconds(3600)) { server, reader in
            let port = try #require(URLComponents(string: server.url)?.port)
            try await server.freeze()
            let read = Task { try await Self.texts(reader, "SELECT '1', '2', '3', '4'") }
            // The read is in flight once its query waits, unread, at the frozen server.
            Watchdog.step("wait until the frozen server holds the read's query")
            let sentBy = ContinuousClock.now + .seconds(20)
            while ProcFile.unreadBytes(atServerPort: port) == 0, ContinuousClock.now < sentBy { try await Task.sleep(for: .milliseconds(10)) }
            try #require(ProcFile.unreadBytes(atServerPort: port) > 0, "the read's query never reached the server")
            Watchdog.step("cancel a read on the frozen server (its deadline is an hour away)")
            let started = ContinuousClock.now
            read.cancel()
            let result = await read.result
            #expect(throws: CancellationError.self) { try result.get() }
            #expect(ContinuousClock.now - started < .seconds(5))
            try server.thaw()
            #expect(try await Self.texts(reader, "SELECT '5', '6', '7', '8'") == ["5", "6", "7", "8"])
        }
    }
}
