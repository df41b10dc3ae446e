import AsyncHTTPClient
import EventStore
import EventStoreHTTP
import EventStoreSQLite
import EventStoreTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOPosix
import Prometheus
import Testing

/// What the API stores is what was sent, its wire formats cannot be broken by data, and its tokens hold.
@Suite("HTTP API integrity", .watchdog())
struct HTTPIntegrityTests {
    /// A body that is not UTF-8 is a 400 and stores nothing (it was decoded with repair, and U+FFFD stored).
    @Test func aBodyThatIsNotUTF8IsRefusedAndNothingIsStored() async throws {
        try await withServer { client, store in
            var body = ByteBuffer(string: "[{\"message_name\":\"A\",\"payload\":{\"s\":\"")
            body.writeBytes([0xFF, 0xC3, 0x28])
            body.writeString("\"}}]")
            let posted = try await client.execute(uri: "/stream/utf-1", method: .post, headers: sendJSON, body: body)
            try expectProblem(posted, .badRequest)
            #expect(try await store.hasStream("utf-1") == false)
            var metadataBody = ByteBuffer(string: "{\"s\":\"")
            metadataBody.writeBytes([0xED, 0xA0, 0x80])  // an encoded surrogate: not UTF-8
            metadataBody.writeString("\"}")
            try await store.create("utf-2")
            let metadata = try await client.execute(uri: "/streammetadata/utf-2", method: .post, headers: sendJSON, body: metadataBody)
            try expectProblem(metadata, .badRequest)
            #expect(try await store.streamMetadata(of: "utf-2").isEmpty)
        }
    }

    /// A leading byte order mark is ignored; a key given twice, in an event or its metadata, is a 400; a
    /// payload deeper than the limit every backend takes is a 400, one at the limit is stored.
    @Test func byteOrderMarksDuplicateKeysAndDeepPayloadsGetOneAnswer() async throws {
        try await withServer { client, store in
            var withMark = ByteBuffer(bytes: [0xEF, 0xBB, 0xBF])
            withMark.writeString("[{\"message_name\":\"Marked\"}]")
            let marked = try await client.execute(uri: "/stream/bom-1", method: .post, headers: sendJSON, body: withMark)
            #expect(marked.status == .noContent, "\(text(marked))")
            #expect(try await store.load("bom-1").collect().map(\.messageName) == ["Marked"])
            for body in [
                "[{\"message_name\":\"A\",\"message_name\":\"B\"}]",
                "[{\"message_name\":\"A\",\"metadata\":{\"k\":1,\"k\":2}}]",
                "[{\"message_name\":\"A\",\"payload\":" + String(repeating: "{\"a\":", count: Payload.maxDepth + 1) + "1"
                    + String(repeating: "}", count: Payload.maxDepth + 1) + "}]",
            ] {
                let posted = try await client.execute(uri: "/stream/dup-1", method: .post, headers: sendJSON, body: ByteBuffer(string: body))
                try expectProblem(posted, .badRequest)
            }
            #expect(try await store.hasStream("dup-1") == false)
            let deepest = String(repeating: "{\"a\":", count: Payload.maxDepth) + "1" + String(repeating: "}", count: Payload.maxDepth)
            let stored = try await client.execute(
                uri: "/stream/deep-1", method: .post, headers: sendJSON,
                body: ByteBuffer(string: "[{\"message_name\":\"A\",\"payload\":\(deepest)}]"))
            #expect(stored.status == .noContent, "\(text(stored))")
            #expect(try await store.load("deep-1").collect().map(\.payload.jsonText) == [deepest])
        }
    }

