import EventStore
import Foundation

/// A PostgreSQL server of one test's own, made by `scripts/postgres` in a temporary folder, so that stopping,
/// freezing or restarting it disturbs no other test.
public struct PrivatePostgresServer: Sendable {
    public let directory: URL
    public let url: String

    private static let script = ServerScript("postgres")

    /// Creates and starts a server; a `durable` one acknowledges a commit only once its WAL is written, so
    /// that a crash of its processes (SIGKILL) loses no acknowledged commit.
    public static func start(_ name: String, durable: Bool = false) async throws -> PrivatePostgresServer {
        let directory = script.newDirectory(name)
        let url = try await script.run("start", directory, durable ? ["durable"] : [])
        return PrivatePostgresServer(directory: directory, url: url)
    }

    /// Stops the server (`pg_ctl stop -m fast`: backends end, clients see their connections close).
    public func stop() async throws { try await Self.script.run("stop", directory) }

    /// Starts the stopped server again on the same port.
    public func resume() async throws { try await Self.script.run("resume", directory) }

    /// Stops the server, sets its next transaction id with `pg_resetwal -e epoch -x xid` and starts it again.
    public func setNextTransaction(epoch: Int64, xid: Int64) async throws {
        try await Self.script.run("next-xid", directory, ["\(epoch)", "\(xid)"])
    }

    /// Stops every process of the server with SIGSTOP: connections stay open and the kernel still accepts
    /// bytes, but nothing answers (a frozen VM, a server stuck on its disk).
    public func freeze() async throws {
        // The postmaster first: it forks no new backend.
        try await ProcessFreezer.freeze(try processIDs())
    }

    /// Lets a frozen server run on (the postmaster last).
    public func thaw() throws { ProcessFreezer.thaw(try processIDs().reversed()) }

    /// Thaws, stops and removes the server, whatever state it is in.
    public func remove() async {
        try? thaw()
        await Self.script.remove(directory)
    }

    /// The postmaster and its children (the backends and the server's own workers).
    public func processIDs() throws -> [pid_t] {
        let pidFile = try String(contentsOf: directory.appendingPathComponent("data/postmaster.pid"), encoding: .utf8)
        guard let first = pidFile.split(separator: "\n").first, let postmaster = pid_t(first) else {
            throw EventStoreError.backend("no postmaster pid in \(directory.path)")
        }
        return [postmaster] + ProcessLaunch.children(of: postmaster)
    }

    /// Kills every process of the server with SIGKILL: a crash, which a ``resume()`` recovers from.
    public func crash() throws { for pid in try processIDs() { kill(pid, SIGKILL) } }
}
