import EventStoreTestSupport
import Foundation
import Testing

/// `eventstore serve` while its database is frozen, crashes or restarts, and while `serve` itself is killed:
/// real servers of each test's own, the built executable, real HTTP writers and a real event-stream client.
/// Every call must end within its deadline, nothing acknowledged may be lost or doubled, and `serve` must
/// exit promptly on SIGTERM (issue 19, the fault suite).
@Suite("eventstore serve under faults", .serialized, .watchdog(.seconds(300)))
struct ServeFaultTests {
    /// The deadlines the tests give the store: small, so that a test waits seconds, not minutes.
    static let connectTimeout = 2
    static let queryTimeout = 3
    /// What a call may take: the wait for a connection, the query, and two seconds (the issue's "within its
    /// deadline").
    static let callBound: Duration = .seconds(connectTimeout + queryTimeout + 2)
    /// How long `serve` may take to exit after SIGTERM.
    static let exitBound: Duration = .seconds(15)

    static func postgresURL(_ server: PrivatePostgresServer) -> String {
        server.url + "&connect_timeout=\(connectTimeout)&query_timeout=\(queryTimeout)"
    }

    /// Runs `body` with a PostgreSQL server of its own, removed (thawed first) however `body` ends.
    static func withPostgres(
        _ name: String, durable: Bool = false, _ body: (PrivatePostgresServer) async throws -> Void
    ) async throws {
        let server = try await PrivatePostgresServer.start(name, durable: durable)
        do {
            try await body(server)
            await server.remove()
        } catch {
            await server.remove()
            throw error
        }
    }

    /// Waits until `condition` holds, at most `limit`; `false` when it never did.
    static func eventually(
        _ what: String, upTo limit: Duration = .seconds(30), _ condition: () -> Bool
    ) async throws -> Bool {
        Watchdog.step("wait until \(what)")
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    /// Whether each of `writers` writers had an append acknowledged after `instant`.
    static func everyWriterAcknowledged(_ ledger: Ledger, after instant: ContinuousClock.Instant, writers: Int, prefix: String)
        -> Bool
    {
        let streams = Set(ledger.answered(after: instant).filter { $0.acknowledged && $0.sent > instant }.map(\.stream))
        return (0..<writers).allSatisfy { streams.contains("\(prefix)-\($0)") }
    }

    /// After a restart: waits until each of the `count` writers had an append acknowledged, stops them, and
    /// expects `serve` to exit promptly on SIGTERM.
    static func finishAfterRestart(
        _ serve: ServeProcess, _ writers: Task<Void, Never>, _ count: Int, prefix: String, ledger: Ledger, stop: StopFlag
    ) async throws {
        let restarted = ContinuousClock.now
        #expect(
            try await Self.eventually("every writer is acknowledged after the restart", upTo: .seconds(60)) {
                Self.everyWriterAcknowledged(ledger, after: restarted, writers: count, prefix: prefix)
            })
        stop.set()
        await writers.value
        let exit = await serve.terminate(within: .seconds(30))
        #expect(exit.map { $0 < Self.exitBound } == true, "serve exited after \(String(describing: exit)):\n\(serve.output)")
    }

    /// The appends that took longer than `bound`, described.
    static func slow(_ appends: [SentAppend], _ bound: Duration) -> [String] {
        appends.filter { $0.duration > bound }.map { "\($0.stream): \($0.duration), \($0.status.map(String.init) ?? "no answer") \($0.problem)" }
    }

