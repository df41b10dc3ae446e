import EventStoreTestSupport
import Foundation
import Testing

/// Issue 22: `eventstore serve` on the Patroni cluster of `scripts/test`, through its multi-host URL.
@Suite("eventstore serve on a Patroni cluster", .enabled(if: TestCluster.shouldRun, "\(TestCluster.skipMessage)"), .watchdog(.seconds(180)))
struct ServeClusterTests {
    /// serve writes to the primary and `/health/ready` names it, as the node it writes to, and the nodes it
    /// reads from: the primary, or with `read=standby` the two standbys. (The cluster's fault tests may move
    /// the primary meanwhile: a report is checked against the primary named before and after it.)
    @Test(arguments: ["primary", "standby"])
    func serveWritesToThePrimaryAndSaysWhichItIs(reads: String) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sv-cluster-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = try TestCluster.server.requiredURL() + "&read=\(reads)&table_prefix=" + TestDatabaseServer.uniquePrefix()
        let serve = try await ServeProcess.start(database: url, in: directory)
        var report = ""
        var matched = false
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(120)
        Watchdog.step("append through serve (reading from the \(reads)) and read /health/ready")
        while !matched, clock.now < deadline {
            let event = UUID().uuidString.lowercased()
            if await serve.post(event, to: "cluster-1") == 204 {
                let before = try await TestCluster.run("primary")
                // The event reads back at once: from a standby, once it has replayed the append.
                let read = try? await serve.get("/stream/cluster-1/head/backward/1", accept: "application/json", timeout: .seconds(10))
                let ready = try? await serve.get("/health/ready", timeout: .seconds(10))
                let after = try await TestCluster.run("primary")
                report = ready.map { "\($0.status) \($0.body)" } ?? "no answer"
                let nodes = ["node1", "node2", "node3"]
                let expected = try (reads == "primary" ? [before] : nodes.filter { $0 != before }).map { "127.0.0.1:\(try TestCluster.port(of: $0))" }
                let writes = "127.0.0.1:\(try TestCluster.port(of: before))"
                let body = (ready?.body).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                matched = before == after && ready?.status == 200 && read?.status == 200 && read?.body.contains(event) == true
                    && body?["status"] as? String == "ready"
                    && body?["writes"] as? String == writes
                    && Set(body?["reads"] as? [String] ?? []) == Set(expected)
            }
            if !matched { try await Task.sleep(for: .milliseconds(200)) }
        }
        await serve.kill()
        #expect(matched, "the last /health/ready: \(report)\n\(serve.output)")
    }
}
