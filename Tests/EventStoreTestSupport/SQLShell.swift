import Foundation
import Testing

/// A database's own command-line client (`psql`, `mariadb`) run on one SQL text: how tests reach past the
/// store, to slow it down with a trigger, change a row behind its back, or count what it left.
public struct SQLShell: Sendable {
    /// The client and its connection arguments, before the SQL.
    public let command: [String]

    /// `psql` on a PostgreSQL URL: unaligned rows, no headers, stopping at the first error.
    public static func postgres(_ url: String) -> SQLShell {
        SQLShell(command: ["psql", url, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c"])
    }

    /// `mariadb` on a server: tab-separated rows, no headers.
    public static func mariadb(host: String, port: Int, user: String, password: String?, database: String) -> SQLShell {
        let password = password.map { ["-p\($0)"] } ?? []
        return SQLShell(
            command: ["mariadb", "--no-defaults", "-h", host, "-P", "\(port)", "-u", user] + password + [database, "-N", "-B", "-e"])
    }

    /// `sqlite3` on a database file.
    public static func sqlite(_ path: String) -> SQLShell { SQLShell(command: ["sqlite3", path]) }

    /// `sh -c`: a pipeline of the databases' tools (`pg_dump URL | psql URL`), the script in place of the SQL.
    public static let script = SQLShell(command: ["sh", "-c"])

    /// Runs `sql` and returns what it printed, without the last line break.
    /// - Throws: a test failure when the client exits with another status than 0.
    @discardableResult
    public func run(_ sql: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command + [sql]
        // Into files, read once it ended: nothing blocks a thread of the cooperative pool on a pipe.
        let directory = FileManager.default.temporaryDirectory
        let outputURL = directory.appendingPathComponent("sqlshell-\(UUID().uuidString).out")
        let errorURL = directory.appendingPathComponent("sqlshell-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outputURL)
            try? FileManager.default.removeItem(at: errorURL)
        }
        process.standardOutput = try FileHandle(forWritingTo: outputURL)
        process.standardError = try FileHandle(forWritingTo: errorURL)
        try ProcessLaunch.run(process)
        while process.isRunning { try await Task.sleep(for: .milliseconds(5)) }
        let text = try Data(contentsOf: outputURL)
        let problem = try Data(contentsOf: errorURL)
        try #require(
            process.terminationStatus == 0, "\(command[0]) failed on \(sql): \(String(decoding: problem, as: UTF8.self))",
            sourceLocation: sourceLocation)
        var result = String(decoding: text, as: UTF8.self)
        if result.hasSuffix("\n") { result.removeLast() }
        return result
    }

    /// Runs `sql` every 20 ms until it prints `expected`, for at most `timeout`.
    /// - Throws: a test failure when it never does.
    public func waitFor(
        _ sql: String, toPrint expected: String, timeout: Duration = .seconds(20), sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await run(sql, sourceLocation: sourceLocation) != expected {
            try #require(ContinuousClock.now < deadline, "\(sql) never printed \(expected)", sourceLocation: sourceLocation)
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// A `psql` session kept open, fed statements one line at a time: a client that opens a transaction and
/// leaves it open (an ORM session that forgot it), elsewhere than the store.
public final class SQLSession: Sendable {
    private let process: Process
    private let input: FileHandle

    /// Connects `psql` to `url` as `applicationName`; its output is discarded.
    public init(postgres url: String, applicationName: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let separator = url.contains("?") ? "&" : "?"
        process.arguments = ["psql", url + separator + "application_name=" + applicationName, "-qAtX"]
        let pipe = Pipe()
        process.standardInput = pipe
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try ProcessLaunch.run(process)
        self.process = process
        input = pipe.fileHandleForWriting
    }

    /// Sends one line of SQL (a few bytes into the pipe: the write does not wait for the statement).
    public func send(_ sql: String) throws { try input.write(contentsOf: Data((sql + "\n").utf8)) }

    /// Ends the input, so that `psql` ends its session (an open transaction rolls back), and waits for it.
    public func end() async {
        try? input.close()
        while process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
    }
}
