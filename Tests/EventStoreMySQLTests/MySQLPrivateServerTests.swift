#if MySQL
import EventStore
import EventStoreMySQL
import EventStoreTestSupport
import Foundation
import Testing

/// Tests that kill a server or read its server-wide counters: each on a MariaDB server of its own.
@Suite("MySQL/MariaDB on a server of its own", .enabled(if: MySQLTestServer.shouldRun, "\(MySQLTestServer.skipMessage)"), .watchdog())
struct MySQLPrivateServerTests {
    private static let script = ServerScript("mariadb")

    /// Review A14b: InnoDB shows a commit's rows before its redo is flushed. A reader of the global order that
    /// got such an event before a crash lost it would go on after its position, which AUTO_INCREMENT then hands
    /// out again: the next event stored there is skipped. A reader gets only events that are on disk.
    @Test func aReaderOfTheGlobalOrderGetsNoEventThatACrashCanStillLose() async throws {
        try await Self.script.withServer("durability") { directory, url in try await crashAfterAReadOfUnflushedEvents(directory, url) }
    }

    /// Review C22: every statement shape a query string can make (here, reads of 1 to 600 streams) was kept
    /// prepared, until the server's `max_prepared_stmt_count` (16,382 for every client together) refused
    /// new ones. A connection now keeps at most 256 (`StatementCache`). On a server of its own, so that other
    /// tests' statements do not count.
    @Test func statementShapesFromInputKeepAtMost256PreparedStatementsPerConnection() async throws {
        try await Self.withStoreOfOneConnection("statements", stream: "shape-1") { store, status in
            for count in 1...600 {
                let names = try (1...count).map { try StreamName("shape-\($0)") }
                #expect(try await store.readAll(after: .start, of: .streams(names), limit: 10).count == 1)
            }
            let count = try await status("Prepared_stmt_count")
            #expect(count <= 256, "\(count)")
            #expect(count > 10, "\(count)")
        }
    }

    /// Runs `body` with a store of one connection on a server of its own, whose stream `stream` holds one
    /// event, and a reader of the server's global status counters.
    static func withStoreOfOneConnection(
        _ name: String, stream: StreamName,
        _ body: (MySQLEventStore, _ status: @escaping @Sendable (String) async throws -> Int) async throws -> Void
    ) async throws {
        try await script.withServer(name) { directory, url in
            var configuration = try MySQLConfiguration(url: url)
            configuration.poolSize = 1
            let store = try await MySQLEventStore(configuration: configuration)
            try await store.create(stream, events: [EventMessage(messageName: "A")])
            try await body(store) { variable in
                let status = try await script.output("sql", directory, ["SHOW GLOBAL STATUS LIKE '\(variable)'"])
                return try #require(status.split(whereSeparator: \.isWhitespace).last.flatMap { Int($0) }, "\(status)")
            }
            await store.close()
        }
    }

    /// Issue 20: an append of 100 events is one call of the append procedure, which commits itself, where the
    /// statements one by one were eight (START TRANSACTION, the lock, the stream's row, three inserts, the
    /// version, COMMIT). The server's `Questions` counts the statements clients send, not those a procedure
    /// runs; on a server of its own, so that no other client counts.
    @Test func anAppendOfAHundredEventsIsOneStatement() async throws {
        try await Self.withStoreOfOneConnection("round-trips", stream: "trips-1") { store, status in
            // What reading the counter itself adds.
            let (first, second) = (try await status("Questions"), try await status("Questions"))
            let before = try await status("Questions")
            try await store.append((1...100).map { EventMessage(messageName: "B\($0)") }, to: "trips-1", expectedVersion: .exact(1))
            let after = try await status("Questions")
            #expect(after - before - (second - first) == 1, "\(after - before - (second - first)) statements")
            #expect(try await store.load("trips-1").collect().count == 101)
        }
    }