    /// A payload sent pretty-printed (LF, CRLF, lone CR) comes as one `data:` line per event to a client
    /// that parses Server-Sent Events as WHATWG says; a message name with a line break is refused, so no
    /// event field can set a client's `id:` (before: the payload split the frame, and a CR in a name set the
    /// client's last event id).
    @Test func serverSentEventsCarryOneEventPerFrameWhateverTheData() async throws {
        try await withServer { client, store in
            let port = try #require(client.port)
            let pretty = "[{\"message_name\":\"A\",\"payload\":{\n  \"a\": 1,\r\n  \"text\": \"line\\nbreak\\r\"\r}},{\"message_name\":\"B\"}]"
            let posted = try await client.execute(uri: "/stream/sse-p", method: .post, headers: sendJSON, body: ByteBuffer(string: pretty))
            #expect(posted.status == .noContent, "\(text(posted))")
            for name in ["X\rid: 999999999", "X\nid: 999999999", "X\r\nevent: Y"] {
                let body = "[{\"message_name\":" + JSONValue.string(name).jsonText + "}]"
                let injected = try await client.execute(uri: "/stream/sse-p", method: .post, headers: sendJSON, body: ByteBuffer(string: body))
                try expectProblem(injected, .badRequest)
            }
            try await store.append([EventMessage(messageName: "C", payload: try Payload(json: "{\r\"c\":\r\n[1,\n2]}"))], to: "sse-p")
            let events = try await readWHATWGEvents(port: port, path: "/subscribe/stream/sse-p", count: 3)
            #expect(events.map(\.type) == ["A", "B", "C"])
            let stored = try await store.load("sse-p").collect()
            #expect(events.map(\.lastEventID) == stored.map(\.globalPosition.description))
            for (event, recorded) in zip(events, stored) {
                let data = try #require(try JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any], "\(event.data)")
                let payload = try JSONSerialization.jsonObject(with: Data(recorded.payload.jsonText.utf8)) as? NSDictionary
                #expect((data["payload"] as? NSDictionary) == payload)
                #expect(data["message_name"] as? String == recorded.messageName)
            }
            // A read over HTTP keeps the payload byte for byte.
            let read = try await client.execute(uri: "/stream/sse-p/1/forward/3", method: .get, headers: acceptJSON)
            #expect(text(read).contains("\"payload\":{\n  \"a\": 1,\r\n"))
        }
    }

    /// Matcher values are percent-decoded once (Hummingbird does it); a `meta_…` key that is not a condition
    /// is a 400, never a filter silently dropped (before, a 20-digit N was skipped and every stream came back).
    @Test func matcherParametersAreDecodedOnceAndMalformedOnesAreRefused() async throws {
        try await withServer { client, store in
            try await store.create("enc-1", events: [EventMessage(messageName: "A", metadata: ["c": "a%41"])])
            try await store.create("enc-2", events: [EventMessage(messageName: "A", metadata: ["c": "aA"])])
            let once = try await client.execute(
                uri: "/stream/enc-1/1/forward/10?meta_0_field=c&meta_0_operator=%3D&meta_0_value=a%2541", method: .get, headers: acceptJSON)
            #expect(once.status == .ok)
            #expect((try jsonObject(once)["entries"] as? [Any])?.count == 1, "\(text(once))")
            let plain = try await client.execute(
                uri: "/stream/enc-2/1/forward/10?meta_0_field=c&meta_0_operator=%3D&meta_0_value=a%2541", method: .get, headers: acceptJSON)
            #expect((try jsonObject(plain)["entries"] as? [Any])?.count == 0, "\(text(plain))")
            try await store.create("tenant-1", metadata: ["tenant": "acme"])
            try await store.create("tenant-2", metadata: ["tenant": "other"])
            let n = "99999999999999999999"
            let long = try await client.execute(
                uri: "/streams?meta_\(n)_field=tenant&meta_\(n)_operator=%3D&meta_\(n)_value=acme", method: .get, headers: acceptJSON)
            #expect(text(long) == "[\"tenant-1\"]")
            for query in [
                "meta_x_field=tenant&meta_x_operator=%3D&meta_x_value=acme", "meta_0_fieldx=tenant", "meta__field=tenant",
                "meta_0_field=tenant&meta_0_field=other&meta_0_operator=%3D&meta_0_value=acme", "meta_0_field_x=tenant",
            ] {
                let refused = try await client.execute(uri: "/streams?\(query)", method: .get, headers: acceptJSON)
                try expectProblem(refused, .badRequest)
            }
        }
    }

