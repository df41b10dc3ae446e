// Retention set in stream metadata, scavenges, and the three delete modes.
import EventStore

// snippet.hide
let store = InMemoryEventStore()
let readings = (1...1_200).map { EventMessage(messageName: "Reading", payload: ["value": .number(String($0))]) }
try await store.create("audit-3", events: (1...600).map { _ in EventMessage(messageName: "Audited") })
// snippet.show

// snippet.retention
try await store.create("sensor-7", metadata: ["$maxAge": 86_400, "$maxCount": 1_000], events: readings)
try await store.updateStreamMetadata(["$tb": 500], of: "audit-3")  // truncate before position 500
// snippet.end

// snippet.invisible
// Invisible at once: only the last 1,000 readings, and the audit from position 500.
let sensor = try await store.load("sensor-7").collect()
precondition(sensor.count == 1_000 && sensor.first?.position == 201)
let audit = try await store.load("audit-3").collect()
precondition(audit.count == 101 && audit.first?.position == 500)

// Until a scavenge, lifting retention shows the events again.
try await store.updateStreamMetadata([:], of: "audit-3")
let lifted = try await store.load("audit-3").collect()
precondition(lifted.count == 600)
try await store.updateStreamMetadata(["$tb": 500], of: "audit-3")

// Anything but a whole number in its range is refused, on every backend.
do {
    try await store.updateStreamMetadata(["$maxCount": 0], of: "audit-3")
    preconditionFailure("$maxCount starts at 1")
} catch let error as EventStoreError where error.code == .invalidArgument {}
// snippet.end

// snippet.scavenge
// A scavenge removes what retention hides; after it, lifting retention shows nothing more.
let removed = try await store.scavenge()
precondition(removed.streams == 2 && removed.events == 200 + 499)
try await store.updateStreamMetadata([:], of: "audit-3")
let kept = try await store.load("audit-3").collect()
precondition(kept.count == 101)

// The stream keeps its version: appends go on numbering after it.
let next = try await store.append(EventMessage(messageName: "Audited"), to: "audit-3", expectedVersion: .exact(600))
precondition(next.streamVersion == 601)
// snippet.end

// snippet.hide
for cart in ["cart-7", "cart-8", "cart-9"] {
    try await store.create(try StreamName(cart), events: (1...3).map { _ in EventMessage(messageName: "ItemAdded") })
}
// snippet.show

// snippet.delete
try await store.delete("cart-7")                 // .purge: events removed, the name free again from position 1
try await store.delete("cart-8", mode: .soft)    // hidden; writing to it again goes on from position N + 1
try await store.delete("cart-9", mode: .hard)    // a tombstone: streamDeleted (HTTP 410) for good
// snippet.end

// snippet.modes
// Purge: a stream made under the name again starts at position 1.
let remade = try await store.create("cart-7", events: [EventMessage(messageName: "ItemAdded")])
precondition(remade.streamVersion == 1)

// Soft: it reads as missing until create, or an append expecting .noStream, starts it again.
let softExists = try await store.hasStream("cart-8")
precondition(!softExists)
do {
    try await store.append(EventMessage(messageName: "ItemAdded"), to: "cart-8", expectedVersion: .any)
    preconditionFailure("other expected versions find no stream")
} catch let error as EventStoreError where error.code == .streamNotFound {}
let restarted = try await store.append(EventMessage(messageName: "ItemAdded"), to: "cart-8", expectedVersion: .noStream)
precondition(restarted.streamVersion == 4)
let visible = try await store.load("cart-8").collect()
precondition(visible.map(\.position) == [4])  // the earlier events stay hidden...
let hidden = try await store.scavenge()
precondition(hidden.events == 3)  // ...until a scavenge removes them

// Hard: every write, load or metadata call that names it fails, for good.
do {
    try await store.create("cart-9")
    preconditionFailure("the name is kept by its tombstone")
} catch let error as EventStoreError where error.code == .streamDeleted {}
// snippet.end
