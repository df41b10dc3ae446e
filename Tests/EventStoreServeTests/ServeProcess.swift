import AsyncHTTPClient
import EventStoreTestSupport
import Foundation
import NIOCore

/// `eventstore serve` as a child process on a free loopback port, its output in a file.
struct ServeProcess: Sendable {
    let process: Process
    let port: Int
    let log: URL
    /// `https` when serve was started with TLS, and the client that trusts its certificate.
    var scheme = "http"
    var client: HTTPClient = testClient

    var baseURL: String { "\(scheme)://127.0.0.1:\(port)" }

    /// The built `eventstore`: `EVENTSTORE_BIN`, or the debug build beside this package (`scripts/test`
    /// builds it first).
    static var executable: URL {
        if let path = ProcessInfo.processInfo.environment["EVENTSTORE_BIN"] { return URL(fileURLWithPath: path) }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/eventstore")
    }

    /// Starts `eventstore serve --database DATABASE ARGUMENTS…` and returns once `/health/live` answers.
    /// - Parameters:
    ///   - port: the port, a free one when `nil` (a restart passes the port it had).
    ///   - client: the client of the requests, with its `scheme` (one that trusts serve's certificate for TLS).
    static func start(
        database: String, in directory: URL, port: Int? = nil, _ arguments: [String] = [], client: HTTPClient = testClient,
        scheme: String = "http"
    ) async throws -> ServeProcess {
        let port = try port ?? freePort()
        Watchdog.step("start eventstore serve on port \(port)")
        let log = directory.appendingPathComponent("serve-\(port)-\(UUID().uuidString.prefix(6)).log")
        guard FileManager.default.createFile(atPath: log.path, contents: nil) else { throw ServeFailure("cannot write \(log.path)") }
        let process = Process()
        process.executableURL = executable
        process.arguments = ["serve", "--database", database, "--port", "\(port)"] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "EVENTSTORE_DATABASE")
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        let output = try FileHandle(forWritingTo: log)
        process.standardOutput = output
        process.standardError = output
        try ProcessLaunch.run(process)
        let serve = ServeProcess(process: process, port: port, log: log, scheme: scheme, client: client)
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            guard process.isRunning else { throw ServeFailure("eventstore serve ended at start:\n\(serve.output)") }
            if let status = try? await serve.get("/health/live", timeout: .seconds(1)).status, status == 200 { return serve }
            try await Task.sleep(for: .milliseconds(50))
        }
        await serve.kill()
        throw ServeFailure("eventstore serve did not answer /health/live within 60 s:\n\(serve.output)")
    }

    /// What the process wrote.
    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// A GET of `path`: its status and body.
    func get(_ path: String, accept: String? = nil, timeout: Duration) async throws -> (status: UInt, body: String) {
        var request = HTTPClientRequest(url: baseURL + path)
        if let accept { request.headers.add(name: "Accept", value: accept) }
        let response = try await client.execute(request, timeout: .init(timeout))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (response.status.code, String(buffer: body))
    }

    /// A POST of one event with `uuid` to `stream` (made if missing): the status, or `nil` without an answer
    /// within `timeout`.
    func post(_ uuid: String, to stream: String, timeout: Duration = .seconds(10)) async -> UInt? {
        var request = HTTPClientRequest(url: "\(baseURL)/stream/\(stream)")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: "[{\"message_name\":\"Posted\",\"uuid\":\"\(uuid)\",\"payload\":{}}]"))
        guard let response = try? await client.execute(request, timeout: .init(timeout)) else { return nil }
        _ = try? await response.body.collect(upTo: 1 << 16)
        return response.status.code
    }

    /// Sends SIGTERM and returns how long the process took to exit, `nil` when it was still running after
    /// `limit` (it is then killed).
    func terminate(within limit: Duration) async -> Duration? {
        Watchdog.step("SIGTERM eventstore serve \(process.processIdentifier)")
        let start = ContinuousClock.now
        process.terminate()
        while process.isRunning, ContinuousClock.now - start < limit { try? await Task.sleep(for: .milliseconds(20)) }
        guard !process.isRunning else {
            await kill()
            return nil
        }
        return ContinuousClock.now - start
    }

    /// Kills the process with SIGKILL (a crash) and waits for its end.
    func kill() async {
        Foundation.kill(process.processIdentifier, SIGKILL)
        while process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
    }

    /// A port of 127.0.0.1 that nothing listens on now.
    static func freePort() throws -> Int { try LocalPort.free() }
}

struct ServeFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