    /// The append procedure's texts took the database's default character set, which may be latin1 (the
    /// tables name utf8mb4 themselves): names, payloads and metadata beyond latin1 came back altered. On a
    /// server of its own whose database defaults to latin1, every text reads back as it was appended.
    @Test func appendsKeepTheirTextInADatabaseThatDefaultsToLatin1() async throws {
        try await Self.script.withServer("latin1") { directory, url in
            try await Self.script.run("sql", directory, ["ALTER DATABASE eventstore CHARACTER SET latin1 COLLATE latin1_swedish_ci"])
            let store = try await MySQLEventStore(configuration: try MySQLConfiguration(url: url))
            let name = String(repeating: "é", count: 127) + "n"
            let event = EventMessage(
                messageName: name, payload: ["text": "naïve 😀 ü \\ \" ž"], metadata: ["_aggregate_id": "agg-ž", "note": "日本"])
            try await store.create("latin-1", events: [EventMessage(messageName: "A")])
            try await store.append([event], to: "latin-1")
            let stored = try #require(try await store.load("latin-1").collect().last)
            #expect(stored.messageName == name)
            #expect(stored.payload.jsonText == event.payload.jsonText)
            #expect(stored.metadata["note"] == "日本")
            #expect(stored.metadata["_aggregate_id"] == "agg-ž")
            await store.close()
        }
    }

    /// Review B18: only the connect timeout was set, so a call to a server that stopped answering (frozen,
    /// or behind a dead link) waited for ever. Every statement now has `queryTimeout`.
    @Test func callsToAFrozenServerFailWithinTheQueryTimeoutAndWorkOnceItAnswers() async throws {
        // A failure leaves the server frozen: `scripts/mariadb stop` lets it run on first.
        try await Self.script.withServer("frozen") { directory, url in
            var configuration = try MySQLConfiguration(url: url)
            // The tables exist first: DDL on a busy machine can take longer than the short deadline below (it
            // lost its connection so once, in a full run).
            try await MySQLEventStore(configuration: configuration).close()
            // A call that finds its connection broken opens a new one first, within the connect timeout.
            configuration.queryTimeout = .seconds(1)
            configuration.connectTimeout = .seconds(1)
            configuration.poolSize = 2
            let store = try await MySQLEventStore(configuration: configuration)
            try await store.create("frozen-1", events: [EventMessage(messageName: "Before")])
            let pidText = try String(contentsOf: directory.appendingPathComponent("mysqld.pid"), encoding: .utf8)
            let pid = try #require(pid_t(pidText.trimmingCharacters(in: .whitespacesAndNewlines)))
            try await ProcessFreezer.freeze([pid])
            let calls: [(String, @Sendable () async throws -> Void)] = [
                ("read", { _ = try await store.readAll(after: .start, of: .all, limit: 10) }),
                ("append", { try await store.append([EventMessage(messageName: "Frozen"), EventMessage(messageName: "Frozen")], to: "frozen-1") }),
                ("load", { _ = try await store.load("frozen-1").collect() }),
            ]
            for (what, call) in calls {
                Watchdog.step("a \(what) on the frozen server")
                let started = ContinuousClock.now
                let error = await #expect(throws: EventStoreError.self, "\(what)") { try await call() }
                #expect(error?.code == .backend, "\(what): \(String(describing: error))")
                #expect(ContinuousClock.now - started < .seconds(4), "\(what) took \(ContinuousClock.now - started)")
            }
            kill(pid, SIGCONT)
            // New connections answer (on a busy machine the resumed server may first miss a 1 s deadline or
            // two); the append that timed out is there whole or not at all.
            let resumed = ContinuousClock.now
            var loaded: [RecordedEvent]?
            while loaded == nil {
                do {
                    loaded = try await store.load("frozen-1").collect()
                } catch let error as EventStoreError where error.code == .backend && ContinuousClock.now - resumed < .seconds(20) {
                    Watchdog.step("a load after SIGCONT failed: \(error)")
                }
            }
            let names = (loaded ?? []).map(\.messageName)
            #expect(names == ["Before"] || names == ["Before", "Frozen", "Frozen"], "\(names)")
            try await store.append([EventMessage(messageName: "After")], to: "frozen-1")
            await store.close()
        }
    }

