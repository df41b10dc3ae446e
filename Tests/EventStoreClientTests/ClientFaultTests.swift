import EventStore
import EventStoreClient
import EventStoreHTTP
import EventStoreSQLite
import EventStoreTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing

/// `Tests/Fixtures/cutting-proxy.py`: a TCP proxy that loses a server's answer, or every connection, when told.
final class CuttingProxy: Sendable {
    let process: Process
    /// What the proxy printed: its port, then a line per cut.
    private let output = Mutex("")

    private init(process: Process) { self.process = process }

    /// The port the proxy listens on.
    var port: Int { output.withLock { text in text.split(separator: "\n").first.flatMap { Int($0) } ?? 0 } }

    /// Starts the proxy in front of `target` on 127.0.0.1.
    static func start(to target: Int) async throws -> CuttingProxy {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/cutting-proxy.py").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script, String(target)]
        process.standardInput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let pipe = Pipe()
        process.standardOutput = pipe
        let proxy = CuttingProxy(process: process)
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil }
            proxy.output.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }
        try ProcessLaunch.run(process)
        let deadline = ContinuousClock.now + .seconds(10)
        while proxy.port == 0 || !proxy.output.withLock({ $0.contains("\n") }) {
            guard ContinuousClock.now < deadline, process.isRunning else {
                process.terminate()
                throw EventStoreError.backend("the cutting proxy did not start")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return proxy
    }

    /// The answer the server sends next, on any connection, is lost and its connection closed.
    func loseTheNextAnswer() { kill(process.processIdentifier, SIGUSR1) }

    /// Closes every open connection now.
    func closeEveryConnection() { kill(process.processIdentifier, SIGUSR2) }

    /// How many connections the proxy has cut.
    var cuts: Int { output.withLock { $0.split(separator: "\n").filter { $0.hasPrefix("cut ") }.count } }

    /// Waits until the proxy has cut `count` connections in all.
    func waitForCuts(_ count: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while cuts < count {
            guard ContinuousClock.now < deadline else { throw EventStoreError.backend("the proxy cut \(cuts) connections, not \(count)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Ends the proxy at once (SIGKILL), without waiting for it on the caller's thread.
    func stop() {
        kill(process.processIdentifier, SIGKILL)
    }
}

/// A live server over a fresh SQLite file, a cutting proxy in front of it, and a client that goes through the
/// proxy (and the store, to look behind the client's back).
func withClientThroughProxy(
    configure: (inout EventStoreClientConfiguration) -> Void = { _ in },
    _ body: @Sendable (EventStoreClient, CuttingProxy, SQLiteEventStore) async throws -> Void
) async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("es-client-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let store = try await SQLiteEventStore(path: directory.appendingPathComponent("events.sqlite").path)
    var logger = Logger(label: "eventstore.tests.client")
    logger.logLevel = .critical
    let app = try EventStoreHTTPServer.application(store: store, host: "127.0.0.1", port: 0, logger: logger)
    var configuration = EventStoreClientConfiguration()
    configuration.requestTimeout = .seconds(10)
    configure(&configuration)
    let settings = configuration
    let result = await Result {
        try await app.test(.live) { server in
            let proxy = try await CuttingProxy.start(to: try #require(server.port))
            defer { proxy.stop() }
            let client = try EventStoreClient(url: "http://127.0.0.1:\(proxy.port)", configuration: settings)
            let outcome = await Result { try await body(client, proxy, store) }
            try await client.shutdown()
            try outcome.get()
        }
    }
    await store.close()
    try result.get()
}

@Suite("EventStoreClient faults", .watchdog())
struct ClientFaultTests {
    /// The guarantee retries rest on: an append whose answer is lost after the store kept it is sent again
    /// with the same uuids, and the store answers it with the first append's result; the events are kept
    /// once. A create is not tried again (a second try would fail on the stream the first made): its caller
    /// hears that the outcome is unknown, never a failure that did not happen.
    @Test func anAppendWhoseAnswerIsLostIsTriedAgainAndKeptOnce() async throws {
        try await withClientThroughProxy { client, proxy, store in
            try await client.create("lost-1", events: [EventMessage(messageName: "Opened")])
            let events = [EventMessage(messageName: "Added"), EventMessage(messageName: "Added")]
            proxy.loseTheNextAnswer()
            let result = try await client.append(events, to: "lost-1", expectedVersion: .exact(1))
            #expect(proxy.cuts == 1, "the first answer was lost")
            #expect(result.streamVersion == 3)
            let stored = try await store.load("lost-1").collect()
            #expect(stored.map(\.uuid) == [stored[0].uuid] + events.map(\.uuid))
            #expect(result.lastGlobalPosition == stored.last?.globalPosition)

            proxy.loseTheNextAnswer()
            let error = await #expect(throws: EventStoreError.self) {
                try await client.create("lost-2", events: [EventMessage(messageName: "Opened")])
            }
            #expect(proxy.cuts == 2)
            #expect(error?.code == .backend)
            #expect(error?.reason.contains("outcome is unknown") == true, "\(String(describing: error))")
            #expect(try await store.hasStream("lost-2"), "the create was kept, though its answer was lost")
        }
    }

    /// An event stream whose connection drops opens again with `Last-Event-ID`: every event is delivered once,
    /// in order, across the cut.
    @Test func aFollowedStreamResumesAfterADroppedConnectionWithoutSkippingOrRepeating() async throws {
        try await withClientThroughProxy { client, proxy, _ in
            try await client.create("follow-1", events: (1...3).map { _ in EventMessage(messageName: "Before") })
            // A stream that never opens again would wait for ever: the wait has a limit.
            let delivered = try await within(.seconds(60), "the followed stream delivers six events across the cut") {
                var events = client.follow(.stream("follow-1")).makeAsyncIterator()
                var delivered: [RecordedEvent] = []
                for _ in 0..<3 { delivered.append(try #require(try await events.next())) }
                proxy.closeEveryConnection()
                try await proxy.waitForCuts(1)
                try await client.append((1...3).map { _ in EventMessage(messageName: "After") }, to: "follow-1")
                for _ in 0..<3 { delivered.append(try #require(try await events.next())) }
                return delivered
            }
            #expect(delivered.map(\.position) == Array(1...6))
            #expect(delivered.map(\.messageName) == ["Before", "Before", "Before", "After", "After", "After"])
            #expect(Set(delivered.map(\.uuid)).count == 6)
            let loaded = try await client.load("follow-1").collect()
            #expect(delivered == loaded)
        }
    }

    /// A transient error that ends an event stream (an `event: error` frame naming `backend`, as a server whose
    /// database fails over would send, or naming no code) is waited out: the stream opens again after the last
    /// event delivered, and nothing is skipped or repeated. Any other error of a frame ends the sequence with
    /// it. (A transient frame ended the sequence, though the iterator's documentation said it was waited out.)
    /// The server is a scripted one: the real server's subscriptions retry transient failures themselves.
    @Test func aTransientErrorFrameIsWaitedOutAndAnyOtherEndsTheSequence() async throws {
        let events = [1, 2].map {
            RecordedEvent(
                streamName: "frame-1", position: $0, globalPosition: GlobalPosition(sequence: Int64($0)),
                message: EventMessage(messageName: "Event \($0)"))
        }
        func frame(_ event: RecordedEvent) -> String {
            "id: \(event.globalPosition)\nevent: \(event.messageName)\ndata: \(EventJSON.line(for: event, includeStream: true))\n\n"
        }
        let scripted = [
            frame(events[0]) + "event: error\ndata: {\"title\":\"Service Unavailable\",\"status\":503,\"code\":\"backend\",\"detail\":\"failing over\"}\n\n",
            "event: error\ndata: {\"title\":\"Internal Server Error\",\"status\":500}\n\n",
            frame(events[1]) + "event: error\ndata: {\"title\":\"Bad Request\",\"status\":400,\"code\":\"invalid_argument\",\"detail\":\"refused\"}\n\n",
        ]
        // Each request's `Last-Event-ID`.
        let requests = Mutex<[String?]>([])
        let router = Router()
        router.get("/subscribe/all") { request, _ -> Response in
            let index = requests.withLock { requests in
                requests.append(request.headers.first { $0.name.canonicalName == "last-event-id" }?.value)
                return requests.count - 1
            }
            let body = index < scripted.count ? scripted[index] : ": nothing more\n\n"
            return Response(status: .ok, headers: [.contentType: "text/event-stream"], body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
        }
        try await withScriptedServer(router) { client in
            try await within(.seconds(60), "the followed stream ends") {
                var iterator = client.follow(.all).makeAsyncIterator()
                var delivered: [RecordedEvent] = []
                do {
                    while let event = try await iterator.next() { delivered.append(event) }
                    Issue.record("the sequence ended without an error")
                } catch let error as EventStoreError {
                    #expect(error.code == .invalidArgument && error.reason == "refused", "\(error)")
                }
                #expect(delivered.map(\.uuid) == events.map(\.uuid))
            }
        }
        #expect(requests.withLock { $0 } == [nil, "1", "1"])
    }

    /// A scavenge result whose counts are not whole numbers is a `corrupt` answer (it was read as 0).
    @Test func aScavengeResultThatIsNotTwoCountsIsCorrupt() async throws {
        let answers = Mutex(["{\"streams\":1.5,\"events\":2}", "{\"streams\":1,\"events\":-2}", "{\"streams\":3,\"events\":7}"])
        let router = Router()
        router.post("/scavenge") { _, _ -> Response in
            let answer = answers.withLock { $0.removeFirst() }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: answer)))
        }
        try await withScriptedServer(router) { client in
            for _ in 0..<2 {
                let error = await #expect(throws: EventStoreError.self) { try await client.scavenge() }
                #expect(error?.code == .corrupt, "\(String(describing: error))")
            }
            let result = try await client.scavenge()
            #expect(result.streams == 3 && result.events == 7)
        }
    }

    /// Runs `body` with a client of a real HTTP server that answers as `router` scripts it (for answers the
    /// store's server never gives).
    private func withScriptedServer(_ router: Router<BasicRequestContext>, _ body: @Sendable (EventStoreClient) async throws -> Void)
        async throws
    {
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { server in
            var configuration = EventStoreClientConfiguration()
            configuration.retryDelay = .milliseconds(10)
            let client = try EventStoreClient(url: "http://127.0.0.1:\(try #require(server.port))", configuration: configuration)
            let outcome = await Result { try await body(client) }
            try await client.shutdown()
            try outcome.get()
        }
    }

    /// A request to a server that is not there fails within its tries, as a transient `backend` error: a
    /// refused connection fails its try at once, and no try waits for the request's deadline (120 s here).
    /// The bound is half of that: alone the test takes milliseconds, but a full run's load once stretched it
    /// to 14 s.
    @Test func aServerThatIsNotThereIsABackendErrorWithinTheRetries() async throws {
        var configuration = EventStoreClientConfiguration()
        configuration.retries = 2
        configuration.retryDelay = .milliseconds(10)
        configuration.connectTimeout = .seconds(1)
        configuration.requestTimeout = .seconds(120)
        try await LocalPort.withRefusingPort { port in
            let client = try EventStoreClient(url: "http://127.0.0.1:\(port)", configuration: configuration)
            let started = ContinuousClock.now
            let error = await #expect(throws: EventStoreError.self) { try await client.hasStream("nowhere") }
            #expect(error?.code == .backend)
            #expect(error?.code.isTransient == true)
            #expect(ContinuousClock.now - started < .seconds(60))
            try await client.shutdown()
        }
    }

}

@Suite("EventStoreClient errors and tokens", .watchdog())
struct ClientErrorTests {
    /// A refused token is an error that says so; a conflict comes back with its stream and versions.
    @Test func errorsComeBackAsTheStoreThrewThem() async throws {
        try await withClient(of: .memory) { client in
            try await client.create("conflict-1", events: [EventMessage(messageName: "A")])
            let conflict = await #expect(throws: EventStoreError.self) {
                try await client.append([EventMessage(messageName: "B")], to: "conflict-1", expectedVersion: .exact(4))
            }
            #expect(conflict?.code == .wrongExpectedVersion)
            #expect(conflict?.streamName == "conflict-1")
            #expect(conflict?.expectedVersion == .exact(4))
            #expect(conflict?.actualVersion == 1)
            let missing = await #expect(throws: EventStoreError.self) { try await client.streamMetadata(of: "missing-1") }
            #expect(missing?.code == .streamNotFound)
            #expect(missing?.streamName == "missing-1")
            try await client.delete("conflict-1", mode: .hard)
            let gone = await #expect(throws: EventStoreError.self) { try await client.load("conflict-1") }
            #expect(gone?.code == .streamDeleted)
        }
    }

    @Test func aClientWithoutTheServersTokenIsRefused() async throws {
        var server = EventStoreHTTPConfiguration()
        server.tokens = ["right"]
        var logger = Logger(label: "eventstore.tests.client")
        logger.logLevel = .critical
        let app = try EventStoreHTTPServer.application(
            store: InMemoryEventStore(), host: "127.0.0.1", port: 0, configuration: server, logger: logger)
        try await app.test(.live) { testClient in
            let port = try #require(testClient.port)
            for token in [nil, "wrong"] as [String?] {
                let client = try EventStoreClient(url: "http://127.0.0.1:\(port)", configuration: .init(token: token))
                let error = await #expect(throws: EventStoreError.self) { try await client.hasStream("any-1") }
                #expect(error?.reason.contains("refused the token") == true, "\(String(describing: error))")
                try await client.shutdown()
            }
            let client = try EventStoreClient(url: "http://127.0.0.1:\(port)/", configuration: .init(token: "right"))
            #expect(try await client.hasStream("any-1") == false)
            try await client.shutdown()
        }
    }
}