    /// A database frozen with SIGSTOP under a live event-stream subscriber and 8 writers: each call fails
    /// within its deadline with a 503 that names `databaseName`; after SIGCONT the writers and the same
    /// event stream go on, with every acknowledged event once; frozen again, `serve` still exits promptly
    /// on SIGTERM; and nothing acknowledged is missing, partial or doubled.
    static func freezeUnderWriters(
        database: String, named databaseName: String, in directory: URL, freeze: () async throws -> Void, thaw: () throws -> Void
    ) async throws {
        let serve = try await ServeProcess.start(database: database, in: directory)
        let base = serve.baseURL
        let follower = EventStreamFollower()
        follower.start { base }
        let (ledger, stop) = (Ledger(), StopFlag())
        let writers = Task {
            await runWriters(8, to: { base }, streamPrefix: "frozen", requestTimeout: .seconds(120), ledger: ledger, stop: stop)
        }
        #expect(try await Self.eventually("80 appends are acknowledged") { ledger.acknowledged.count >= 80 })

        Watchdog.step("freeze \(databaseName) under 8 writers")
        try await freeze()
        try await Task.sleep(for: Self.callBound + .seconds(2))
        let thawed = ContinuousClock.now
        try thaw()
        #expect(
            try await Self.eventually("every writer is acknowledged after the thaw") {
                Self.everyWriterAcknowledged(ledger, after: thawed, writers: 8, prefix: "frozen")
            })
        stop.set()
        await writers.value
        // The subscriber's stream lived through the freeze, and has every acknowledged event once.
        let acknowledged = Set(ledger.acknowledged.flatMap(\.uuids))
        #expect(await follower.waitFor(acknowledged, upTo: .seconds(30)), "acknowledged events never arrived")
        let delivered = follower.received.map(\.uuid)
        #expect(Set(delivered).count == delivered.count, "the event stream sent \(delivered.count - Set(delivered).count) events twice")
        #expect(follower.connections == 1, "the event stream was opened \(follower.connections) times")
        #expect(follower.errors.isEmpty, "\(follower.errors)")
        let failedWhileFrozen = ledger.all.filter { !$0.acknowledged }
        #expect(!failedWhileFrozen.isEmpty, "no append failed while \(databaseName) was frozen")
        // A clear error: 503 with a problem document that says what happened.
        let logged = serve.output.split(separator: "\n").filter { $0.contains("unexpected failure") || $0.contains("event stream of") }
        for append in failedWhileFrozen {
            #expect(append.status == 503, "\(append.status.map(String.init) ?? "no answer"): \(append.problem)\n\(logged.prefix(5))")
            #expect(append.problem.contains(databaseName), "\(append.problem)")
        }

