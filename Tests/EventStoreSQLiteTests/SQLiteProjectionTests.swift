import Dispatch
import EventStore
import EventStoreConformance
import EventStoreSQL
@testable import EventStoreSQLite
import EventStoreTestSupport
import Foundation
import Synchronization
import Testing

/// A read model in a table of the store's SQLite file, on a connection of its own.
final class SQLiteUsersReadModel: UsersTable {
    private let worker: SQLiteWorker
    private let operations = OperationStack<UserOperation>()

    init(path: String) async throws {
        worker = try await SQLiteWorker.opened(label: "tests.readmodel") {
            try SQLiteConnection(path: path, readOnly: false, busyTimeoutMilliseconds: 5000)
        }
    }

    func initialize() async throws {
        try await worker.run { try $0.execute("CREATE TABLE read_users (id TEXT PRIMARY KEY, name TEXT NOT NULL)") }
    }

    func isInitialized() async throws -> Bool {
        try await worker.run { c in
            var found = false
            try c.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'read_users'") { _ in found = true }
            return found
        }
    }

    func reset() async throws {
        operations.clear()
        try await worker.run { try $0.execute("DELETE FROM read_users") }
    }

    func delete() async throws {
        operations.clear()
        try await worker.run { try $0.execute("DROP TABLE read_users") }
    }

    func stack(_ operation: UserOperation) { operations.push(operation) }

    func persist() async throws {
        let pending = operations.drain()
        try await worker.run { c in
            try c.immediateTransaction {
                for case let .upsert(id, name) in pending {
                    try c.query(
                        "INSERT INTO read_users (id, name) VALUES (\(bind: id), \(bind: name)) ON CONFLICT (id) DO UPDATE SET name = excluded.name")
                }
            }
        }
    }

    /// The table's rows, `nil` when it does not exist.
    func users() async throws -> [String: String]? {
        guard try await isInitialized() else { return nil }
        return try await worker.run { c in
            var users: [String: String] = [:]
            try c.query("SELECT id, name FROM read_users") { users[$0.text(0)] = $0.text(1) }
            return users
        }
    }
}

final class Calls: Sendable {
    private let value = Mutex(0)
    func bump() { value.withLock { $0 += 1 } }
    var count: Int { value.withLock { $0 } }
}

/// Waits (up to 30 s) until `condition` holds.
func eventually(_ what: String = "a condition", _ condition: () async throws -> Bool) async throws -> Bool {
    Watchdog.step("wait for \(what)")
    let deadline = ContinuousClock.now + .seconds(30)
    while ContinuousClock.now < deadline {
        if (try? await condition()) == true { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return false
}

@Suite("SQLite projections", .serialized, .watchdog())
struct SQLiteProjectionTests {
    @Test func aReadModelInTheStoresFileIsKeptResetAndDeleted() async throws {
        try await withTemporaryDatabase { path in
            let store = try await SQLiteEventStore(path: path)
            try await ReadModelScenario.run(store: store, readModel: try await SQLiteUsersReadModel(path: path))
        }
    }

    @Test func anotherProcessListsInspectsResetsStopsAndDeletesALiveProjection() async throws {
        try await withTemporaryDatabase { path in
            let database = "--database=sqlite:\(path)"
            let store = try await SQLiteEventStore(path: path)
            try await store.create("user-1", events: [ReadModelScenario.registered("Alice")])
            let readModel = try await SQLiteUsersReadModel(path: path)
            let calls = Calls()
            let projection = ReadModelScenario.usersProjection(ProjectionManager(store: store), readModel) { calls.bump() }
            let runner = Task { try await projection.run(keepRunning: true) }
            let manager = ProjectionManager(store: store)
            #expect(try await eventually { try await manager.streamPositions(of: "users") == ["user-1": 1] })

            let list = try await EventStoreProcess.run(["projections", "list", database])
            #expect(list.stdout == "users\n", "\(list.stderr)")
            let status = try await EventStoreProcess.run(["projections", "status", "users", database])
            #expect(status.stdout.contains(#""status":"running""#), "\(status.stdout) \(status.stderr)")
            #expect(status.stdout.contains(#""kind":"read_model""#))
            let state = try await EventStoreProcess.run(["projections", "state", "users", database])
            #expect(state.stdout == "1\n")
            let positions = try await EventStoreProcess.run(["projections", "positions", "users", database])
            #expect(positions.stdout == "{\"user-1\":1}\n")
            let running = try await EventStoreProcess.run(["projections", "state", "nobody", database])
            #expect(running.status == 3)

            // Reset from the other process: the live runner starts over at its next check.
            try await store.append([ReadModelScenario.registered("Alicia")], to: "user-1")
            #expect(try await eventually { projection.state == 2 })
            let reset = try await EventStoreProcess.run(["projections", "reset", "users", database])
            #expect(reset.status == 0, "\(reset.stderr)")
            #expect(try await eventually { calls.count == 4 })
            #expect(try await eventually { try await manager.state(of: "users") == .number("2") })
            #expect(try await readModel.users() == ["user-1": "Alicia"])

            // Stop: the runner returns, its lease released and its positions kept.
            let stop = try await EventStoreProcess.run(["projections", "stop", "users", database])
            #expect(stop.status == 0, "\(stop.stderr)")
            try await runner.value
            #expect(try await manager.status(of: "users") == .idle)
            #expect(try await manager.streamPositions(of: "users") == ["user-1": 2])

            // Delete with nothing running is done at once; the read model waits for the next runner.
            let delete = try await EventStoreProcess.run(["projections", "delete", "users", "--with-emitted-events", database])
            #expect(delete.status == 0, "\(delete.stderr)")
            #expect(try await EventStoreProcess.run(["projections", "list", database]).stdout.isEmpty)
            #expect(try await readModel.users() == ["user-1": "Alicia"])
            try await projection.run(keepRunning: false)
            #expect(try await readModel.users() == ["user-1": "Alicia"])
            #expect(calls.count == 6)
        }
    }

    @Test func aRunnerOnAnotherConnectionToTheFileGetsProjectionRunning() async throws {
        try await withTemporaryDatabase { path in
            let store = try await SQLiteEventStore(path: path)
            try await store.create("user-1", events: [ReadModelScenario.registered("Alice")])
            let first = ProjectionManager(store: store).createProjection("counter").initialState(0).fromAll()
                .whenAny { n, _, _ in n + 1 }
            let runner = Task { try await first.run(keepRunning: true) }
            let other = try await SQLiteEventStore(path: path)
            let manager = ProjectionManager(store: other)
            #expect(try await eventually { try await manager.status(of: "counter") == .running })
            let second = manager.createProjection("counter").initialState(0).fromAll().whenAny { n, _, _ in n + 1 }
            let error = await #expect(throws: EventStoreError.self) { try await second.run(keepRunning: false) }
            #expect(error?.code == .projectionRunning)
            first.stop()
            try await runner.value
            try await second.run(keepRunning: false)
            #expect(second.state == 1)
        }
    }
}
