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
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if (try? StalledClient(port: port, request: "")).map({ $0.close() }) != nil { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        return StoppableProxy(process: process, port: port)
    }

    /// The listener and the process of each connection it forwards.
    func processIDs() -> [pid_t] {
        let parent = process.processIdentifier
        var children: [pid_t] = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let end = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: end)...].split(separator: " ")
            if fields.count > 1, pid_t(fields[1]) == parent { children.append(pid) }
        }
        return [parent] + children
    }

    /// Stops forwarding: every connection stays open and carries nothing (SIGSTOP).
    func stopForwarding() { for pid in processIDs() { kill(pid, SIGSTOP) } }

    /// Forwards again (SIGCONT).
    func resumeForwarding() { for pid in processIDs().reversed() { kill(pid, SIGCONT) } }

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
