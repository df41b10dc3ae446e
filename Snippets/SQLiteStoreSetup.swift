// snippet.hide
// Opening and configuring a SQLite store (the EventStoreSQLite catalog: landing page and Configuration).
import EventStore
import EventStoreSQLite
import Foundation

// Run in a temporary folder of its own, so that the relative paths below land there.
let folder = FileManager.default.temporaryDirectory.appendingPathComponent("SQLiteStoreSetup-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
precondition(FileManager.default.changeCurrentDirectoryPath(folder.path), "cannot enter \(folder.path)")
// snippet.show

// snippet.open
let store = try await SQLiteEventStore(path: "./eventstore.sqlite")
try await store.append([EventMessage(messageName: "UserRegistered", payload: ["name": "Ada"])],
                       to: "user-1", expectedVersion: .noStream)
// snippet.end
let loaded = try await store.load("user-1").collect()
precondition(loaded.count == 1 && loaded[0].messageName == "UserRegistered")

// snippet.configure
var configuration = SQLiteConfiguration(path: "./eventstore.sqlite")
configuration.synchronous = .full          // the default: an acknowledged append survives power loss
configuration.busyTimeout = .seconds(5)    // the default: how long a writer waits for another one
configuration.tablePrefix = "billing_"     // several stores in one file
configuration.readerCount = 2              // read connections beside the one writer
configuration.readBatchSize = 1000         // events per page of a load
let billing = try await SQLiteEventStore(configuration: configuration)
// snippet.end

// The two stores share the file, each in tables of its own.
try await billing.append([EventMessage(messageName: "InvoiceIssued")], to: "invoice-1", expectedVersion: .noStream)
let billingHasInvoice = try await billing.hasStream("invoice-1")
let billingHasUser = try await billing.hasStream("user-1")
let storeHasInvoice = try await store.hasStream("invoice-1")
precondition(billingHasInvoice && !billingHasUser && !storeHasInvoice)

// snippet.url
let fromURL = try SQLiteConfiguration(url: "sqlite:./eventstore.sqlite?synchronous=normal&busy_timeout_ms=10000&table_prefix=audit_")
// fromURL.synchronous == .normal, fromURL.busyTimeout == .seconds(10), fromURL.tablePrefix == "audit_"
// snippet.end
precondition(fromURL.path == "./eventstore.sqlite")
precondition(fromURL.synchronous == .normal)
precondition(fromURL.busyTimeout == .seconds(10))
precondition(fromURL.tablePrefix == "audit_")

// snippet.close
await store.close()
do {
    _ = try await store.load("user-1").collect()
    preconditionFailure("a closed store answered")
} catch let error as EventStoreError {
    precondition(error.code == .backend)    // every call after close() fails with `backend`
}
// snippet.end
await billing.close()

// snippet.hide
try FileManager.default.removeItem(at: folder)
print("SQLiteStoreSetup: ok")
