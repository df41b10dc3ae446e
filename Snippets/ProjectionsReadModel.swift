// The three kinds of projection: a query, an emitting projection and a read-model projection (the
// examples of Tests/EventStoreTests/ReadmeProjectionTests.swift).

// snippet.hide
import EventStore
import Synchronization

let store = InMemoryEventStore()
try await store.create(
    "user-1",
    events: [
        EventMessage(messageName: "UserRegistered", payload: ["name": "Alice"], metadata: ["tenant": "acme"]),
        EventMessage(messageName: "UserRenamed", payload: ["name": "Alicia"], metadata: ["tenant": "acme"]),
    ])
try await store.create(
    "user-2", events: [EventMessage(messageName: "UserRegistered", payload: ["name": "Bob"], metadata: ["tenant": "other"])])

// snippet.show
// snippet.query
let manager = ProjectionManager(store: store)

// A query: one pass, state in memory only.
let count = manager.createQuery()
    .initialState(0)
    .fromCategory("user")
    .when([.on("UserRegistered") { count, _, _ in count + 1 }])
try await count.run()
print(count.state)
// snippet.end
precondition(count.state == 2)

// snippet.emitting
// An emitting projection: state and positions saved; emit() writes to the stream named like it,
// linkTo() copies events to other streams (both created when missing).
let renamed = manager.createProjection("renamed-users")
    .fromCategory("user")
    .when([
        .on("UserRenamed") { state, event, context in
            try await context.emit(event.message)                  // to stream "renamed-users"
            try await context.linkTo("audit-users", event.message) // to stream "audit-users"
            return state
        }
    ])
try await renamed.run(keepRunning: false)  // one pass; keepRunning: true catches up, then follows new events until stopped
// snippet.end
let emitted = try await store.load("renamed-users").collect()
let linked = try await store.load("audit-users").collect()
precondition(emitted.count == 1 && linked.count == 1)

// snippet.readmodel
final class UsersTable: ReadModel {
    enum Operation: Sendable { case upsert(id: String, name: String) }
    let operations = OperationStack<Operation>()
    let rows = Mutex<[String: String]>([:])  // stands for the table

    func initialize() async throws { /* CREATE TABLE users … */ }
    func isInitialized() async throws -> Bool { /* does the table exist? */ true }
    func reset() async throws {
        operations.clear()
        rows.withLock { $0 = [:] }  // DELETE FROM users
    }
    func delete() async throws {
        operations.clear()
        rows.withLock { $0 = [:] }  // DROP TABLE users
    }
    func stack(_ operation: Operation) { operations.push(operation) }
    func persist() async throws {
        for case let .upsert(id, name) in operations.drain() {
            rows.withLock { $0[id] = name }  // INSERT … ON CONFLICT DO UPDATE
        }
    }
}

let table = UsersTable()
let users = manager.createReadModelProjection("users", readModel: table)
    .initialState(0)
    .fromCategory("user")
    .withMetadataMatcher(try MetadataMatcher().metadata("tenant", .equals, "acme"))
    .whenAny { count, event, context in
        if case let .string(name)? = try event.payload.value()["name"] {
            context.readModel.stack(.upsert(id: event.streamName.rawValue, name: name))
        }
        return count + 1
    }
let running = Task { try await users.run(keepRunning: true) }  // catches up, then follows new events
// snippet.end

// snippet.hide
while users.state < 2 { try await Task.sleep(for: .milliseconds(10)) }
try await store.create(
    "user-3", events: [EventMessage(messageName: "UserRegistered", payload: ["name": "Carol"], metadata: ["tenant": "acme"])])
while users.state < 3 { try await Task.sleep(for: .milliseconds(10)) }
// snippet.show

// snippet.stop
users.stop()              // or, from anywhere: try await manager.stopProjection("users")
try await running.value   // the run saves what it processed and ends
// snippet.end
precondition(table.rows.withLock { $0 } == ["user-1": "Alicia", "user-3": "Carol"], "only acme's users")
let names = try await manager.projectionNames()
let status = try await manager.status(of: "users")
precondition(names == ["renamed-users", "users"] && status == .idle, "\(names) \(status)")