    /// An empty token is never a token: with `tokens = [""]` a request with no header or an empty bearer
    /// gets 401 (before: "" was in the set, so every request was let in). The scheme is case-insensitive.
    @Test func anEmptyTokenLetsNobodyIn() async throws {
        var configuration = EventStoreHTTPConfiguration()
        configuration.tokens = [""]
        configuration.readOnlyTokens = [""]
        try await withServer(configuration: configuration) { client, store in
            try await store.create("guarded-1")
            for headers: HTTPFields in [[:], [.authorization: "Bearer "], [.authorization: "Bearer"], [.authorization: "bearer  "]] {
                let deleted = try await client.execute(uri: "/delete/guarded-1", method: .post, headers: headers)
                try expectProblem(deleted, .unauthorized)
                let read = try await client.execute(uri: "/streams", method: .get, headers: headers.merging(acceptJSON))
                try expectProblem(read, .unauthorized)
            }
            #expect(try await store.hasStream("guarded-1"))
        }
        configuration.tokens = ["s3cret"]
        configuration.readOnlyTokens = []
        try await withServer(configuration: configuration) { client, _ in
            for (header, status) in [("bearer s3cret", HTTPResponse.Status.ok), ("BEARER s3cret", .ok), ("Bearer s3cre", .unauthorized),
                ("Bearer s3cret2", .unauthorized), ("Basic s3cret", .unauthorized)]
            {
                let response = try await client.execute(uri: "/streams", method: .get, headers: [.authorization: header, .accept: "application/json"])
                #expect(response.status == status, "\(header)")
            }
        }
    }
}

extension HTTPIntegrityTests {
    /// A page of another site cannot write: form and plain-text bodies get 415 on every write, an `Origin`
    /// that is not the store's own (or allowed) gets 403; a client without `Origin` (not a browser) writes.
    /// Before, `POST /delete/user-1` with `Origin: https://evil.example` and `text/plain` deleted the stream.
    @Test func crossSiteWritesAreRefused() async throws {
        var configuration = EventStoreHTTPConfiguration()
        configuration.allowedOrigins = ["https://app.example"]
        configuration.publicBaseURL = "http://store.example:8080/"
        try await withServer(configuration: configuration) { client, store in
            try await store.create("user-1")
            for type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
                let posted = try await client.execute(uri: "/delete/user-1", method: .post, headers: [.contentType: type])
                try expectProblem(posted, .unsupportedMediaType)
            }
            let evil = try await client.execute(uri: "/delete/user-1", method: .post, headers: [.origin: "https://evil.example"])
            try expectProblem(evil, .forbidden)
            let reset = try await client.execute(uri: "/projection/reset/x", method: .post, headers: [.origin: "null"])
            try expectProblem(reset, .forbidden)
            #expect(try await store.hasStream("user-1"))
            // Reads from anywhere are left to tokens; the store's own origin and allowed ones may write.
            let read = try await client.execute(uri: "/streams", method: .get, headers: [.origin: "https://evil.example", .accept: "application/json"])
            #expect(read.status == .ok)
            let own = try await client.execute(
                uri: "/stream/user-1", method: .post, headers: [.origin: "http://store.example:8080", .contentType: "application/json"],
                body: events(["A"]))
            #expect(own.status == .noContent, "\(text(own))")
            let allowed = try await client.execute(uri: "/delete/user-1", method: .post, headers: [.origin: "https://APP.example"])
            #expect(allowed.status == .noContent, "\(text(allowed))")
        }
    }

    /// `_links` are made of the configured address, never of the request's `Host` header (which a client,
    /// or a page rebinding a domain to 127.0.0.1, chooses).
    @Test func linksUseTheConfiguredAddressNotTheHostHeader() async throws {
        var configuration = EventStoreHTTPConfiguration()
        configuration.publicBaseURL = "https://events.example.com/"
        try await withServer(configuration: configuration) { client, store in
            try await store.create("user-1", events: [EventMessage(messageName: "A")])
            let read = try await client.execute(
                uri: "/stream/user-1", method: .get, headers: [.accept: "application/json", HTTPField.Name("Host")!: "attacker.example"])
            #expect(text(read).contains("https://events.example.com/stream/user-1/"), "\(text(read))")
            #expect(!text(read).contains("attacker.example"))
        }
    }

    /// Caps: a listing `limit` above the maximum is a 400; Server-Sent-Events streams past the maximum get 503.
    @Test func listingLimitsAndEventStreamsAreCapped() async throws {
        var configuration = EventStoreHTTPConfiguration()
        configuration.maxListingLimit = 50
        configuration.maxSubscribers = 1
        try await withServer(configuration: configuration) { client, store in
            let port = try #require(client.port)
            let big = try await client.execute(uri: "/streams?limit=51", method: .get, headers: acceptJSON)
            try expectProblem(big, .badRequest)
            #expect(try await client.execute(uri: "/streams?limit=50", method: .get, headers: acceptJSON).status == .ok)
            try await store.create("sse-cap", events: [EventMessage(messageName: "A")])
            // The first stream stays open while the second is asked for (it has delivered its first event).
            let (opened, signal) = AsyncStream<Void>.makeStream()
            let first = Task {
                let response = try await HTTPClient.shared.execute(
                    HTTPClientRequest(url: "http://127.0.0.1:\(port)/subscribe/stream/sse-cap"), timeout: .seconds(30))
                var parser = WHATWGEventParser()
                for try await chunk in response.body {
                    parser.feed(Array(chunk.readableBytesView))
                    if parser.events.count >= 1 { signal.yield() }
                    if parser.events.count >= 2 { break }
                }
                return parser.events.map(\.type)
            }
            for await _ in opened { break }
            let second = try await HTTPClient.shared.execute(
                HTTPClientRequest(url: "http://127.0.0.1:\(port)/subscribe/stream/sse-cap"), timeout: .seconds(10))
            #expect(second.status == .serviceUnavailable)
            try await store.append([EventMessage(messageName: "B")], to: "sse-cap")
            #expect(try await first.value == ["A", "B"])
        }
    }

    /// A connection that sends nothing is closed at the idle timeout, so idle sockets cannot pile up (without
    /// the timeout the server kept one open for as long as its client did). The close is waited for 60 s:
    /// alone it comes after 0.5 s, but at the start of a CI run, with every suite starting on two cores, the
    /// test took up to 39 s, and once its 20 s bound passed first.
    @Test func anIdleConnectionIsClosedAtTheIdleTimeout() async throws {
        var configuration = EventStoreHTTPConfiguration()
        configuration.idleTimeout = .milliseconds(500)
        try await withServer(configuration: configuration) { client, _ in
            let port = try #require(client.port)
            Watchdog.step("open a connection and send nothing")
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: port).get()
            let closedByServer = try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    try await channel.closeFuture.get()
                    return true
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(60))
                    return false
                }
                let first = try await group.next() ?? false
                // Closing ends the other task's wait on the close future.
                if !first { try? await channel.close() }
                group.cancelAll()
                return first
            }
            #expect(closedByServer, "the server kept an idle connection open for 60 s")
        }
    }
}

