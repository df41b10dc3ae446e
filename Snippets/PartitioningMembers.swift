// A partitioned store over two SQLite files: routing, a routing key that keeps an aggregate's streams
// together, the merged order with composite positions, and a bucket moved to the other member.

// snippet.hide
import EventStore
import EventStoreSQLite
import Foundation

let folder = FileManager.default.temporaryDirectory.appendingPathComponent("partitioning-\(UUID())")
try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
precondition(FileManager.default.changeCurrentDirectoryPath(folder.path))

// snippet.show
// snippet.open
let store = try await PartitionedEventStore.open(members: [
    .init(name: "a", store: try await SQLiteEventStore(path: "a.sqlite")),
    .init(name: "b", store: try await SQLiteEventStore(path: "b.sqlite")),
])
try await store.append([EventMessage(messageName: "OrderPlaced")], to: "order-7", expectedVersion: .noStream)
// snippet.end

// snippet.key
// Streams that must share transactions live on one member: here every stream of aggregate 7.
let byAggregate = try await PartitionedEventStore.open(
    members: [
        .init(name: "a", store: try await SQLiteEventStore(path: "orders-a.sqlite")),
        .init(name: "b", store: try await SQLiteEventStore(path: "orders-b.sqlite")),
    ],
    configuration: PartitionedStoreConfiguration(key: .aggregateID))
// snippet.end
precondition(byAggregate.location(of: "order-7").member == byAggregate.location(of: "payment-7").member)

// snippet.hide
for order in 1...20 {
    try await store.append([EventMessage(messageName: "OrderPlaced")], to: StreamName("order-\(order + 100)"), expectedVersion: .noStream)
}
// snippet.show

// snippet.read
// Every member's order, merged by createdAt: each event once, with the composite position to resume after it.
let page = try await store.readAll(after: .start, limit: 100)
for merged in page.events {
    print(merged.member, merged.position, merged.event.streamName)
}
let resumeAfter = page.position  // its text reads like a=12,b=9
// snippet.end
precondition(page.events.count == 21 && page.unavailable.isEmpty)
precondition(Set(page.events.map(\.member)) == ["a", "b"], "the streams spread over both members")
precondition(CompositePosition(resumeAfter.description) == resumeAfter)

// snippet.move
// Move order-7's bucket to the other member: its streams are copied, then the map changes.
let (member, bucket) = store.location(of: "order-7")
let move = try await store.move(bucket: bucket, to: member == "a" ? "b" : "a")
print(move.streams, move.events, move.fenced)
try await store.append([EventMessage(messageName: "OrderPaid")], to: "order-7", expectedVersion: .exact(1))
// snippet.end
precondition(store.location(of: "order-7").member == move.to && move.events >= 1)
let later = try await store.readAll(after: resumeAfter, limit: 100)
precondition(later.events.map(\.event.messageName) == ["OrderPaid"], "the moved stream's copies are not read again")
let order7 = try await store.load("order-7").collect()
precondition(order7.map(\.messageName) == ["OrderPlaced", "OrderPaid"])

// snippet.hide
try? FileManager.default.removeItem(at: folder)
