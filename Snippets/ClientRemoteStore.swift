// A store served by `eventstore serve`, used through EventStoreClient as a local one.
import EventStore
import EventStoreClient
// snippet.hide
import EventStoreHTTP
import Hummingbird
import Logging
import NIOCore

// What `eventstore serve --token s3cret` does, in this process: the HTTP API over an in-memory store, on a
// free loopback port.
func serve(_ served: any EventStore, token: String) async throws -> (url: String, server: Task<Void, any Error>) {
    var configuration = EventStoreHTTPConfiguration()
    configuration.tokens = [token]
    var logger = Logger(label: "snippet.server")
    logger.logLevel = .critical
    let (ports, port) = AsyncStream.makeStream(of: Int.self)
    let app = Application(
        router: EventStoreHTTPServer.router(store: served, configuration: configuration),
        configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { channel in port.yield(channel.localAddress?.port ?? 0) },
        logger: logger)
    let server = Task {
        defer { port.finish() }
        try await app.run()
    }
    for await number in ports where number > 0 { return ("http://127.0.0.1:\(number)", server) }
    let outcome = await server.result
    throw EventStoreError.backend("the server did not start: \(outcome)")
}

let (url, server) = try await serve(InMemoryEventStore(), token: "s3cret")
// snippet.show

// snippet.connect
let store = try EventStoreClient(url: url, configuration: .init(token: "s3cret"))  // url: "https://events.example.com"
// snippet.end

// snippet.use
try await store.append([EventMessage(messageName: "UserRegistered", payload: ["name": "Alice"])],
                       to: "user-1", expectedVersion: .noStream)
for try await event in try await store.load("user-1") { print(event.position, event.messageName) }
for try await event in store.follow(.category("user")) {
    print(event.globalPosition, event.streamName)
    // snippet.hide
    precondition(event.streamName == "user-1" && event.messageName == "UserRegistered")
    break
    // snippet.show
}
// snippet.end

// snippet.hide
let loaded = try await store.load("user-1").collect()
precondition(loaded.map(\.messageName) == ["UserRegistered"] && loaded[0].position == 1)
// snippet.show

// snippet.errors
do {
    try await store.append([EventMessage(messageName: "UserRenamed")], to: "user-1", expectedVersion: .exact(4))
    // snippet.hide
    preconditionFailure("an append with a wrong expected version was kept")
    // snippet.show
} catch let error as EventStoreError where error.code == .wrongExpectedVersion {
    print("user-1 is at version \(error.actualVersion ?? 0)")  // 1: the server's 409, with its versions
    // snippet.hide
    precondition(error.actualVersion == 1 && error.expectedVersion == .exact(4))
    // snippet.show
}
// snippet.end

// snippet.transaction
// One request (POST /append) when the body returns: both writes are kept, or neither.
let renamed = try await store.transaction { transaction in
    try await transaction.create("user-2", metadata: [:], events: [EventMessage(messageName: "UserRegistered")])
    return try await transaction.append(
        [EventMessage(messageName: "UserRenamed", payload: ["name": "Alicia"])], to: "user-1", expectedVersion: .exact(1))
}
print(renamed.streamVersion)  // 2: the version the exact expected version tells
// snippet.end
// snippet.hide
precondition(renamed.streamVersion == 2)
let hasSecond = try await store.hasStream("user-2")
precondition(hasSecond)
// snippet.show

// snippet.shutdown
try await store.shutdown()
// snippet.end
// snippet.hide
server.cancel()
