import EventStore
import EventStorePostgres
import Foundation
import Testing

/// Runs `scripts/postgres COMMAND DIR` and returns the server's URL (from `DIR/url`). Standard output is not
/// read through a pipe: the server it starts would keep the pipe open.
func postgresScript(_ command: String, _ directory: URL) async throws -> String {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let process = Process()
    process.executableURL = root.appendingPathComponent("scripts/postgres")
    process.arguments = [command, directory.path]
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    while process.isRunning { try await Task.sleep(for: .milliseconds(10)) }
    guard process.terminationStatus == 0 else { throw EventStoreError.backend("scripts/postgres \(command) failed") }
    let url = try? String(contentsOf: directory.appendingPathComponent("url"), encoding: .utf8)
    return url?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
}

@Suite("PostgreSQL faults", .enabled(if: PostgresTestServer.shouldRun, "\(PostgresTestServer.skipMessage)"))
struct PostgresFaultTests {
    /// A server of its own, so that stopping it disturbs no other test.
    @Test func callsFailClearlyWhileTheServerIsDownAndSucceedWhenItIsBack() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("es-pg-fault-\(UUID().uuidString)")
        let url = try await postgresScript("start", directory)
        defer {
            let stop = Process()
            stop.executableURL = URL(fileURLWithPath: "/bin/sh")
            stop.arguments = ["-c", "\"$0\" stop \"$1\"; rm -rf \"$1\"", URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("scripts/postgres").path, directory.path]
            try? stop.run()
            stop.waitUntilExit()
        }
        var configuration = try PostgresConfiguration(url: url)
        configuration.connectTimeout = .seconds(2)
        try await PostgresEventStore.withStore(configuration: configuration, logger: PostgresTestServer.logger) { store in
            try await store.create("fault-1", events: [EventMessage(messageName: "Before")])
            _ = try await postgresScript("stop", directory)
            let error = await #expect(throws: EventStoreError.self) {
                try await store.append([EventMessage(messageName: "During")], to: "fault-1")
            }
            #expect(error?.code == .backend)
            _ = try await postgresScript("resume", directory)
            var appended = false
            for _ in 0..<100 where !appended {
                do {
                    try await store.append([EventMessage(messageName: "After")], to: "fault-1")
                    appended = true
                } catch let error as EventStoreError where error.code == .backend {
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            #expect(appended)
            #expect(try await store.load("fault-1").collect().map(\.messageName) == ["Before", "After"])
        }
    }
}
