import AsyncHTTPClient
import EventStoreTestSupport
import Foundation
import NIOCore
import Testing

/// `eventstore serve` kept alive and honest: event streams across restarts of PostgreSQL, readers held back
/// by a transaction elsewhere in the cluster, a pool of one connection, a client that stopped reading.
extension ServeFaultTests {
    /// Review B15: an event stream across a clean PostgreSQL restart went silent for good in 3 of 8 runs.
    /// Twenty restarts in a row, each followed by an append that the same stream must deliver.
    @Test func anEventStreamDeliversAfterEachOfTwentyPostgresRestarts() async throws {
        try await Self.withPostgres("sv-restarts") { server in
            let serve = try await ServeProcess.start(database: Self.postgresURL(server), in: server.directory)
            let base = serve.baseURL
            let follower = EventStreamFollower()
            follower.start { base }
            var posted: Set<String> = []
            for restart in 1...20 {
                Watchdog.step("restart PostgreSQL (\(restart) of 20)")
                try await server.stop()
                try await server.resume()
                let uuid = UUID().uuidString.lowercased()
                let deadline = ContinuousClock.now + .seconds(30)
                while await serve.post(uuid, to: "restarts-1") != 204, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(100))
                }
                posted.insert(uuid)
                #expect(await follower.waitFor(posted, upTo: .seconds(20)), "silent after restart \(restart)")
            }
            await follower.stop()
            #expect(follower.connections == 1, "the event stream was opened \(follower.connections) times")
            #expect(follower.received.count == posted.count, "\(follower.received.count) events for \(posted.count) appends")
            #expect(follower.errors.isEmpty, "\(follower.errors)")
            let exit = await serve.terminate(within: .seconds(30))
            #expect(exit.map { $0 < Self.exitBound } == true, "serve exited after \(String(describing: exit))")
        }
    }

    /// Review B16: a session left idle in a transaction in another database of the cluster holds every
    /// reader of the global order back. `serve` says so: a warning in its log with the wait and the session,
    /// `/health/ready` 503 with the same, and `eventstore_global_order_stall_seconds`; all clear once the
    /// session ends, and the event stream delivers what it held back.
    @Test func readersHeldBackByATransactionElsewhereAreLoggedReportedAndResumed() async throws {
        try await Self.withPostgres("sv-stall") { server in
            try await SQLShell.postgres(server.url).run("CREATE DATABASE other")
            let serve = try await ServeProcess.start(
                database: Self.postgresURL(server), in: server.directory, ["--reader-stall-threshold", "1"])
            let base = serve.baseURL
            let follower = EventStreamFollower()
            follower.start { base }
            let before = UUID().uuidString.lowercased()
            #expect(await serve.post(before, to: "stall-1") == 204)
            #expect(await follower.waitFor([before], upTo: .seconds(20)))
            #expect(try await serve.get("/health/ready", timeout: .seconds(10)).status == 200)

            Watchdog.step("leave a transaction open in another database")
            let session = try SQLSession(
                postgres: server.url.replacingOccurrences(of: "/eventstore", with: "/other"), applicationName: "forgetful-orm")
            try session.send("BEGIN; SELECT pg_current_xact_id();")
            try await SQLShell.postgres(server.url).waitFor(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'forgetful-orm' AND backend_xid IS NOT NULL",
                toPrint: "1")
            let held = UUID().uuidString.lowercased()
            #expect(await serve.post(held, to: "stall-1") == 204)
            #expect(
                try await Self.eventually("serve logs the stall", upTo: .seconds(20)) {
                    serve.output.contains("readers of the global order have waited")
                })
            #expect(!follower.received.map(\.uuid).contains(held), "an event behind an open transaction was sent")
            let ready = try await serve.get("/health/ready", timeout: .seconds(10))
            #expect(ready.status == 503)
            #expect(ready.body.contains("idle in transaction") && ready.body.contains("forgetful-orm"), "\(ready.body)")
            let metrics = try await serve.get("/metrics", timeout: .seconds(10)).body
            let stall = metrics.split(separator: "\n").first { $0.hasPrefix("eventstore_global_order_stall_seconds ") }
            let seconds = stall.flatMap { Double($0.split(separator: " ").last ?? "") }
            #expect((seconds ?? 0) >= 1, "\(stall.map(String.init) ?? "no eventstore_global_order_stall_seconds")")
            let warning = serve.output.split(separator: "\n").first { $0.contains("readers of the global order have waited") }
            #expect(warning?.contains("forgetful-orm") == true, "\(warning.map(String.init) ?? "")")
            #expect(warning?.contains("idle_in_transaction_session_timeout") == true)

            Watchdog.step("end the open transaction")
            await session.end()
            #expect(await follower.waitFor([before, held], upTo: .seconds(20)))
            #expect(
                try await Self.eventually("serve logs that readers go on", upTo: .seconds(20)) {
                    serve.output.contains("readers of the global order go on")
                })
            #expect(try await serve.get("/health/ready", timeout: .seconds(10)).status == 200)
            await follower.stop()
            let exit = await serve.terminate(within: .seconds(30))
            #expect(exit.map { $0 < Self.exitBound } == true, "serve exited after \(String(describing: exit))")
        }
    }

    /// `/metrics` answers while the database is frozen, within the readiness timeout (5 s) rather than the
    /// query deadline (30 s), with `eventstore_store_up 0`; once it is thawed, 1 again. (It answered 503, after
    /// the query deadline: a scrape failed exactly while the outage was on.)
    @Test func metricsAreAnsweredWhileTheDatabaseIsFrozen() async throws {
        try await Self.withPostgres("sv-metrics") { server in
            let serve = try await ServeProcess.start(database: server.url, in: server.directory)
            #expect(await serve.post(UUID().uuidString.lowercased(), to: "metrics-1") == 204)
            func storeUp() async throws -> (status: UInt, up: Double?, took: Duration) {
                let started = ContinuousClock.now
                let metrics = try await serve.get("/metrics", timeout: .seconds(40))
                let line = metrics.body.split(separator: "\n").first { $0.hasPrefix("eventstore_store_up ") }
                return (metrics.status, line.flatMap { Double($0.split(separator: " ").last ?? "") }, ContinuousClock.now - started)
            }
            let before = try await storeUp()
            #expect(before.status == 200 && before.up == 1, "\(before)")

            Watchdog.step("scrape /metrics while PostgreSQL is frozen")
            try await server.freeze()
            let frozen: (status: UInt, up: Double?, took: Duration)
            do {
                frozen = try await storeUp()
            } catch {
                try server.thaw()
                throw error
            }
            try server.thaw()
            #expect(frozen.status == 200 && frozen.up == 0, "\(frozen)")
            #expect(frozen.took < .seconds(15), "the scrape took \(frozen.took)")

            Watchdog.step("scrape /metrics until the store is up again")
            var after = try await storeUp()
            let deadline = ContinuousClock.now + .seconds(30)
            while after.up != 1, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(200))
                after = try await storeUp()
            }
            #expect(after.status == 200 && after.up == 1, "\(after)")
            let exit = await serve.terminate(within: .seconds(30))
            #expect(exit.map { $0 < Self.exitBound } == true, "serve exited after \(String(describing: exit))")
        }
    }

    /// Review B17: with `pool_size=1` the listener held the only connection and every call waited for it
    /// until the connect timeout. The listener has a connection of its own: requests and event streams work.
    @Test func aPoolOfOneConnectionServesRequestsAndEventStreams() async throws {
        try await Self.withPostgres("sv-pool-one") { server in
            let serve = try await ServeProcess.start(database: Self.postgresURL(server) + "&pool_size=1", in: server.directory)
            let base = serve.baseURL
            let follower = EventStreamFollower()
            follower.start { base }
            var posted: Set<String> = []
            for _ in 0..<5 {
                let uuid = UUID().uuidString.lowercased()
                #expect(await serve.post(uuid, to: "pool-1", timeout: .seconds(Self.connectTimeout + 2)) == 204)
                posted.insert(uuid)
            }
            #expect(await follower.waitFor(posted, upTo: .seconds(20)))
            #expect(try await serve.get("/stream/pool-1", timeout: .seconds(Self.connectTimeout + 2)).status == 200)
            #expect(try await serve.get("/health/ready", timeout: .seconds(10)).status == 200)
            await follower.stop()
            _ = await serve.terminate(within: .seconds(30))
        }
    }

    /// Review B19: a client that stops reading its event stream must not hold `serve`'s shutdown: on SIGTERM
    /// it exits within the shutdown timeout, not after the stream's write timeout (30 s) or never.
    @Test func aClientThatStoppedReadingItsEventStreamDoesNotHoldShutdown() async throws {
        let directory = ServerScript.parent.appendingPathComponent("es-sv-stalled-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let serve = try await ServeProcess.start(
            database: "sqlite:\(directory.path)/events.sqlite", in: directory, ["--shutdown-timeout", "3"])
        Watchdog.step("append 8 MB of events")
        let filler = String(repeating: "x", count: 4000)
        for batch in 0..<20 {
            let items = (0..<100).map { _ in "{\"message_name\":\"Big\",\"payload\":{\"filler\":\"\(filler)\"}}" }
            var request = HTTPClientRequest(url: "\(serve.baseURL)/stream/big-\(batch)")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: "[" + items.joined(separator: ",") + "]"))
            let response = try await testClient.execute(request, timeout: .seconds(30))
            #expect(response.status.code == 204)
        }
        let socket = try StalledClient(port: serve.port, request: "GET /subscribe/all HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        defer { socket.close() }
        // The server's writes wait for the client once its send queue is full: the client's window is closed
        // (it holds bytes it did not read) and the server's send queue stops moving. How much that queue
        // holds is the kernel's choice (it grows with the connection's congestion window: 1.3 MB in a run
        // here, up to 4 MB), so the test waits for it to stop moving,
        // not for a size; 8 MB of events are more than any of it can hold.
        var last: ConnectionQueues?
        var still = 0
        let waits = try await Self.eventually("the server's writes wait for the client", upTo: .seconds(20)) {
            let now = socket.queues(serverPort: serve.port)
            defer { last = now }
            guard let now, now.serverHoldsIt, now.clientReceive > 0, now.serverSend > 0, now == last else {
                still = 0
                return false
            }
            still += 1
            return still >= 50
        }
        #expect(waits, "the server's writes did not come to wait for the client:\n\(socket.connectionState(serverPort: serve.port))")
        let exit = await serve.terminate(within: .seconds(30))
        #expect(exit.map { $0 < .seconds(3 + 5) } == true, "serve exited after \(String(describing: exit)):\n\(serve.output)")
        // Well before the 30 s write timeout: the shutdown ended the stream, not the stall timer.
        #expect(!serve.output.contains("its client read nothing"), "the write timeout closed the stream first")
    }
}
