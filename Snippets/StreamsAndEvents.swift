// Streams, events and the store's operations, on the in-memory store (every backend behaves the same).
import EventStore
import Foundation

// snippet.hide
let store = InMemoryEventStore()
// snippet.show

// snippet.model
struct UserRegistered: DomainEvent {
    static let messageName = "UserRegistered"
    var name: String
    var email: String
}

let stream: StreamName = "user-42"  // a literal is checked at run time
precondition(stream.category == "user")
let input = "order-7-b"
let fromInput = try StreamName(input)  // text from outside goes through the throwing initializer
precondition(fromInput.category == "order")
// snippet.end

// snippet.create
// Create a stream with metadata, then append with an expected version.
try await store.create(stream, metadata: ["tenant": "acme"])
let registered = try EventMessage(
    UserRegistered(name: "Alice", email: "alice@example.com"),
    metadata: ["_aggregate_type": "user", "_aggregate_id": "42", "_aggregate_version": 1])
let renamed = EventMessage(
    messageName: "UserRenamed", payload: ["name": "Alicia"],
    metadata: ["_aggregate_type": "user", "_aggregate_id": "42", "_aggregate_version": 2])
let written = try await store.append([registered, renamed], to: stream, expectedVersion: .exact(0))
precondition(written.streamVersion == 2)
// snippet.end

// snippet.conflict
// A writer that read an older version loses, and nothing of its batch is written.
do {
    try await store.append(EventMessage(messageName: "UserRenamed"), to: stream, expectedVersion: .exact(1))
    preconditionFailure("a writer with a stale version must lose")
} catch let error as EventStoreError where error.code == .wrongExpectedVersion {
    precondition(error.expectedVersion == .exact(1))
    precondition(error.actualVersion == 2)
}
// snippet.end

// snippet.retry
// Give every event its uuid before the first try: a retry of the same events gets the first result.
let changed = [EventMessage(messageName: "UserEmailChanged", payload: ["email": "alicia@example.com"])]
let firstTry = try await store.append(changed, to: stream, expectedVersion: .exact(2))
let retried = try await store.append(changed, to: stream, expectedVersion: .exact(2))  // the reply was lost
precondition(retried == firstTry)
let stored = try await store.load(stream).collect()
precondition(stored.count == 3)
// snippet.end

// snippet.duplicate
// A second event with the same aggregate type, id and version is a duplicate: nothing is written.
do {
    let again = EventMessage(
        messageName: "UserRenamed",
        metadata: ["_aggregate_type": "user", "_aggregate_id": "42", "_aggregate_version": 2])
    try await store.append(again, to: stream)
    preconditionFailure("the aggregate version is taken")
} catch let error as EventStoreError where error.code == .duplicateEvent {
    precondition(error.code.isConflict)
}
// snippet.end

// snippet.load
// Load with a matcher: only the renames.
let renames = try MetadataMatcher().property(.messageName, .equals, "UserRenamed")
let loaded = try await store.load(stream, matching: renames).collect()
precondition(loaded.map(\.position) == [2])
precondition(loaded[0].metadata["_position"] == 2)  // added on read

// Load backward, a page of 2 at a time, newest first.
var newest = try await store.loadReverse(stream, count: 2).collect()
var positions = newest.map(\.position)
while let oldest = newest.last, oldest.position > 1 {
    newest = try await store.loadReverse(stream, from: oldest.position - 1, count: 2).collect()
    positions += newest.map(\.position)
}
precondition(positions == [3, 2, 1])

// Typed events decode in one call.
let first = try await store.load(stream, count: 1).collect()[0]
let user = try first.decode(UserRegistered.self)
precondition(user.name == "Alice")
// snippet.end

// snippet.hide
let day = Date(timeIntervalSince1970: 1_790_000_000)  // 2026-09-21, before the matcher's date
try await store.create("user-7", events: [
    EventMessage(messageName: "UserInvoiced", metadata: ["_aggregate_id": "42", "amount": 150, "status": "open"], createdAt: day),
    EventMessage(messageName: "UserInvoiced", metadata: ["_aggregate_id": "42", "amount": 100.5, "status": "pending"], createdAt: day),
    EventMessage(messageName: "UserInvoiced", metadata: ["_aggregate_id": "42", "amount": "150", "status": "open"], createdAt: day),
    EventMessage(messageName: "UserInvoiced", metadata: ["_aggregate_id": "42", "amount": 50, "status": "open"], createdAt: day),
    EventMessage(messageName: "UserInvoiced", metadata: ["_aggregate_id": "42", "status": "open"], createdAt: day),
    EventMessage(messageName: "Invoiced", metadata: ["_aggregate_id": "42", "amount": 150, "status": "open"], createdAt: day),
])
// snippet.show

// snippet.matcher
let matcher = try MetadataMatcher()
    .metadata("_aggregate_id", .equals, "42")
    .metadata("amount", .greaterThan, 100)
    .metadata("status", .in, ["open", "pending"])
    .property(.createdAt, .lessThan, "2026-11-27T10:00:00")
    .property(.messageName, .regex, "^User")
// 150 and 100.5 match; the string "150", 50, a missing amount and another name do not.
let invoices = try await store.load("user-7", matching: matcher).collect()
precondition(invoices.map(\.position) == [1, 2])

// A regular expression outside the portable syntax is refused on every backend.
do {
    _ = try MetadataMatcher().property(.messageName, .regex, "\\bUser\\b")
    preconditionFailure("\\b is not portable")
} catch {
    precondition(error.code == .invalidArgument)
}
// snippet.end

// snippet.listings
// Names in byte order, filtered by name and by stream metadata; categories once each.
try await store.create("user-43", metadata: ["tenant": "globex"])
let acme = try MetadataMatcher().metadata("tenant", .equals, "acme")
let acmeUsers = try await store.streamNames(.regex("^user-"), matching: acme)
precondition(acmeUsers == ["user-42"])
let allUsers = try await store.streamNames(.regex("^user-"), limit: 20, offset: 0)
precondition(allUsers == ["user-42", "user-43", "user-7"])
let categories = try await store.categoryNames()
precondition(categories == ["user"])
// snippet.end

// snippet.metadata
// Stream metadata is read and replaced as a whole.
try await store.updateStreamMetadata(["tenant": "acme", "plan": "pro"], of: stream)
let metadata = try await store.streamMetadata(of: stream)
precondition(metadata["plan"] == "pro")
// snippet.end

// snippet.transaction
// All of the closure's writes or none; inside it, write through the store it is given.
struct Cancelled: Error {}
do {
    try await store.transaction { transaction in
        try await transaction.create("order-1", events: [EventMessage(messageName: "OrderPlaced")])
        try await transaction.append(EventMessage(messageName: "UserOrdered"), to: "user-42", expectedVersion: .exact(3))
        throw Cancelled()
    }
} catch is Cancelled {}
let placed = try await store.hasStream("order-1")
precondition(!placed)  // the closure threw: nothing of it was written

try await store.transaction { transaction in
    try await transaction.create("order-1", events: [EventMessage(messageName: "OrderPlaced")])
    try await transaction.append(EventMessage(messageName: "UserOrdered"), to: "user-42", expectedVersion: .exact(3))
}
let version = try await store.loadReverse(stream, count: 1).collect()[0].position
precondition(version == 4)
// snippet.end
