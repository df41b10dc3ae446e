// snippet.hide
// A PostgreSQL store around a closure (the EventStorePostgres catalog's landing page). Needs a server:
// EVENTSTORE_POSTGRES_URL, as scripts/test exports it.
import EventStore
import EventStorePostgres
import Foundation
import Logging

guard let url = ProcessInfo.processInfo.environment["EVENTSTORE_POSTGRES_URL"], !url.isEmpty else {
    fatalError("PostgresWithStore needs a PostgreSQL server: set EVENTSTORE_POSTGRES_URL (scripts/postgres start prints one)")
}
let logger = Logger(label: "snippet")
let stream = try StreamName("user-\(UUID().uuidString.lowercased())")
let events = [EventMessage(messageName: "UserRenamed", payload: ["name": "Ada"])]
// snippet.show

// snippet.withStore
var configuration = try PostgresConfiguration(url: url)  // postgres://app:secret@127.0.0.1:5432/events?sslmode=prefer
configuration.tablePrefix = "snippets_"                  // tables of their own in a shared database
let result = try await PostgresEventStore.withStore(configuration: configuration, logger: logger) { store in
    try await store.append(events, to: stream, expectedVersion: .noStream)
}
// snippet.end
precondition(result.streamVersion == 1, "the stream is at version \(result.streamVersion), not 1")
precondition(result.lastGlobalPosition != nil, "an append of one event reported no global position")
print("PostgresWithStore: ok")
