import EventStore
import EventStorePostgres
import Foundation
import Synchronization
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
        defer { stopServer(directory) }
        var configuration = try PostgresConfiguration(url: url)
        configuration.connectTimeout = .seconds(10)
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

    /// A live subscriber survives a server restart: it retries with back-off and resumes after the last event
    /// it delivered, without loss or duplicates.
    @Test func aLiveSubscriberResumesAfterTheServerRestarts() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("es-pg-sub-\(UUID().uuidString)")
        let url = try await postgresScript("start", directory)
        defer { stopServer(directory) }
        var configuration = try PostgresConfiguration(url: url)
        configuration.connectTimeout = .seconds(10)
        try await PostgresEventStore.withStore(configuration: configuration, logger: PostgresTestServer.logger) { store in
            try await store.create("live-1")
            let subscription = try await store.subscribe(to: .stream("live-1"))
            let delivered = DeliveredPositions()
            let consumer = Task { for try await event in subscription { delivered.add(event.position) } }
            try await store.append((1...3).map { _ in EventMessage(messageName: "Before") }, to: "live-1")
            #expect(try await delivered.wait(for: 3))
            _ = try await postgresScript("stop", directory)
            try await Task.sleep(for: .milliseconds(300))
            _ = try await postgresScript("resume", directory)
            var appended = false
            for _ in 0..<100 where !appended {
                do {
                    try await store.append((1...3).map { _ in EventMessage(messageName: "After") }, to: "live-1")
                    appended = true
                } catch let error as EventStoreError where error.code == .backend {
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            #expect(appended)
            #expect(try await delivered.wait(for: 6))
            consumer.cancel()
            _ = try? await consumer.value
            #expect(delivered.positions == [1, 2, 3, 4, 5, 6])
        }
    }
}

/// Positions a consumer delivered, from any task.
final class DeliveredPositions: Sendable {
    private let state = Mutex<[Int]>([])
    func add(_ position: Int) { state.withLock { $0.append(position) } }
    var positions: [Int] { state.withLock { $0 } }

    /// Waits until `count` positions arrived, at most 60 s.
    func wait(for count: Int) async throws -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        while positions.count < count, clock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        return positions.count >= count
    }
}

/// Stops a private server and removes its folder.
func stopServer(_ directory: URL) {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let stop = Process()
    stop.executableURL = URL(fileURLWithPath: "/bin/sh")
    stop.arguments = ["-c", "\"$0\" stop \"$1\"; rm -rf \"$1\"", root.appendingPathComponent("scripts/postgres").path, directory.path]
    stop.standardOutput = FileHandle.nullDevice
    try? stop.run()
    stop.waitUntilExit()
}
