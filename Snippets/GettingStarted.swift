import EventStore
import EventStoreSQLite
// snippet.hide
import Foundation

let folder = FileManager.default.temporaryDirectory.appendingPathComponent("getting-started-\(UUID())")
try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: folder) }
let path = folder.appendingPathComponent("eventstore.sqlite").path

// snippet.show

struct UserRegistered: DomainEvent {
    static let messageName = "UserRegistered"
    var name: String
    var email: String
}

let store = try await SQLiteEventStore(path: path)  // or InMemoryEventStore(), for tests
let stream: StreamName = "user-42"

// snippet.append
// Create a stream with metadata, then append with the version the writer last saw.
try await store.create(stream, metadata: ["tenant": "acme"])
let registered = try EventMessage(
    UserRegistered(name: "Alice", email: "alice@example.com"),
    metadata: ["_aggregate_type": "user", "_aggregate_id": "42", "_aggregate_version": 1])
let renamed = EventMessage(
    messageName: "UserRenamed", payload: ["name": "Alicia"],
    metadata: ["_aggregate_type": "user", "_aggregate_id": "42", "_aggregate_version": 2])
try await store.append([registered, renamed], to: stream, expectedVersion: .exact(0))
// snippet.end

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
let first = try await store.load(stream, count: 1).collect()[0]
let user = try first.decode(UserRegistered.self)
// snippet.hide
let renamesLoaded = try await store.load(stream, matching: renames).collect()
let everything = try await store.load(stream).collect()
precondition(user.name == "Alice")
precondition(renamesLoaded.map(\.position) == [2])
precondition(newest.map(\.position) == [2, 1])
precondition(everything.count == 2, "the losing writer's event was not written")
print("GettingStarted: ok")
