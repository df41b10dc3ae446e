import EventStore
import Testing

/// What the example read models of the backends' tests do: keep a user's name by stream.
public enum UserOperation: Sendable, Hashable {
    /// Sets the name of the user `id` (the user's stream name), adding the user when it is new.
    case upsert(id: String, name: String)
}

/// A read model kept in a table of a backend's own database (each backend's tests write one).
public protocol UsersTable: ReadModel where Operation == UserOperation {
    /// The table's rows, `nil` when it does not exist.
    func users() async throws -> [String: String]?
}

/// The read-model scenario every SQL backend runs on a read model of its own: kept, reset, deleted.
public enum ReadModelScenario {
    /// A projection of `user-…` streams' names into `readModel`.
    public static func usersProjection<Model: UsersTable>(
        _ manager: ProjectionManager, _ readModel: Model, onEvent: @escaping @Sendable () -> Void = {}
    ) -> ReadModelProjection<Model, Int> {
        manager.createReadModelProjection("users", readModel: readModel).initialState(0).fromCategory("user")
            .whenAny { count, event, context in
                onEvent()
                if case let .string(name)? = try event.payload.value()["name"] {
                    context.readModel.stack(.upsert(id: event.streamName.rawValue, name: name))
                }
                return count + 1
            }
    }

    /// `UserRegistered` with a name.
    public static func registered(_ name: String) -> EventMessage {
        EventMessage(messageName: "UserRegistered", payload: ["name": .string(name)], metadata: [:])
    }

    /// Runs the projection, appends, runs again, resets and deletes through the manager, checking the table.
    public static func run(store: any ProjectionStore, readModel: some UsersTable) async throws {
        try await store.create("user-1", events: [registered("Alice")])
        try await store.create("user-2", events: [registered("Bob")])
        let manager = ProjectionManager(store: store)
        let projection = usersProjection(manager, readModel)
        try await projection.run(keepRunning: false)
        #expect(try await readModel.users() == ["user-1": "Alice", "user-2": "Bob"])
        try await store.append([registered("Alicia")], to: "user-1")
        try await projection.run(keepRunning: false)
        #expect(try await readModel.users() == ["user-1": "Alicia", "user-2": "Bob"])
        try await manager.resetProjection("users")
        #expect(try await readModel.users() == [:])
        try await projection.run(keepRunning: false)
        #expect(try await readModel.users() == ["user-1": "Alicia", "user-2": "Bob"])
        #expect(projection.state == 3)
        try await manager.deleteProjection("users", deleteEmittedEvents: true)
        #expect(try await readModel.users() == nil)
    }
}
