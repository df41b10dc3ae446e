// Reading a store as a whole, in its global order.
import EventStore

// snippet.hide
let store = InMemoryEventStore()
// snippet.show

// snippet.readAll
try await store.create("user-1", events: [EventMessage(messageName: "UserRegistered")])
try await store.create("order-1", events: [EventMessage(messageName: "OrderPlaced"), EventMessage(messageName: "OrderPaid")])
try await store.append(EventMessage(messageName: "UserRenamed"), to: "user-1", expectedVersion: .exact(1))

// Every event of every stream but internal `$…` ones, a page at a time, each after the last one read.
var position = GlobalPosition.start
var seen: [String] = []
while true {
    let page = try await store.readAll(after: position, of: .all, limit: 2)
    guard let last = page.last else { break }
    seen += page.map { "\($0.streamName)@\($0.position)" }
    position = last.globalPosition
}
precondition(seen == ["user-1@1", "order-1@1", "order-1@2", "user-1@2"])
let head = try await store.headPosition()
precondition(position == head)
// snippet.end

// snippet.targets
// One stream, several, a category or several: the same order, only their events.
let users = try await store.readAll(after: .start, of: .category("user"), limit: 100)
precondition(users.map(\.messageName) == ["UserRegistered", "UserRenamed"])

// How far a reader is behind, counted without reading the events.
let behind = try await store.eventCount(after: users[0].globalPosition, of: .all, limit: 10_000)
precondition(behind == 3)

// A short page says how far the read looked: past its last event, up to the readable head.
let quiet = try await store.readPage(after: .start, of: .stream("order-1"), limit: 10)
precondition(quiet.events.count == 2)
precondition(quiet.readThrough == head)
// snippet.end

// snippet.checkpoint
// A reader keeps its place under a name, in the store's own database.
try await store.saveCheckpoint(position, named: "search-indexer")
let resumeAfter = try await store.checkpoint(named: "search-indexer")
precondition(resumeAfter == position)
// snippet.end

// snippet.positions
// `sequence`, or `commit:sequence` where a backend orders by committing transaction (PostgreSQL).
precondition(GlobalPosition("42") == GlobalPosition(sequence: 42))
precondition(GlobalPosition("7:15") == GlobalPosition(commit: 7, sequence: 15))
precondition(GlobalPosition(commit: 7, sequence: 900) < GlobalPosition(commit: 8, sequence: 3))

// A position this store never handed out is refused rather than read past.
do {
    _ = try await store.readAll(after: GlobalPosition(sequence: 1_000), of: .all, limit: 10)
    preconditionFailure("position 1000 is past the head")
} catch let error as EventStoreError where error.code == .invalidArgument {}

// A position whose events were deleted stays readable.
try await store.delete("order-1")
let afterDeleted = try await store.readAll(after: GlobalPosition(sequence: 2), of: .all, limit: 10)
precondition(afterDeleted.map(\.messageName) == ["UserRenamed"])
// snippet.end
