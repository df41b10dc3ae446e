// snippet.hide
// Opening a MySQL or MariaDB store (the EventStoreMySQL catalog's landing page). Needs the package trait
// MySQL (`--traits MySQL`) and a server: EVENTSTORE_MYSQL_URL, as scripts/test exports it.
import EventStore
import EventStoreMySQL
import Foundation

#if MySQL
guard let url = ProcessInfo.processInfo.environment["EVENTSTORE_MYSQL_URL"], !url.isEmpty else {
    fatalError("MySQLOpenStore needs a MariaDB or MySQL server: set EVENTSTORE_MYSQL_URL (scripts/mariadb start prints one)")
}
let stream = try StreamName("user-\(UUID().uuidString.lowercased())")
// snippet.show

// snippet.open
let store = try await MySQLEventStore(configuration: try MySQLConfiguration(url: url))  // mariadb://app:secret@127.0.0.1:3306/events
try await store.append([EventMessage(messageName: "UserRegistered", payload: ["name": "Ada"])],
                       to: stream, expectedVersion: .noStream)
// snippet.end
let loaded = try await store.load(stream).collect()
precondition(loaded.count == 1 && loaded[0].messageName == "UserRegistered", "the appended event did not read back")
await store.close()
print("MySQLOpenStore: ok")
// snippet.hide
#else
fatalError("MySQLOpenStore needs the package trait MySQL: swift build --traits MySQL (and libmariadb-dev)")
#endif
