// Action events: metadata enrichers, upcasters and listeners around any store.
import EventStore
import Synchronization

// snippet.hide
/// The failures an audit listener saw.
final class AuditLog: Sendable {
    private let entries = Mutex<[String]>([])
    func record(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.withLock { $0 } }
}
let auditLog = AuditLog()
// snippet.show

// snippet.plugins
/// The command being handled, for the enricher to read.
enum Command {
    @TaskLocal static var id = "none"
}

let store = ActionEventEmitterEventStore(InMemoryEventStore())

// Metadata enrichers: run before every create and append (priority 1000).
store.attach(MetadataEnricherPlugin([
    ClosureMetadataEnricher { $0.withAddedMetadata("tenant", "acme") },
    ClosureMetadataEnricher { $0.withAddedMetadata("_causation_id", .string(Command.id)) },
]))

// Upcasting: run after every load and loadReverse (priority -1000); one event in, zero or more out,
// each keeping the position of the event it came from.
store.attach(UpcastingPlugin(ClosureUpcaster { event in
    guard event.messageName == "UserRegistered.v1" else { return [event.message] }
    var message = event.message
    message.messageName = "UserRegistered"
    return [message]
}))

// Any listener: audit every append after the store ran.
let audit = store.attach(.append, priority: -10) { event in
    if case .failure(let error)? = event.result { auditLog.record("append failed: \(error)") }
}
// snippet.end

// snippet.effects
try await Command.$id.withValue("command-7") {
    try await store.create("user-1", events: [EventMessage(messageName: "UserRegistered.v1", payload: ["name": "Ada"])])
}
let loaded = try await store.load("user-1").collect()[0]
precondition(loaded.messageName == "UserRegistered")  // upcast as it is read
precondition(loaded.metadata["tenant"] == "acme" && loaded.metadata["_causation_id"] == "command-7")
let stored = try await store.innerStore.load("user-1").collect()[0]
precondition(stored.messageName == "UserRegistered.v1")  // stored as it was written

do {
    try await store.append(EventMessage(messageName: "UserRenamed"), to: "user-1", expectedVersion: .exact(0))
    preconditionFailure("the stream is at version 1")
} catch let error as EventStoreError where error.code == .wrongExpectedVersion {}
precondition(auditLog.all.count == 1)

let detached = store.detach(audit)
precondition(detached)
// snippet.end

// snippet.stop
// A listener above 0 runs before the store and may stop it: a stopped delete deletes nothing.
let guarding = store.attach(.delete, priority: 10) { event in
    if event.input.stream.category == "user" { event.stopPropagation() }
}
try await store.delete("user-1")
let kept = try await store.hasStream("user-1")
precondition(kept)
store.detach(guarding)

// Only the reads, for code that must not write.
let reader = ReadOnlyEventStoreWrapper(store)
let names = try await reader.streamNames()
precondition(names == ["user-1"])
// snippet.end
