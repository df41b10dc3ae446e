import EventStore
import EventStoreTestSupport
import Testing

// The README's quick start, kept compiling and passing here.

struct UserRegistered: DomainEvent {
    static let messageName = "UserRegistered"
    var name: String
    var email: String
}

@Test(.watchdog()) func readmeQuickStart() async throws {
    let store = InMemoryEventStore()
    let stream: StreamName = "user-42"

    // Create a stream with metadata, then append with an expected version.
    try await store.create(stream, metadata: ["tenant": "acme"])
    let registered = try EventMessage(
        UserRegistered(name: "Alice", email: "alice@example.com"),
        metadata: ["_aggregate_type": "user", "_aggregate_id": "42", "_aggregate_version": 1])
    let renamed = EventMessage(
        messageName: "UserRenamed", payload: ["name": "Alicia"],
        metadata: ["_aggregate_type": "user", "_aggregate_id": "42", "_aggregate_version": 2])
    try await store.append([registered, renamed], to: stream, expectedVersion: .exact(0))

    // A writer that read an older version loses, and nothing of its batch is written.
    do {
        try await store.append(EventMessage(messageName: "UserRenamed"), to: stream, expectedVersion: .exact(1))
    } catch let error as EventStoreError where error.code == .wrongExpectedVersion {
        print("stream is at version \(error.actualVersion ?? 0)")  // 2
    }

    // Load with a matcher: only the renames.
    let renames = try MetadataMatcher().property(.messageName, .equals, "UserRenamed")
    for try await event in try await store.load(stream, matching: renames) {
        print(event.position, event.messageName, event.payload)  // 2 UserRenamed {"name":"Alicia"}
    }

    // Load backward, a page of 10 at a time, newest first.
    var newest = try await store.loadReverse(stream, count: 10).collect()
    while let oldest = newest.last, oldest.position > 1 {
        newest = try await store.loadReverse(stream, from: oldest.position - 1, count: 10).collect()
    }

    // Typed events decode in one call.
    let first = try #require(try await store.load(stream, count: 1).collect().first)
    let user = try first.decode(UserRegistered.self)
    #expect(user.name == "Alice")
    #expect(first.metadata["_position"] == 1)
    #expect(try await store.load(stream, matching: renames).collect().count == 1)
}
