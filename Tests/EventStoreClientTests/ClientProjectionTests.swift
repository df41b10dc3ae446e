import EventStore
import EventStoreClient
import EventStoreTestSupport
import Testing

@Suite("EventStoreClient and the server's projections", .watchdog())
struct ClientProjectionTests {
    /// A projection runs beside the store, in the server; the client lists it, reads its status, state and
    /// positions, and sends it commands, as `ProjectionManager` does on a local store.
    @Test func theServersProjectionsAreManagedThroughTheClient() async throws {
        try await withClientThroughProxy { client, _, store in
            try await client.create("order-1", events: [EventMessage(messageName: "Placed"), EventMessage(messageName: "Paid")])
            try await ProjectionManager(store: store).createProjection("orders").initialState(0).fromCategory("order")
                .whenAny { count, _, _ in count + 1 }.run(keepRunning: false)
            #expect(try await client.projectionNames() == ["orders"])
            #expect(try await client.projectionNames(.regex("^ord"), limit: 5) == ["orders"])
            #expect(try await client.projectionNames(.exact("nobody")) == [])
            #expect(try await client.projectionStatus(of: "orders") == .idle)
            #expect(try await client.projectionState(of: "orders") == 2)
            #expect(try await client.projectionStreamPositions(of: "orders") == ["order-1": 2])
            try await client.stopProjection("orders")
            #expect(try await client.projectionStatus(of: "orders") == .stopping)
            // With no runner, a reset happens at once.
            try await client.resetProjection("orders")
            #expect(try await client.projectionStreamPositions(of: "orders") == [:])
            try await client.deleteProjection("orders", deleteEmittedEvents: false)
            let missing = await #expect(throws: EventStoreError.self) { try await client.projectionStatus(of: "orders") }
            #expect(missing?.code == .projectionNotFound)
            #expect(missing?.projectionName == "orders")
            #expect(try await client.projectionNames() == [])
        }
    }
}