extension HTTPFields {
    func merging(_ other: HTTPFields) -> HTTPFields {
        var copy = self
        copy.append(contentsOf: other)
        return copy
    }
}

/// An event as a WHATWG `EventSource` dispatches it.
struct WHATWGEvent: Sendable {
    var type: String
    var data: String
    var lastEventID: String
}

/// Reads `count` events the way the WHATWG HTML standard parses an event stream: a line ends at CRLF, LF or
/// a lone CR; `field: value` lines set `data` (appended, joined with LF), `event` and `id`; an empty line
/// dispatches an event that has data.
func readWHATWGEvents(port: Int, path: String, count: Int) async throws -> [WHATWGEvent] {
    Watchdog.step("read \(count) events from \(path) as an EventSource does")
    let request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
    #expect(response.status == .ok)
    var parser = WHATWGEventParser()
    for try await chunk in response.body {
        parser.feed(Array(chunk.readableBytesView))
        if parser.events.count >= count { return Array(parser.events.prefix(count)) }
    }
    return parser.events
}

struct WHATWGEventParser {
    private(set) var events: [WHATWGEvent] = []
    private var line: [UInt8] = []
    private var afterCR = false
    private var data = ""
    private var type = ""
    private var lastEventID = ""

    mutating func feed(_ bytes: [UInt8]) {
        for byte in bytes {
            if afterCR, byte == 0x0A {
                afterCR = false
                continue
            }
            afterCR = false
            if byte == 0x0A || byte == 0x0D {
                afterCR = byte == 0x0D
                process(String(decoding: line, as: UTF8.self))
                line.removeAll()
            } else {
                line.append(byte)
            }
        }
    }

    private mutating func process(_ line: String) {
        if line.isEmpty {
            if !data.isEmpty {
                events.append(WHATWGEvent(type: type.isEmpty ? "message" : type, data: String(data.dropLast()), lastEventID: lastEventID))
            }
            data = ""
            type = ""
            return
        }
        if line.hasPrefix(":") { return }
        let field: Substring
        var value: Substring
        if let colon = line.firstIndex(of: ":") {
            field = line[..<colon]
            value = line[line.index(after: colon)...]
            if value.hasPrefix(" ") { value = value.dropFirst() }
        } else {
            field = line[...]
            value = ""
        }
        switch field {
        case "data": data += value + "\n"
        case "event": type = String(value)
        case "id" where !value.contains("\u{0}"): lastEventID = String(value)
        default: break
        }
    }
}

