import EventStoreTestSupport
import Foundation
import Testing

/// A TCP proxy between `serve` and PostgreSQL (`socat`, a process per connection) that stops forwarding:
/// the database is up, but the connections to it carry nothing.
struct StoppableProxy: Sendable {
    let process: Process
    let port: Int

    /// Listens on a free port of 127.0.0.1 and forwards each connection to `target`.
    static func start(to target: Int) async throws -> StoppableProxy {
        let port = try ServeProcess.freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/socat")
        process.arguments = ["TCP-LISTEN:\(port),bind=127.0.0.1,fork,reuseaddr", "TCP:127.0.0.1:\(target)"]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try ProcessLaunch.run(process)
        let proxy = StoppableProxy(process: process, port: port)
        let deadline = ContinuousClock.now + .seconds(10)
        while (try? StalledClient(port: port, request: ""))?.close() == nil {
            guard ContinuousClock.now < deadline, process.isRunning else {
                proxy.remove()
                throw ServeFailure("socat does not listen on port \(port)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return proxy
    }

    /// The listener and the process of each connection it forwards.
    func processIDs() -> [pid_t] { [process.processIdentifier] + ProcessLaunch.children(of: process.processIdentifier) }

    /// Stops forwarding: every connection stays open and carries nothing (SIGSTOP).
    func stopForwarding() async throws { try await ProcessFreezer.freeze(processIDs()) }

    /// Forwards again (SIGCONT).
    func resumeForwarding() { ProcessFreezer.thaw(processIDs().reversed()) }

    func remove() {
        resumeForwarding()
        for pid in processIDs() { kill(pid, SIGKILL) }
    }
}

extension ServeFaultTests {
    /// Review B15's half-open connection: a proxy that stops forwarding leaves `serve`'s connections open
    /// and silent while PostgreSQL itself runs on. Each call fails within its deadline, the event stream and
    /// the writers go on once it forwards again, and `serve` still exits promptly on SIGTERM.
    @Test func aProxyThatStopsForwardingFailsEachCallWithinItsDeadlineAndServeResumesAndStillShutsDown() async throws {
        try await Self.withPostgres("sv-proxy") { server in
            let target = try #require(URLComponents(string: server.url)?.port)
            let proxy = try await StoppableProxy.start(to: target)
            defer { proxy.remove() }
            let database = Self.postgresURL(server).replacingOccurrences(of: ":\(target)/", with: ":\(proxy.port)/")
            try await Self.freezeUnderWriters(
                database: database, named: "PostgreSQL", in: server.directory, freeze: proxy.stopForwarding,
                thaw: proxy.resumeForwarding)
        }
    }
}
