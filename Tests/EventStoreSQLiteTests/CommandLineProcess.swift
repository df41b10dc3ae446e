import Dispatch
import EventStoreTestSupport
import Foundation
import Testing

/// The built `eventstore` executable, run as a separate process.
struct EventStoreProcess {
    /// `EVENTSTORE_BIN`, or the debug build beside this package (`scripts/test` builds it first).
    static var executable: URL {
        if let path = ProcessInfo.processInfo.environment["EVENTSTORE_BIN"] { return URL(fileURLWithPath: path) }
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return packageRoot.appendingPathComponent(".build/debug/eventstore")
    }

    /// The tests' own writer (`Tests/SQLiteTestWriter`), built beside `eventstore`.
    static var testWriter: URL {
        executable.deletingLastPathComponent().appendingPathComponent("sqlite-test-writer")
    }

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Starts `eventstore ARGS` (or another `program`) with `input` on standard input and standard error
    /// written to a file.
    static func start(
        _ arguments: [String], program: URL = executable, input: String = "", environment: [String: String] = [:],
        stdoutFile: URL? = nil, stderrFile: URL
    ) throws -> Process {
        let process = Process()
        process.executableURL = program
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "EVENTSTORE_DATABASE")
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let stdin = Pipe()
        process.standardInput = stdin
        if let stdoutFile {
            _ = FileManager.default.createFile(atPath: stdoutFile.path, contents: nil)
            process.standardOutput = try FileHandle(forWritingTo: stdoutFile)
        } else {
            process.standardOutput = FileHandle.nullDevice
        }
        _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: stderrFile)
        try ProcessLaunch.run(process)
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        return process
    }

    /// Runs `eventstore ARGS` to its end and returns its status and output.
    static func run(_ arguments: [String], input: String = "", environment: [String: String] = [:]) async throws -> Output {
        Watchdog.step("run eventstore \(arguments.joined(separator: " "))")
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "EVENTSTORE_DATABASE")
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try ProcessLaunch.run(process)
        // The reads block until the process closes its end: they run on dispatch threads, never on the
        // cooperative pool (two threads on a two-core machine).
        async let out = readToEnd(stdout.fileHandleForReading)
        async let err = readToEnd(stderr.fileHandleForReading)
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let (outData, errData) = await (out, err)
        await waitForExit(process)
        return Output(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }

    private static func readToEnd(_ handle: FileHandle) async -> Data {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: handle.readDataToEndOfFile()) }
        }
    }

    /// Waits for a process to end without blocking a thread of the cooperative pool; past `limit` it is
    /// killed (SIGKILL: its termination status then says so) and an issue is recorded.
    /// - Returns: whether it ended by itself within `limit`.
    @discardableResult
    static func waitForExit(_ process: Process, within limit: Duration = .seconds(600)) async -> Bool {
        Watchdog.step("wait for \(process.executableURL?.lastPathComponent ?? "a process") \(process.processIdentifier) to exit")
        let deadline = ContinuousClock.now + limit
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        guard process.isRunning else { return true }
        Issue.record("\(process.executableURL?.lastPathComponent ?? "a process") ran past \(limit): killed")
        kill(process.processIdentifier, SIGKILL)
        while process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
        return false
    }

    /// Waits until `file` contains `text`, for at most `timeout`.
    static func waitFor(_ text: String, in file: URL, timeout: Duration = .seconds(60)) async throws -> Bool {
        Watchdog.step("wait for \"\(text)\" in \(file.lastPathComponent)")
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if let data = FileManager.default.contents(atPath: file.path), String(decoding: data, as: UTF8.self).contains(text) {
                return true
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return false
    }
}

/// A JSON array of `count` events named `name`, each with a ~200-byte payload.
func eventsJSON(_ count: Int, name: String = "Ticked") -> String {
    let filler = String(repeating: "x", count: 160)
    return "[" + (1...count).map { "{\"message_name\":\"\(name)\",\"payload\":{\"n\":\($0),\"filler\":\"\(filler)\"}}" }
        .joined(separator: ",") + "]"
}