@Suite("HTTP event streams that fail", .watchdog())
struct HTTPEventStreamFailureTests {
    /// A live server with `configuration` over a fresh SQLite file, which `prepare` fills first (given the
    /// store and the file's path); `body` gets the server's port.
    static func withServer(
        _ configuration: EventStoreHTTPConfiguration, prepare: (SQLiteEventStore, String) async throws -> Void,
        _ body: @Sendable (Int) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("es-http-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("events.sqlite").path
        let store = try await SQLiteEventStore(path: path)
        try await prepare(store, path)
        var logger = Logger(label: "eventstore.tests.http")
        logger.logLevel = .critical
        let app = try EventStoreHTTPServer.application(store: store, host: "127.0.0.1", port: 0, configuration: configuration, logger: logger)
        try await app.test(.live) { client in try await body(try #require(client.port)) }
        await store.close()
    }

    /// Review B19(b): an error that ends a subscription (here a stored event that cannot be read) ended
    /// nothing: the stream went on with keep-alives only. It now ends with an `event: error` frame holding
    /// a problem document.
    @Test func aSubscriptionThatFailsEndsItsStreamWithAnErrorEvent() async throws {
        var configuration = EventStoreHTTPConfiguration()
        configuration.heartbeatInterval = .milliseconds(100)
        try await Self.withServer(configuration) { store, path in
            try await store.create("broken-1", events: [EventMessage(messageName: "A"), EventMessage(messageName: "B")])
            try await SQLShell.sqlite(path).run("UPDATE events SET metadata = '{\"nested\":{\"a\":1}}' WHERE position = 2")
        } _: { port in
            Watchdog.step("read the failing event stream to its end")
            let response = try await HTTPClient.shared.execute(
                HTTPClientRequest(url: "http://127.0.0.1:\(port)/subscribe/stream/broken-1"), timeout: .seconds(20))
            var body = ""
            // The stream ends: collecting it returns (before, it never did).
            for try await chunk in response.body { body += String(buffer: chunk) }
            // The page holding the broken event fails as a whole: nothing after it is sent.
            #expect(!body.contains("event: B\n"))
            let frame = try #require(body.components(separatedBy: "event: error\ndata: ").last?.components(separatedBy: "\n").first)
            let problem = try #require(try JSONSerialization.jsonObject(with: Data(frame.utf8)) as? [String: Any], "\(body)")
            #expect(problem["status"] as? Int == 500, "\(problem)")
        }
    }
}

extension HTTPEventStreamFailureTests {
    /// Review B19(a): a client that stops reading held its stream open for ever (writes wait for the client,
    /// and there was no write timeout), and with it the server's shutdown. Past `eventStreamWriteTimeout` the
    /// server now closes the connection: a client that reads again finds its end.
    @Test func aClientThatStopsReadingIsDisconnectedAtTheWriteTimeout() async throws {
        var configuration = EventStoreHTTPConfiguration()
        configuration.eventStreamWriteTimeout = .seconds(1)
        let registry = PrometheusCollectorRegistry()
        configuration.metricsRegistry = registry
        try await Self.withServer(configuration) { store, _ in
            let filler = String(repeating: "x", count: 4000)
            for batch in 0..<20 {
                let events = (0..<100).map { _ in EventMessage(messageName: "Big", payload: ["filler": .string(filler)]) }
                try await store.create(try StreamName("big-\(batch)"), events: events)
            }
        } _: { port in
            let socket = try StalledClient(port: port, request: "GET /subscribe/all HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            defer { socket.close() }
            // Reading would unblock the server's write: read nothing until the server counts the stream as
            // stalled (8 MB fill every buffer between the two, however slowly a loaded machine produces them).
            Watchdog.step("read nothing of an event stream of 8 MB until the server closes it")
            let deadline = ContinuousClock.now + .seconds(120)
            while !Self.metrics(of: registry).contains("eventstore_event_streams_stalled_total 1"), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(Self.metrics(of: registry).contains("eventstore_event_streams_stalled_total 1"))
            Watchdog.step("read the stream to its end")
            let ended = await socket.readsToEnd(within: .seconds(30))
            #expect(ended, "the server kept the stream of a client that stopped reading open")
        }
    }
}

extension HTTPEventStreamFailureTests {
    static func metrics(of registry: PrometheusCollectorRegistry) -> String {
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}
