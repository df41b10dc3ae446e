import EventStore
import EventStoreTestSupport
import Synchronization
import Testing

// The README's projection examples, kept compiling and passing here.

final class UsersTable: ReadModel {
    enum Operation: Sendable { case upsert(id: String, name: String) }
    let operations = OperationStack<Operation>()
    let rows = Mutex<[String: String]>([:])

    func initialize() async throws {}
    func isInitialized() async throws -> Bool { true }
    func reset() async throws {
        operations.clear()
        rows.withLock { $0 = [:] }
    }
    func delete() async throws {
        operations.clear()
        rows.withLock { $0 = [:] }
    }
    func stack(_ operation: Operation) { operations.push(operation) }
    func persist() async throws {
        for case let .upsert(id, name) in operations.drain() { rows.withLock { $0[id] = name } }
    }
}

@Test(.watchdog()) func readmeProjections() async throws {
    let store = InMemoryEventStore()
    try await store.create(
        "user-1",
        events: [
            EventMessage(messageName: "UserRegistered", payload: ["name": "Alice"], metadata: ["tenant": "acme"]),
            EventMessage(messageName: "UserRenamed", payload: ["name": "Alicia"], metadata: ["tenant": "acme"]),
        ])
    try await store.create(
        "user-2", events: [EventMessage(messageName: "UserRegistered", payload: ["name": "Bob"], metadata: ["tenant": "other"])])
    let manager = ProjectionManager(store: store)

    // A query: one pass, state in memory only.
    let count = manager.createQuery()
        .initialState(0)
        .fromCategory("user")
        .when([.on("UserRegistered") { count, _, _ in count + 1 }])
    try await count.run()
    #expect(count.state == 2)

    // An emitting projection.
    let renamed = manager.createProjection("renamed-users")
        .fromCategory("user")
        .when([
            .on("UserRenamed") { state, event, context in
                try await context.emit(event.message)
                try await context.linkTo("audit-users", event.message)
                return state
            }
        ])
    try await renamed.run(keepRunning: false)
    #expect(try await store.load("renamed-users").collect().count == 1)
    #expect(try await store.load("audit-users").collect().count == 1)

    // A read-model projection.
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
    try await users.run(keepRunning: false)
    #expect(table.rows.withLock { $0 } == ["user-1": "Alicia"])
    #expect(users.state == 2)
    #expect(try await manager.projectionNames() == ["renamed-users", "users"])
}
