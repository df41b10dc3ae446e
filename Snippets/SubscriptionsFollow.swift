// Following a store's global order: a subscription that catches up and follows, a durable subscription
// that resumes after its checkpoint, and how far such a reader is behind.

// snippet.hide
import EventStore

/// Stands for a search index that a durable subscription keeps up to date.
actor SearchIndex {
    private(set) var indexed: [String] = []
    func update(with event: RecordedEvent) throws { indexed.append("\(event.streamName) \(event.messageName)") }
}
let searchIndex = SearchIndex()

let store = InMemoryEventStore()
try await store.append(
    [EventMessage(messageName: "UserRegistered", payload: ["name": "Ada"])], to: "user-1", expectedVersion: .noStream)
try await store.append([EventMessage(messageName: "OrderPlaced")], to: "order-1", expectedVersion: .noStream)
try await store.append(
    [EventMessage(messageName: "UserRegistered", payload: ["name": "Grace"])], to: "user-2", expectedVersion: .noStream)

// snippet.show
// snippet.follow
// Catch up from the start, then follow live appends, until the task is cancelled
// (here: until both users came).
var users: [StreamName] = []
for try await event in try await store.subscribe(to: .category("user"), from: .start) {
    print(event.globalPosition, event.streamName, event.messageName)
    users.append(event.streamName)
    if users.count == 2 { break }
}
// snippet.end
precondition(users == ["user-1", "user-2"], "the category's events, in global order")

// snippet.hide
func runIndexer(store: InMemoryEventStore, searchIndex: SearchIndex) async throws {
    // snippet.show
    // snippet.durable
    // A durable subscription: resumes after its checkpoint, saved in the store's database after each event.
    try await store.runSubscription(named: "search-indexer", to: .all) { event in
        try await searchIndex.update(with: event)
    }
    // snippet.end
    // snippet.hide
}

let indexer = Task { try await runIndexer(store: store, searchIndex: searchIndex) }
while await searchIndex.indexed.count < 3 { try await Task.sleep(for: .milliseconds(10)) }
indexer.cancel()  // cancelling the task ends the subscription
try await indexer.value
try await store.append([EventMessage(messageName: "UserRenamed")], to: "user-1", expectedVersion: .exact(1))
// snippet.show

// snippet.lag
// How many events the indexer is behind, counted without reading them.
let checkpoint = try await store.checkpoint(named: "search-indexer") ?? .start
let behind = try await store.eventCount(after: checkpoint, of: .all, limit: 10_000)
// snippet.end
precondition(behind == 1, "one event was appended since the indexer stopped")

// snippet.hide
// Run again, the subscription resumes after its checkpoint: only the new event comes.
let again = Task { try await runIndexer(store: store, searchIndex: searchIndex) }
while await searchIndex.indexed.count < 4 { try await Task.sleep(for: .milliseconds(10)) }
again.cancel()
try await again.value
let indexed = await searchIndex.indexed
precondition(
    indexed == ["user-1 UserRegistered", "order-1 OrderPlaced", "user-2 UserRegistered", "user-1 UserRenamed"],
    "each event indexed once: \(indexed)")
let saved = try await store.checkpoint(named: "search-indexer") ?? .start
let left = try await store.eventCount(after: saved, of: .all, limit: 10_000)
precondition(left == 0, "the indexer caught up")