    /// Issue 19, item 2: a cancelled call whose statement waits on a server that stopped answering returned
    /// only at `queryTimeout`, so a cancelled subscriber held its task (an SSE stream, a shutdown) that long.
    /// Now a cancelled read ends its statement with `mariadb_cancel` at once (`CancellationError`), and a
    /// cancelled append after its grace: an append is one call that commits itself, so a call cut in flight
    /// may have committed, and the append says its outcome is unknown (as on PostgreSQL). It did reach the
    /// frozen server's socket, which runs it once it thaws: stored once, or not at all.
    @Test func aCancelledCallOnAFrozenServerReturnsAtOnceAndCommitsNothing() async throws {
        try await Self.script.withServer("cancel") { directory, url in
            var configuration = try MySQLConfiguration(url: url)
            configuration.queryTimeout = .seconds(30)
            configuration.poolSize = 4
            let store = try await MySQLEventStore(configuration: configuration)
            try await store.create("cancel-1", events: [EventMessage(messageName: "Before")])
            // A connection is open before the server stops.
            _ = try await store.readAll(after: .start, of: .all, limit: 10)
            let pidText = try String(contentsOf: directory.appendingPathComponent("mysqld.pid"), encoding: .utf8)
            let pid = try #require(pid_t(pidText.trimmingCharacters(in: .whitespacesAndNewlines)))
            try await ProcessFreezer.freeze([pid])
            defer { kill(pid, SIGCONT) }
            // The append comes first, on a connection that is open: it shows that a statement in flight is
            // ended (the reads after it may find their connection broken and open one, which is ended too).
            // The limits leave a busy machine time, and stay below the 30 s query and 10 s connect timeouts
            // a call waited for before.
            let calls: [(String, Duration, @Sendable () async throws -> Void)] = [
                ("append", .seconds(7), { try await store.append([EventMessage(messageName: "Cancelled")], to: "cancel-1") }),
                ("read", .seconds(5), { _ = try await store.readAll(after: .start, of: .all, limit: 10) }),
                ("load", .seconds(5), { _ = try await store.load("cancel-1").collect() }),
                ("subscriber", .seconds(5), {
                    for try await _ in try await store.subscribe(to: .all, from: .start) {}
                    throw CancellationError()  // a subscription ends (nil) when its task is cancelled
                }),
            ]
            for (what, limit, call) in calls {
                Watchdog.step("a \(what) on the frozen server, cancelled")
                let task = Task { try await call() }
                try await Task.sleep(for: .milliseconds(300))
                let cancelled = ContinuousClock.now
                task.cancel()
                let error: (any Error)?
                do {
                    try await task.value
                    error = nil
                } catch let thrown {
                    error = thrown
                }
                let took = ContinuousClock.now - cancelled
                #expect(took < limit, "a cancelled \(what) took \(took)")
                if what == "append" {
                    let unknown = (error as? EventStoreError).map { $0.code == .backend && $0.reason.contains("outcome unknown") }
                    #expect(unknown == true, "\(what): \(String(describing: error))")
                } else {
                    #expect(error is CancellationError, "\(what): \(String(describing: error))")
                }
            }
            kill(pid, SIGCONT)
            let loaded = try await within(.seconds(20), "a load once the server answers again") {
                try await store.load("cancel-1").collect()
            }
            #expect(loaded.map(\.messageName) == ["Before"] || loaded.map(\.messageName) == ["Before", "Cancelled"], "\(loaded.map(\.messageName))")
            await store.close()
        }
    }

    private func crashAfterAReadOfUnflushedEvents(_ directory: URL, _ url: String) async throws {
        let configuration = try MySQLConfiguration(url: url)
        let store = try await MySQLEventStore(configuration: configuration)
        try await store.create("durable-1", events: [EventMessage(messageName: "Flushed")])
        // The window between visibility and flush, widened: commits now reach the log file about once an
        // hour. Every later commit (the reader's, if it makes one) is durable again, as on a default server.
        try await Self.script.run(
            "sql", directory, ["SET GLOBAL innodb_flush_log_at_timeout = 2700; SET GLOBAL innodb_flush_log_at_trx_commit = 0"])
        try await store.append([EventMessage(messageName: "Visible"), EventMessage(messageName: "Visible")], to: "durable-1")
        try await Self.script.run("sql", directory, ["SET GLOBAL innodb_flush_log_at_trx_commit = 1"])
        let seen = try await store.readAll(after: .start, of: .all, limit: 10)
        #expect(seen.map(\.messageName) == ["Flushed", "Visible", "Visible"])
        await store.close()

        try await Self.script.run("kill", directory)
        try await Self.script.run("resume", directory)
        let reopened = try await MySQLEventStore(configuration: configuration)
        let kept = try await reopened.readAll(after: .start, of: .all, limit: 10)
        #expect(kept.map(\.globalPosition) == seen.map(\.globalPosition))
        #expect(kept.map(\.uuid) == seen.map(\.uuid))
        await reopened.close()
    }
}
#endif