        Watchdog.step("freeze \(databaseName) again under 8 writers and stop serve with SIGTERM")
        let stopAgain = StopFlag()
        let writersAgain = Task {
            await runWriters(8, to: { base }, streamPrefix: "frozen", requestTimeout: .seconds(120), ledger: ledger, stop: stopAgain)
        }
        try await Task.sleep(for: .milliseconds(500))
        try await freeze()
        try await Task.sleep(for: .seconds(1))
        let exit = await serve.terminate(within: .seconds(30))
        stopAgain.set()
        await writersAgain.value
        await follower.stop()
        try thaw()
        #expect(exit.map { $0 < Self.exitBound } == true, "serve exited after \(String(describing: exit)):\n\(serve.output)")
        #expect(Self.slow(ledger.all, Self.callBound).isEmpty, "\(Self.slow(ledger.all, Self.callBound))")
        let check = try await StoredCheck.of(ledger, in: database)
        #expect(check.isClean, "\(check)")
    }

    @Test func aFrozenPostgresFailsEachCallWithinItsDeadlineAndServeResumesAndStillShutsDown() async throws {
        try await Self.withPostgres("sv-freeze") { server in
            try await Self.freezeUnderWriters(
                database: Self.postgresURL(server), named: "PostgreSQL", in: server.directory, freeze: server.freeze, thaw: server.thaw)
        }
    }

    #if MySQL
    @Test func aFrozenMariaDBFailsEachCallWithinItsDeadlineAndServeResumesAndStillShutsDown() async throws {
        try await ServerScript("mariadb").withServer("sv-freeze") { directory, url in
            let pidText = try String(contentsOf: directory.appendingPathComponent("mysqld.pid"), encoding: .utf8)
            let pid = try #require(pid_t(pidText.trimmingCharacters(in: .whitespacesAndNewlines)))
            try await Self.freezeUnderWriters(
                database: url + "?connect_timeout=\(Self.connectTimeout)&query_timeout=\(Self.queryTimeout)", named: "MariaDB",
                in: directory, freeze: { try await ProcessFreezer.freeze([pid]) }, thaw: { ProcessFreezer.thaw([pid]) })
        }
    }
    #endif

    /// With the default query deadline (30 s), longer than a shutdown may take, requests in flight on a frozen
    /// database are cancelled at the shutdown timeout, and `serve` exits.
    @Test func serveExitsAtItsShutdownTimeoutWhileCallsWaitOnAFrozenDatabase() async throws {
        try await Self.withPostgres("sv-drain") { server in
            let serve = try await ServeProcess.start(database: server.url, in: server.directory, ["--shutdown-timeout", "2"])
            let base = serve.baseURL
            let (ledger, stop) = (Ledger(), StopFlag())
            let writers = Task {
                await runWriters(8, to: { base }, streamPrefix: "drain", requestTimeout: .seconds(30), ledger: ledger, stop: stop)
            }
            #expect(try await Self.eventually("40 appends are acknowledged") { ledger.acknowledged.count >= 40 })
            try await server.freeze()
            try await Task.sleep(for: .seconds(1))
            let exit = await serve.terminate(within: .seconds(30))
            try server.thaw()
            stop.set()
            await writers.value
            #expect(exit.map { $0 < .seconds(2 + 5) } == true, "serve exited after \(String(describing: exit)):\n\(serve.output)")
            let check = try await StoredCheck.of(ledger, in: server.url)
            #expect(check.isClean, "\(check)")
        }
    }

    @Test func aCrashedPostgresLosesNoAcknowledgedAppendAndServeCarriesOn() async throws {
        try await Self.withPostgres("sv-crash", durable: true) { server in
            let database = Self.postgresURL(server)
            let serve = try await ServeProcess.start(database: database, in: server.directory)
            let base = serve.baseURL
            let (ledger, stop) = (Ledger(), StopFlag())
            let writers = Task {
                await runWriters(8, to: { base }, streamPrefix: "crash", requestTimeout: .seconds(120), ledger: ledger, stop: stop)
            }
            #expect(try await Self.eventually("80 appends are acknowledged") { ledger.acknowledged.count >= 80 })
            Watchdog.step("SIGKILL every PostgreSQL process under 8 writers")
            try server.crash()
            try await Task.sleep(for: .seconds(2))
            try await server.resume()
            try await Self.finishAfterRestart(serve, writers, 8, prefix: "crash", ledger: ledger, stop: stop)
            #expect(Self.slow(ledger.all, Self.callBound).isEmpty, "\(Self.slow(ledger.all, Self.callBound))")
            #expect(ledger.all.allSatisfy { $0.status != nil }, "serve left a request unanswered")
            #expect(ledger.all.contains { !$0.acknowledged }, "no append failed while PostgreSQL was down")
            let check = try await StoredCheck.of(ledger, in: database)
            #expect(check.isClean, "\(check)")
        }
    }

    /// SIGKILL of `serve` under 50 writers, then a restart on the same port: every append it acknowledged
    /// is stored once, in full; the ones it never answered are there in full or not at all.
    static func killServeUnderFiftyWriters(database: String, in directory: URL) async throws {
        let serve = try await ServeProcess.start(database: database, in: directory)
        let port = serve.port
        let (ledger, stop) = (Ledger(), StopFlag())
        let writers = Task {
            await runWriters(
                50, to: { "http://127.0.0.1:\(port)" }, streamPrefix: "killed", requestTimeout: .seconds(60), ledger: ledger,
                stop: stop)
        }
        #expect(try await Self.eventually("300 appends are acknowledged", upTo: .seconds(60)) { ledger.acknowledged.count >= 300 })
        Watchdog.step("SIGKILL eventstore serve under 50 writers")
        await serve.kill()
        try await Task.sleep(for: .milliseconds(500))
        let again = try await ServeProcess.start(database: database, in: directory, port: port)
        try await Self.finishAfterRestart(again, writers, 50, prefix: "killed", ledger: ledger, stop: stop)
        let check = try await StoredCheck.of(ledger, in: database)
        #expect(check.isClean, "\(check)")
        #expect(ledger.all.contains { $0.status == nil }, "no request was cut by the kill")
    }

    @Test func killingServeUnderFiftyWritersLosesNoAcknowledgedAppendOnSQLite() async throws {
        let directory = ServerScript.parent.appendingPathComponent("es-sv-kill-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try await Self.killServeUnderFiftyWriters(database: "sqlite:\(directory.path)/events.sqlite", in: directory)
    }

    @Test func killingServeUnderFiftyWritersLosesNoAcknowledgedAppendOnPostgres() async throws {
        try await Self.withPostgres("sv-kill") { server in
            try await Self.killServeUnderFiftyWriters(database: Self.postgresURL(server), in: server.directory)
        }
    }
}
