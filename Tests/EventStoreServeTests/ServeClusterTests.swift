import EventStoreTestSupport
import Foundation
import Testing

/// Issue 22: `eventstore serve` on the Patroni cluster of `scripts/test`, through its multi-host URL.
@Suite("eventstore serve on a Patroni cluster", .enabled(if: TestCluster.shouldRun, "\(TestCluster.skipMessage)"), .watchdog(.seconds(180)))
struct ServeClusterTests {
    /// serve writes to the primary and `/health/ready` names it, as the node it writes to and reads from.
    /// (The cluster's fault tests may move the primary meanwhile: a report is checked against the primary
    /// named before and after it.)
    @Test func serveWritesToThePrimaryAndSaysWhichItIs() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sv-cluster-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = try TestCluster.server.requiredURL() + "&table_prefix=" + TestDatabaseServer.uniquePrefix()
        let serve = try await ServeProcess.start(database: url, in: directory)
        var report = ""
        var matched = false
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(120)
        Watchdog.step("append through serve and read /health/ready")
        while !matched, clock.now < deadline {
            if await serve.post(UUID().uuidString.lowercased(), to: "cluster-1") == 204 {
                let before = try await TestCluster.run("primary")
                let ready = try? await serve.get("/health/ready", timeout: .seconds(10))
                let after = try await TestCluster.run("primary")
                report = ready.map { "\($0.status) \($0.body)" } ?? "no answer"
                let primary = "127.0.0.1:\(try TestCluster.port(of: before))"
                matched = before == after && ready?.status == 200
                    && ready?.body == "{\"status\":\"ready\",\"writes\":\"\(primary)\",\"reads\":[\"\(primary)\"]}"
            }
            if !matched { try await Task.sleep(for: .milliseconds(200)) }
        }
        await serve.kill()
        #expect(matched, "the last /health/ready: \(report)\n\(serve.output)")
    }
}
