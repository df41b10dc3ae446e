import EventStore
import Foundation

/// One of the project's server scripts (`scripts/postgres`, `scripts/mariadb`), run for a server of a test's
/// own in a folder of its own, so that stopping, freezing, killing or restarting it disturbs no other test.
public struct ServerScript: Sendable {
    public let name: String

    public init(_ name: String) { self.name = name }

    private var path: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/\(name)").path
    }

    /// Where servers are made: `EVENTSTORE_TEST_SERVERS_DIR` (`scripts/test` sets it, and stops what is
    /// left there when the run ends), else the temporary folder.
    public static let parent: URL = ProcessInfo.processInfo.environment["EVENTSTORE_TEST_SERVERS_DIR"].map {
        URL(fileURLWithPath: $0)
    } ?? FileManager.default.temporaryDirectory

    /// A new folder for a server under ``parent``. Short: PostgreSQL's socket path in it must stay within
    /// 107 bytes.
    public func newDirectory(_ label: String) -> URL {
        Self.parent.appendingPathComponent("es-\(name.prefix(2))-\(label)-\(UUID().uuidString.prefix(8))")
    }

    /// Runs `scripts/NAME COMMAND DIR ARGUMENTS…` and returns the server's URL (from `DIR/url`, empty when
    /// there is none). Standard output is not read through a pipe: the server it starts would keep the pipe
    /// open.
    @discardableResult
    public func run(
        _ command: String, _ directory: URL, _ arguments: [String] = [], output: FileHandle = .nullDevice
    ) async throws -> String {
        Watchdog.step("scripts/\(name) \(command)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = [command, directory.path] + arguments
        process.standardOutput = output
        try ProcessLaunch.run(process)
        // Polled, not waited for: a blocked thread of the cooperative pool would slow every other test.
        while process.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        guard process.terminationStatus == 0 else { throw EventStoreError.backend("scripts/\(name) \(command) failed") }
        let url = try? String(contentsOf: directory.appendingPathComponent("url"), encoding: .utf8)
        return url?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }

    /// Runs `scripts/NAME COMMAND DIR ARGUMENTS…` for a command that ends without leaving a server behind
    /// (`sql`), and returns its standard output.
    public func output(_ command: String, _ directory: URL, _ arguments: [String] = []) async throws -> String {
        let file = directory.appendingPathComponent("output-\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: file.path, contents: nil) else {
            throw EventStoreError.backend("cannot write \(file.path)")
        }
        defer { try? FileManager.default.removeItem(at: file) }
        try await run(command, directory, arguments, output: try FileHandle(forWritingTo: file))
        return try String(contentsOf: file, encoding: .utf8)
    }

    /// Starts a server in a new folder, runs `body` with the folder and the server's URL, and stops and
    /// removes the server however `body` ends.
    public func withServer<T>(_ label: String, _ body: (URL, String) async throws -> T) async throws -> T {
        let directory = newDirectory(label)
        do {
            let result = try await body(directory, try await run("start", directory))
            await remove(directory)
            return result
        } catch {
            await remove(directory)
            throw error
        }
    }

    /// Stops the server of `directory` and removes the folder, whatever state the server is in.
    public func remove(_ directory: URL) async {
        Watchdog.step("stop and remove the server")
        let stop = Process()
        stop.executableURL = URL(fileURLWithPath: "/bin/sh")
        stop.arguments = ["-c", "\"$0\" stop \"$1\"; rm -rf \"$1\"", path, directory.path]
        stop.standardOutput = FileHandle.nullDevice
        guard (try? ProcessLaunch.run(stop)) != nil else { return }
        while stop.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
    }
}
