import Foundation
import Testing

/// The Patroni cluster of `scripts/test` (`scripts/cluster`: etcd, three PostgreSQL nodes under Patroni with
/// synchronous replication), named by `EVENTSTORE_CLUSTER_URL` (its multi-host URL) and
/// `EVENTSTORE_CLUSTER_DIR` (its folder).
public enum TestCluster {
    public static let server = TestDatabaseServer(variable: "EVENTSTORE_CLUSTER_URL", what: "a Patroni cluster's multi-host URL")
    public static let shouldRun = server.shouldRun
    public static let skipMessage = server.skipMessage
    private static let script = ServerScript("cluster")

    /// The cluster's folder, for `scripts/cluster` commands.
    public static func directory() throws -> URL {
        let path = try #require(
            ProcessInfo.processInfo.environment["EVENTSTORE_CLUSTER_DIR"], "EVENTSTORE_CLUSTER_DIR names the cluster's folder")
        return URL(fileURLWithPath: path)
    }

    /// `scripts/cluster COMMAND DIR ARGUMENTS…`, its standard output trimmed.
    @discardableResult
    public static func run(_ command: String, _ arguments: [String] = []) async throws -> String {
        try await script.output(command, try directory(), arguments).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The PostgreSQL port of `node`, from `DIR/nodes`.
    public static func port(of node: String) throws -> Int {
        let nodes = try String(contentsOf: directory().appendingPathComponent("nodes"), encoding: .utf8)
        let line = try #require(nodes.split(separator: "\n").first { $0.hasPrefix(node + " ") }, "\(node) in \(nodes)")
        return try #require(Int(line.split(separator: " ")[1]))
    }

    /// The process of `node`'s PostgreSQL that replays WAL on a standby (`postgres: … startup`): freezing it
    /// (SIGSTOP) stops replay while the standby goes on receiving, as a stuck replay does. (Pausing replay
    /// with `pg_wal_replay_pause()` does not last under Patroni, which resumes it within a second.)
    public static func replayProcess(of node: String) throws -> pid_t {
        try #require(try serverProcess(of: node, named: "startup"), "\(node) has no startup process: is it a standby?")
    }

    /// The process of `node`'s PostgreSQL that receives WAL on a standby (`postgres: … walreceiver`): while it is
    /// frozen, a primary whose synchronous standby is `node` waits in every commit for the standby's answer.
    public static func walReceiverProcess(of node: String) throws -> pid_t {
        try #require(try serverProcess(of: node, named: "walreceiver"), "\(node) has no walreceiver: is it a standby?")
    }

    /// The process of `node`'s PostgreSQL that flushes WAL in the background (`postgres: … walwriter`):
    /// frozen, WAL that no commit flushes (a rollback's) stays in the server's buffers, unseen by standbys.
    public static func walWriterProcess(of node: String) throws -> pid_t {
        try #require(try serverProcess(of: node, named: "walwriter"), "\(node) has no walwriter: is it a primary?")
    }

    /// The child of `node`'s postmaster whose command line names `role`.
    private static func serverProcess(of node: String, named role: String) throws -> pid_t? {
        let nodes = try String(contentsOf: directory().appendingPathComponent("nodes"), encoding: .utf8)
        let line = try #require(nodes.split(separator: "\n").first { $0.hasPrefix(node + " ") }, "\(node) in \(nodes)")
        let data = String(line.split(separator: " ")[3])
        let pidFile = try String(contentsOfFile: data + "/postmaster.pid", encoding: .utf8)
        let postmaster = try #require(pidFile.split(separator: "\n").first.flatMap { pid_t($0) })
        return ProcessLaunch.children(of: postmaster).first { pid in
            let command = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
            return command.contains(role)
        }
    }

    /// The cluster's URL with one host left: the node listening on `port`.
    public static func url(ofPort port: Int) throws -> String {
        let url = try server.requiredURL()
        let at = try #require(url.range(of: "@"), "credentials in \(url)")
        let path = try #require(url[at.upperBound...].range(of: "/"), "a database in \(url)")
        return String(url[..<at.upperBound]) + "127.0.0.1:\(port)" + String(url[path.lowerBound...])
    }

    /// The name of the node whose PostgreSQL listens on `port`.
    public static func node(onPort port: Int) throws -> String {
        let nodes = try String(contentsOf: directory().appendingPathComponent("nodes"), encoding: .utf8)
        let line = try #require(nodes.split(separator: "\n").first { $0.split(separator: " ")[1] == "\(port)" }, "port \(port) in \(nodes)")
        return String(line.split(separator: " ")[0])
    }

    /// The Patroni REST endpoints, comma separated (`DIR/patroni`), for a URL's `patroni=` setting.
    public static func patroniEndpoints() throws -> String {
        try String(contentsOf: directory().appendingPathComponent("patroni"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
