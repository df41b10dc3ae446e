import EventStore
import EventStoreTestSupport
import Testing

// The README's quick start, kept compiling and passing here: the code between the markers is the README's,
// line for line (ReadmeQuickStartTests.theReadmeShowsThisCode checks it).

private struct UserRegistered: DomainEvent {
    static let messageName = "UserRegistered"
    var name: String
}

@Suite("README quick start", .watchdog())
struct ReadmeQuickStartTests {
    @Test func theQuickStartRuns() async throws {
        // README begin
        let store = InMemoryEventStore()  // or: try await SQLiteEventStore(path: "eventstore.sqlite")
        try await store.append(try EventMessage(UserRegistered(name: "Alice")), to: "user-1", expectedVersion: .noStream)
        try await store.append(EventMessage(messageName: "UserRenamed", payload: ["name": "Alicia"]),
                               to: "user-1", expectedVersion: .exact(1))
        do {  // a writer that read version 1 loses, and writes nothing
            try await store.append(EventMessage(messageName: "UserRenamed"), to: "user-1", expectedVersion: .exact(1))
        } catch let error as EventStoreError where error.code == .wrongExpectedVersion {
            print("the stream is at version", error.actualVersion ?? 0)  // 2
        }
        for try await event in try await store.load("user-1") {
            print(event.position, event.messageName)  // 1 UserRegistered, then 2 UserRenamed
        }
        let alice = try await store.load("user-1", count: 1).collect()[0].decode(UserRegistered.self)
        // README end
        #expect(alice.name == "Alice")
        let events = try await store.load("user-1").collect()
        #expect(events.map(\.messageName) == ["UserRegistered", "UserRenamed"], "the losing writer wrote nothing")
        await #expect(throws: EventStoreError.self) {
            try await store.append(EventMessage(messageName: "UserRenamed"), to: "user-1", expectedVersion: .exact(1))
        }
    }

    /// The README shows the code of ``theQuickStartRuns()`` between its markers, line for line (indentation
    /// aside), so that the two cannot drift apart.
    @Test func theReadmeShowsThisCode() throws {
        try DocumentedCode.expectShown(between: "README", in: #filePath, indentation: 8, in: "README.md")
    }
}
