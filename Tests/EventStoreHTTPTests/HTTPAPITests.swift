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
import Prometheus
import Synchronization
import Testing

/// A live server on a loopback port, over a fresh SQLite file, hit by a real HTTP client.
func withServer<T: Sendable>(
    configuration: EventStoreHTTPConfiguration = EventStoreHTTPConfiguration(), telemetry: EventStoreTelemetry = EventStoreTelemetry(),
    _ body: @Sendable (any TestClientProtocol, SQLiteEventStore) async throws -> T
) async throws -> T {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("es-http-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let store = try await SQLiteEventStore(
        configuration: SQLiteConfiguration(path: directory.appendingPathComponent("events.sqlite").path), telemetry: telemetry)
    var logger = Logger(label: "eventstore.tests.http")
    logger.logLevel = .warning
    let app = try EventStoreHTTPServer.application(store: store, host: "127.0.0.1", port: 0, configuration: configuration, logger: logger)
    return try await app.test(.live) { client in try await body(client, store) }
}

let acceptJSON: HTTPFields = [.accept: "application/json"]
let sendJSON: HTTPFields = [.contentType: "application/json"]

func text(_ response: TestResponse) -> String { String(buffer: response.body) }

func jsonObject(_ response: TestResponse) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
}

func events(_ names: [String], versions: [Int]? = nil) -> ByteBuffer {
    let items = names.enumerated().map { index, name in
        let version = versions.map { ",\"metadata\":{\"_aggregate_version\":\($0[index])}" } ?? ""
        return "{\"message_name\":\"\(name)\",\"payload\":{\"i\":\(index)}\(version)}"
    }
    return ByteBuffer(string: "[" + items.joined(separator: ",") + "]")
}

func expectProblem(_ response: TestResponse, _ status: HTTPResponse.Status, sourceLocation: SourceLocation = #_sourceLocation) throws {
    #expect(response.status == status, "\(text(response))", sourceLocation: sourceLocation)
    #expect(response.headers[.contentType] == "application/problem+json", sourceLocation: sourceLocation)
    let body = try jsonObject(response)
    #expect(body["status"] as? Int == Int(status.code), sourceLocation: sourceLocation)
    #expect(body["title"] is String, sourceLocation: sourceLocation)
}

@Suite("HTTP API", .watchdog())
struct HTTPAPITests {
    @Test func readingWithoutAnAcceptHeaderGivesTheDescriptionDocument() async throws {
        try await withServer { client, _ in
            let response = try await client.execute(uri: "/stream/teststream", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/vnd.eventstore.streamdesc+json; charset=utf-8")
            #expect(try jsonObject(response)["title"] as? String == "Description document for 'teststream'")
        }
    }

    @Test func postingAndReadingAStreamWithLinksAndMatchers() async throws {
        try await withServer { client, _ in
            let posted = try await client.execute(
                uri: "/stream/teststream", method: .post, headers: [.contentType: "application/vnd.eventstore.atom+json"],
                body: events(["UserCreated", "UsernameChanged", "UsernameChanged"], versions: [1, 2, 3]))
            #expect(posted.status == .noContent)
            #expect(posted.headers[HTTPField.Name("ES-StreamVersion")!] == "3")

            let page = try await client.execute(uri: "/stream/teststream", method: .get, headers: acceptJSON)
            #expect(page.status == .ok)
            let body = try jsonObject(page)
            #expect((body["id"] as? String)?.hasSuffix("/stream/teststream/1/forward/10") == true)
            #expect(body["streamName"] as? String == "teststream")
            let links = try #require(body["_links"] as? [[String: String]])
            #expect(links.map { $0["relation"] ?? "" } == ["self", "first", "last"])
            #expect(links[2]["uri"]?.hasSuffix("/stream/teststream/head/backward/10") == true)
            let entries = try #require(body["entries"] as? [[String: Any]])
            #expect(entries.count == 3)
            #expect(entries[0]["message_name"] as? String == "UserCreated")
            #expect((entries[0]["metadata"] as? [String: Any])?["_position"] as? Int == 1)
            #expect((entries[0]["created_at"] as? String)?.count == 26)

            let one = try jsonObject(try await client.execute(uri: "/stream/teststream/2/forward/1", method: .get, headers: acceptJSON))
            #expect((one["entries"] as? [Any])?.count == 1)
            let oneLinks = try #require(one["_links"] as? [[String: String]])
            #expect(oneLinks.contains { $0["relation"] == "next" && $0["uri"]?.hasSuffix("/stream/teststream/3/forward/1") == true })
            #expect(oneLinks.contains { $0["relation"] == "previous" && $0["uri"]?.hasSuffix("/stream/teststream/1/backward/1") == true })

            let matched = try jsonObject(
                try await client.execute(
                    uri: "/stream/teststream?meta_0_field=_aggregate_version&meta_0_operator=EQUALS&meta_0_value=2", method: .get,
                    headers: acceptJSON))
            #expect((matched["entries"] as? [Any])?.count == 1)
            let typed = try jsonObject(
                try await client.execute(
                    uri: "/stream/teststream?meta_0_field=_aggregate_version&meta_0_operator=EQUALS&meta_0_value=%222%22", method: .get,
                    headers: acceptJSON))
            #expect((typed["entries"] as? [Any])?.count == 0)
            let property = try jsonObject(
                try await client.execute(
                    uri: "/stream/teststream?property_0_field=message_name&property_0_operator=regex&property_0_value=Changed$",
                    method: .get, headers: acceptJSON))
            #expect((property["entries"] as? [Any])?.count == 2)
            let backward = try jsonObject(try await client.execute(uri: "/stream/teststream/3/backward/2", method: .get, headers: acceptJSON))
            let backwardEntries = try #require(backward["entries"] as? [[String: Any]])
            #expect(backwardEntries.compactMap { $0["position"] as? Int } == [3, 2])
            let head = try jsonObject(try await client.execute(uri: "/stream/teststream/head/backward/1", method: .get, headers: acceptJSON))
            #expect((head["entries"] as? [[String: Any]])?.first?["position"] as? Int == 3)
            // Forward from the head is the last event: a request the OpenAPI document admits, so not a 400.
            let headForward = try jsonObject(try await client.execute(uri: "/stream/teststream/head/forward/5", method: .get, headers: acceptJSON))
            #expect((headForward["entries"] as? [[String: Any]])?.compactMap { $0["position"] as? Int } == [3])
            let past = try await client.execute(uri: "/stream/teststream/100/forward/10", method: .get, headers: acceptJSON)
            #expect(past.status == .ok)
            #expect((try jsonObject(past)["entries"] as? [Any])?.isEmpty == true)
        }
    }

    @Test func badReadsGetTheRightStatus() async throws {
        try await withServer { client, store in
            try await store.create("empty-1")
            try expectProblem(try await client.execute(uri: "/stream/unknown", method: .get, headers: acceptJSON), .notFound)
            let empty = try await client.execute(uri: "/stream/empty-1", method: .get, headers: acceptJSON)
            #expect(empty.status == .ok)
            try expectProblem(try await client.execute(uri: "/stream/empty-1/0/forward", method: .get, headers: acceptJSON), .badRequest)
            try expectProblem(try await client.execute(uri: "/stream/empty-1/1/sideways", method: .get, headers: acceptJSON), .badRequest)
            try expectProblem(
                try await client.execute(uri: "/stream/empty-1?meta_0_field=a&meta_0_operator=LIKE&meta_0_value=1", method: .get, headers: acceptJSON),
                .badRequest)
            try expectProblem(
                try await client.execute(uri: "/stream/empty-1?meta_0_field=a&meta_0_operator=regex&meta_0_value=(", method: .get, headers: acceptJSON),
                .badRequest)
            try expectProblem(try await client.execute(uri: "/streams-regex/(unclosed", method: .get), .badRequest)
        }
    }

    @Test func badWritesGetTheRightStatusAndWriteNothing() async throws {
        var configuration = EventStoreHTTPConfiguration()
        configuration.maxBodySize = 4_096
        try await withServer(configuration: configuration) { client, store in
            func post(_ body: String, headers: HTTPFields = sendJSON) async throws -> TestResponse {
                try await client.execute(uri: "/stream/w-1", method: .post, headers: headers, body: ByteBuffer(string: body))
            }
            try expectProblem(try await post("[{\"message_name\":\"A\"}]", headers: [.contentType: "text/plain"]), .unsupportedMediaType)
            for body in [
                "not json", "{}", "[]", "[1]", "[{\"payload\":{}}]", "[{\"message_name\":\"\"}]", "[{\"message_name\":\"A\",\"uuid\":\"nope\"}]",
                "[{\"message_name\":\"A\",\"metadata\":{\"a\":[1]}}]", "[{\"message_name\":\"A\",\"payload\":[1]}]",
                "[{\"message_name\":\"A\",\"created_at\":\"yesterday\"}]", "[{\"message_name\":\"A\"},{\"oops\":1}]",
            ] {
                try expectProblem(try await post(body), .badRequest)
            }
            try expectProblem(
                try await post("[{\"message_name\":\"A\",\"payload\":{\"x\":\"\(String(repeating: "y", count: 5_000))\"}}]"), .contentTooLarge)
            #expect(try await store.hasStream("w-1") == false)
            #expect(try await post("[{\"message_name\":\"A\",\"uuid\":\"0b4a4e4e-6a0b-4f67-9a53-2d4b0c1f2e3d\"}]").status == .noContent)
            // The same event again is a retry (a client that lost the reply): the first answer, nothing stored twice.
            #expect(try await post("[{\"message_name\":\"A\",\"uuid\":\"0b4a4e4e-6a0b-4f67-9a53-2d4b0c1f2e3d\"}]").status == .noContent)
            #expect(try await store.load("w-1").collect().count == 1)
            var expected = sendJSON
            expected[HTTPField.Name("ES-ExpectedVersion")!] = "0"
            try expectProblem(try await post("[{\"message_name\":\"C\"}]", headers: expected), .conflict)
            expected[HTTPField.Name("ES-ExpectedVersion")!] = "soon"
            try expectProblem(try await post("[{\"message_name\":\"C\"}]", headers: expected), .badRequest)
            expected[HTTPField.Name("ES-ExpectedVersion")!] = "1"
            #expect(try await post("[{\"message_name\":\"C\"}]", headers: expected).status == .noContent)
            // Its uuid is no longer the stream's last event: a conflict.
            try expectProblem(try await post("[{\"message_name\":\"B\",\"uuid\":\"0b4a4e4e-6a0b-4f67-9a53-2d4b0c1f2e3d\"}]"), .conflict)
            #expect(try await store.load("w-1").collect().map(\.messageName) == ["A", "C"])
        }
    }

    @Test func metadataDeleteHasStreamAndListings() async throws {
        try await withServer { client, store in
            try await store.create("user-1")
            try await store.create("blog-1")
            #expect(text(try await client.execute(uri: "/streammetadata/user-1", method: .get)) == "{}")
            #expect(
                try await client.execute(
                    uri: "/streammetadata/user-1", method: .post, headers: sendJSON, body: ByteBuffer(string: "{\"owner\":\"ada\"}")
                ).status == .noContent)
            #expect(text(try await client.execute(uri: "/streammetadata/user-1", method: .get)) == "{\"owner\":\"ada\"}")
            try expectProblem(
                try await client.execute(uri: "/streammetadata/nope", method: .post, headers: sendJSON, body: ByteBuffer(string: "{}")),
                .notFound)
            try expectProblem(
                try await client.execute(uri: "/streammetadata/user-1", method: .post, headers: [.contentType: "text/xml"], body: ByteBuffer(string: "{}")),
                .unsupportedMediaType)
            #expect(text(try await client.execute(uri: "/streams", method: .get)) == "[\"blog-1\",\"user-1\"]")
            #expect(text(try await client.execute(uri: "/streams/user-1", method: .get)) == "[\"user-1\"]")
            #expect(text(try await client.execute(uri: "/streams/foo", method: .get)) == "[]")
            #expect(text(try await client.execute(uri: "/streams?limit=10&offset=10", method: .get)) == "[]")
            #expect(text(try await client.execute(uri: "/streams-regex/%5Euser", method: .get)) == "[\"user-1\"]")
            #expect(
                text(try await client.execute(uri: "/streams?meta_0_field=owner&meta_0_operator=EQUALS&meta_0_value=ada", method: .get))
                    == "[\"user-1\"]")
            #expect(text(try await client.execute(uri: "/categories", method: .get)) == "[\"blog\",\"user\"]")
            #expect(text(try await client.execute(uri: "/categories/user", method: .get)) == "[\"user\"]")
            #expect(text(try await client.execute(uri: "/categories?limit=10&offset=1", method: .get)) == "[\"user\"]")
            #expect(text(try await client.execute(uri: "/categories-regex/%5Euser%7Cblog?offset=1", method: .get)) == "[\"user\"]")
            try expectProblem(try await client.execute(uri: "/streams?limit=0", method: .get), .badRequest)
            #expect(try await client.execute(uri: "/has-stream/user-1", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/delete/user-1", method: .post).status == .noContent)
            try expectProblem(try await client.execute(uri: "/delete/user-1", method: .post), .notFound)
            try expectProblem(try await client.execute(uri: "/has-stream/user-1", method: .get), .notFound)
        }
    }

    /// Issue 24: several streams written in one request, every write or none.
    @Test func oneRequestWritesSeveralStreamsAllOrNothing() async throws {
        try await withServer { client, store in
            try await store.create("stock-7", events: [EventMessage(messageName: "Stocked")])
            let body = #"""
                [{"stream":"order-1","expected_version":"no-stream","events":[{"message_name":"Placed","payload":{"n":1}}]},
                 {"stream":"stock-7","expected_version":1,"events":[{"message_name":"Reserved"},{"message_name":"Reserved"}]},
                 {"stream":"audit-1","metadata":{"owner":"ops"},"events":[]}]
                """#
            let written = try await client.execute(uri: "/append", method: .post, headers: sendJSON, body: ByteBuffer(string: body))
            #expect(written.status == .ok, "\(text(written))")
            let results = try #require(try jsonObject(written)["results"] as? [[String: Any]])
            #expect(results.map { $0["stream"] as? String } == ["order-1", "stock-7", "audit-1"])
            #expect(results.map { $0["version"] as? Int } == [1, 3, 0])
            #expect(results[0]["position"] is String && results[2]["position"] is NSNull)
            #expect(try await store.load("stock-7").collect().map(\.messageName) == ["Stocked", "Reserved", "Reserved"])
            #expect(try await store.streamMetadata(of: "audit-1") == ["owner": "ops"])
            // One conflict, and nothing of the request is written.
            let conflicting = #"""
                [{"stream":"order-1","events":[{"message_name":"Paid"}]},
                 {"stream":"stock-7","expected_version":1,"events":[{"message_name":"Reserved"}]}]
                """#
            try expectProblem(
                try await client.execute(uri: "/append", method: .post, headers: sendJSON, body: ByteBuffer(string: conflicting)), .conflict)
            #expect(try await store.load("order-1").collect().count == 1, "the first write was undone with the request")
            for bad in ["[]", "{}", #"[{"events":[]}]"#, #"[{"stream":"a-1"}]"#, #"[{"stream":"a-1","events":[],"metadata":{},"expected_version":"any"}]"#,
                #"[{"stream":"a-1","events":[],"expected_version":"soon"}]"#, #"[{"stream":"a-1","events":[],"color":"red"}]"#]
            {
                try expectProblem(try await client.execute(uri: "/append", method: .post, headers: sendJSON, body: ByteBuffer(string: bad)), .badRequest)
            }
            #expect(try await store.hasStream("a-1") == false)
        }
    }

    /// Issue 24: the API carries its version, so that later changes do not break old clients.
    @Test func everyResponseSaysItsAPIVersionAndAnUnknownOneIsRefused() async throws {
        let version = HTTPField.Name("ES-API-Version")!
        try await withServer { client, _ in
            let listed = try await client.execute(uri: "/streams", method: .get)
            #expect(listed.status == .ok && listed.headers[version] == "1")
            let missing = try await client.execute(uri: "/stream/nope", method: .get, headers: acceptJSON)
            try expectProblem(missing, .notFound)
            #expect(missing.headers[version] == "1", "a problem says it too")
            var asked = acceptJSON
            asked[version] = "1"
            #expect(try await client.execute(uri: "/streams", method: .get, headers: asked).status == .ok)
            asked[version] = "2"
            let refused = try await client.execute(uri: "/streams", method: .get, headers: asked)
            try expectProblem(refused, .badRequest)
            #expect(refused.headers[version] == "1" && text(refused).contains("version 1"), "\(text(refused))")
        }
    }

    @Test func softAndHardDeletesAnswerAsTheirModesSay() async throws {
        try await withServer { client, store in
            try await store.create("soft-1", events: [EventMessage(messageName: "A"), EventMessage(messageName: "B")])
            try await store.create("hard-1", events: [EventMessage(messageName: "A")])
            try expectProblem(try await client.execute(uri: "/delete/soft-1?mode=later", method: .post), .badRequest)
            #expect(try await client.execute(uri: "/delete/soft-1?mode=soft", method: .post).status == .noContent)
            try expectProblem(try await client.execute(uri: "/stream/soft-1", method: .get, headers: acceptJSON), .notFound)
            try expectProblem(try await client.execute(uri: "/delete/soft-1?mode=soft", method: .post), .notFound)
            // A post starts it again, its positions going on.
            #expect(try await client.execute(uri: "/stream/soft-1", method: .post, headers: sendJSON, body: events(["C"])).status == .noContent)
            #expect(try await store.load("soft-1").collect().map(\.position) == [3])
            #expect(text(try await client.execute(uri: "/streams", method: .get)) == "[\"hard-1\",\"soft-1\"]")
            #expect(try await client.execute(uri: "/delete/hard-1?mode=hard", method: .post).status == .noContent)
            for (uri, method) in [("/stream/hard-1", HTTPRequest.Method.get), ("/streammetadata/hard-1", .get), ("/delete/hard-1", .post)] {
                try expectProblem(try await client.execute(uri: uri, method: method, headers: acceptJSON), .gone)
            }
            try expectProblem(try await client.execute(uri: "/stream/hard-1", method: .post, headers: sendJSON, body: events(["D"])), .gone)
            try expectProblem(try await client.execute(uri: "/has-stream/hard-1", method: .get), .notFound)
            #expect(text(try await client.execute(uri: "/streams", method: .get)) == "[\"soft-1\"]")
        }
    }

    @Test func tokensGuardReadsAndWrites() async throws {
        var configuration = EventStoreHTTPConfiguration()
        configuration.tokens = ["writer-secret"]
        configuration.readOnlyTokens = ["reader-secret"]
        try await withServer(configuration: configuration) { client, _ in
            try expectProblem(try await client.execute(uri: "/streams", method: .get), .unauthorized)
            try expectProblem(try await client.execute(uri: "/streams", method: .get, headers: [.authorization: "Bearer wrong"]), .unauthorized)
            #expect(try await client.execute(uri: "/streams", method: .get, headers: [.authorization: "Bearer reader-secret"]).status == .ok)
            var readOnly = sendJSON
            readOnly[.authorization] = "Bearer reader-secret"
            try expectProblem(try await client.execute(uri: "/stream/t-1", method: .post, headers: readOnly, body: events(["A"])), .forbidden)
            var writer = sendJSON
            writer[.authorization] = "Bearer writer-secret"
            #expect(try await client.execute(uri: "/stream/t-1", method: .post, headers: writer, body: events(["A"])).status == .noContent)
            #expect(try await client.execute(uri: "/health", method: .get).status == .ok)
        }
    }

    @Test func fiftyConcurrentClientsTakeEachVersionOnce() async throws {
        try await withServer { client, store in
            let port = try #require(client.port)
            let versions = 10
            let outcomes = try await withThrowingTaskGroup(of: [(Int, UInt)].self) { group in
                for clientIndex in 0..<50 {
                    group.addTask {
                        var outcomes: [(Int, UInt)] = []
                        for version in 0..<versions {
                            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/stream/race-1")
                            request.method = .POST
                            request.headers.add(name: "Content-Type", value: "application/json")
                            request.headers.add(name: "ES-ExpectedVersion", value: version == 0 ? "no-stream" : String(version))
                            request.body = .bytes(ByteBuffer(string: "[{\"message_name\":\"Took\",\"metadata\":{\"client\":\(clientIndex)}}]"))
                            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                            _ = try await response.body.collect(upTo: 1 << 16)
                            outcomes.append((version, response.status.code))
                        }
                        return outcomes
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            for version in 0..<versions {
                let forVersion = outcomes.filter { $0.0 == version }
                #expect(forVersion.filter { $0.1 == 204 }.count == 1, "version \(version)")
                #expect(forVersion.filter { $0.1 == 409 }.count == 49, "version \(version)")
            }
            #expect(try await store.load("race-1").collect().map(\.position) == Array(1...versions))
        }
    }

    @Test func serverSentEventsFollowAndResumeWithLastEventID() async throws {
        try await withServer { client, store in
            let port = try #require(client.port)
            try await store.create("sse-1", events: (1...2).map { EventMessage(messageName: "E\($0)") })
            let first = try await readEvents(port: port, path: "/subscribe/stream/sse-1", count: 2)
            #expect(first.map(\.data).allSatisfy { $0.contains("\"stream\":\"sse-1\"") })
            #expect(first.map(\.event) == ["E1", "E2"])
            let lastID = try #require(first.last?.id)
            try await store.append((3...4).map { EventMessage(messageName: "E\($0)") }, to: "sse-1")
            let resumed = try await readEvents(port: port, path: "/subscribe/stream/sse-1", count: 2, lastEventID: lastID)
            #expect(resumed.map(\.event) == ["E3", "E4"])
            let fromQuery = try await readEvents(port: port, path: "/subscribe/all?from=\(lastID)", count: 1)
            #expect(fromQuery.map(\.event) == ["E3"])
            let live = Task { try await readEvents(port: port, path: "/subscribe/category/sse", count: 5) }
            try await Task.sleep(for: .milliseconds(200))
            try await store.append([EventMessage(messageName: "E5")], to: "sse-1")
            #expect(try await live.value.map(\.event) == ["E1", "E2", "E3", "E4", "E5"])
        }
    }

    @Test func projectionRoutesListInspectAndControlProjections() async throws {
        var configuration = EventStoreHTTPConfiguration()
        configuration.metricsRegistry = PrometheusCollectorRegistry()
        configuration.tokens = ["writer-secret"]
        configuration.readOnlyTokens = ["reader-secret"]
        try await withServer(configuration: configuration) { client, store in
            var reader = acceptJSON
            reader[.authorization] = "Bearer reader-secret"
            var writer = acceptJSON
            writer[.authorization] = "Bearer writer-secret"
            try await store.create("teststream", events: (1...3).map { EventMessage(messageName: "Counted", payload: ["n": .number(String($0))], metadata: [:]) })
            let manager = ProjectionManager(store: store)
            for name in ["counter", "other"] {
                try await manager.createProjection(name).initialState(0).fromStream("teststream").whenAny { n, _, _ in n + 1 }
                    .run(keepRunning: false)
            }
            #expect(text(try await client.execute(uri: "/projections", method: .get, headers: reader)) == #"["counter","other"]"#)
            #expect(text(try await client.execute(uri: "/projections/counter", method: .get, headers: reader)) == #"["counter"]"#)
            #expect(text(try await client.execute(uri: "/projections/foo", method: .get, headers: reader)) == "[]")
            #expect(text(try await client.execute(uri: "/projections?limit=1&offset=1", method: .get, headers: reader)) == #"["other"]"#)
            #expect(text(try await client.execute(uri: "/projections-regex/%5Ecou", method: .get, headers: reader)) == #"["counter"]"#)
            try expectProblem(try await client.execute(uri: "/projections-regex/%28", method: .get, headers: reader), .badRequest)
            try expectProblem(try await client.execute(uri: "/projections?limit=0", method: .get, headers: reader), .badRequest)

            let status = try await client.execute(uri: "/projection/status/counter", method: .get, headers: reader)
            #expect(status.status == .ok)
            #expect(try jsonObject(status)["status"] as? String == "idle")
            #expect(try jsonObject(status)["kind"] as? String == "projection")
            #expect(text(try await client.execute(uri: "/projection/state/counter", method: .get, headers: reader)) == "3")
            #expect(
                text(try await client.execute(uri: "/projection/stream-positions/counter", method: .get, headers: reader))
                    == #"{"teststream":3}"#)
            for uri in ["/projection/status/nobody", "/projection/state/nobody", "/projection/stream-positions/nobody"] {
                try expectProblem(try await client.execute(uri: uri, method: .get, headers: reader), .notFound)
            }

            let metrics = text(try await client.execute(uri: "/metrics", method: .get, headers: reader))
            #expect(metrics.contains(#"eventstore_projection_lag_events{projection="counter"} 0"#), "\(metrics)")
            try await store.append([EventMessage(messageName: "Counted", payload: [:], metadata: [:])], to: "teststream")
            let behind = text(try await client.execute(uri: "/metrics", method: .get, headers: reader))
            #expect(behind.contains(#"eventstore_projection_lag_events{projection="counter"} 1"#), "\(behind)")
            // Only the projection's own source counts (before, an event of any stream did).
            try await store.create("otherstream", events: [EventMessage(messageName: "Elsewhere", payload: [:], metadata: [:])])
            let own = text(try await client.execute(uri: "/metrics", method: .get, headers: reader))
            #expect(own.contains(#"eventstore_projection_lag_events{projection="counter"} 1"#), "\(own)")

            try expectProblem(try await client.execute(uri: "/projection/reset/counter", method: .post, headers: reader), .forbidden)
            #expect(try await client.execute(uri: "/projection/stop/counter", method: .post, headers: writer).status == .noContent)
            #expect(try await manager.status(of: "counter") == .stopping)
            #expect(try await client.execute(uri: "/projection/reset/counter", method: .post, headers: writer).status == .noContent)
            #expect(text(try await client.execute(uri: "/projection/state/counter", method: .get, headers: reader)) == "{}")
            try expectProblem(try await client.execute(uri: "/projection/delete/counter/maybe", method: .post, headers: writer), .badRequest)
            #expect(try await client.execute(uri: "/projection/delete/counter/false", method: .post, headers: writer).status == .noContent)
            #expect(text(try await client.execute(uri: "/projections", method: .get, headers: reader)) == #"["other"]"#)
            for uri in ["/projection/delete/nobody/true", "/projection/reset/nobody", "/projection/stop/nobody"] {
                try expectProblem(try await client.execute(uri: uri, method: .post, headers: writer), .notFound)
            }

            // With a runner holding the lease, a delete over HTTP is a command the runner obeys, then ends.
            let live = manager.createProjection("other").initialState(0).fromStream("teststream").whenAny { n, _, _ in n + 1 }
            let runner = Task { try await live.run(keepRunning: true) }
            while try await manager.status(of: "other") != .running { try await Task.sleep(for: .milliseconds(10)) }
            #expect(try await client.execute(uri: "/projection/delete/other/true", method: .post, headers: writer).status == .noContent)
            try await runner.value
            #expect(text(try await client.execute(uri: "/projections", method: .get, headers: reader)) == "[]")
        }
    }

    /// Liveness says the process answers; readiness that its database does (before, `/health` was the only
    /// route and asked the database, so an orchestrator restarted a server whose database was down).
    @Test func livenessAndReadinessAreTwoAnswersAndNeedNoToken() async throws {
        var configuration = EventStoreHTTPConfiguration()
        configuration.tokens = ["writer-secret"]
        try await withServer(configuration: configuration) { client, store in
            for uri in ["/health", "/health/live"] {
                let live = try await client.execute(uri: uri, method: .get)
                #expect(live.status == .ok, "\(uri)")
                #expect(text(live) == #"{"status":"ok"}"#, "\(uri)")
            }
            let ready = try await client.execute(uri: "/health/ready", method: .get)
            #expect(ready.status == .ok)
            #expect(text(ready) == #"{"status":"ready"}"#)
            // The database goes away: not ready, with a problem document; still live.
            await store.close()
            let gone = try await client.execute(uri: "/health/ready", method: .get)
            try expectProblem(gone, .serviceUnavailable)
            #expect(text(gone).contains("does not answer"), "\(text(gone))")
            #expect(try await client.execute(uri: "/health/live", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/health", method: .get).status == .ok)
        }
    }

    @Test func healthMetricsAndOpenAPI() async throws {
        var configuration = EventStoreHTTPConfiguration()
        configuration.metricsRegistry = PrometheusCollectorRegistry()
        try await withServer(configuration: configuration) { client, _ in
            let health = try await client.execute(uri: "/health", method: .get)
            #expect(health.status == .ok)
            #expect(text(health) == "{\"status\":\"ok\"}")
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(metrics.status == .ok)
            #expect(metrics.headers[.contentType]?.hasPrefix("text/plain") == true)
            let openAPI = try jsonObject(try await client.execute(uri: "/openapi.json", method: .get))
            let paths = try #require(openAPI["paths"] as? [String: Any])
            #expect(paths["/stream/{name}"] != nil)
        }
    }

    /// The OpenAPI document lists exactly the routes the router registers, each with its methods (before, it
    /// left out two of the stream-reading routes), and every operation documents its responses.
    @Test func theOpenAPIDocumentCoversEveryRouteTheRouterRegisters() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("es-openapi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try await SQLiteEventStore(path: directory.appendingPathComponent("events.sqlite").path)
        var configuration = EventStoreHTTPConfiguration()
        configuration.metricsRegistry = PrometheusCollectorRegistry()
        let router = EventStoreHTTPServer.router(store: store, configuration: configuration)
        var registered: [String: Set<String>] = [:]
        for route in router.routes { registered[route.path.description, default: []].insert(route.method.rawValue.lowercased()) }
        let document = try #require(try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.json.utf8)) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        var documented: [String: Set<String>] = [:]
        for (path, operations) in paths {
            documented[path] = Set(operations.keys)
            for (method, operation) in operations {
                let responses = (operation as? [String: Any])?["responses"] as? [String: Any]
                #expect(responses?.isEmpty == false, "\(method) \(path) documents no response")
            }
        }
        #expect(registered == documented)
        #expect(registered.count > 25)
    }
}

struct SSEEvent: Sendable {
    var id: String
    var event: String
    var data: String
}

/// Reads `count` Server-Sent Events, then disconnects.
func readEvents(port: Int, path: String, count: Int, lastEventID: String? = nil) async throws -> [SSEEvent] {
    Watchdog.step("read \(count) server-sent events from \(path)")
    var events: [SSEEvent] = []
    try await streamEvents(port: port, path: path, lastEventID: lastEventID) { event in
        events.append(event)
        return events.count < count
    }
    return events
}

/// Hands each Server-Sent Event with an id to `handle` as it comes, until `handle` returns `false` or the
/// stream ends; then disconnects.
func streamEvents(
    port: Int, path: String, token: String? = nil, lastEventID: String? = nil, _ handle: (SSEEvent) async throws -> Bool
) async throws {
    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
    if let lastEventID { request.headers.add(name: "Last-Event-ID", value: lastEventID) }
    if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
    #expect(response.status == .ok)
    #expect(response.headers.first(name: "Content-Type") == "text/event-stream")
    var pending = ""
    for try await chunk in response.body {
        pending += String(buffer: chunk)
        while let end = pending.range(of: "\n\n") {
            let frame = pending[..<end.lowerBound]
            pending.removeSubrange(..<end.upperBound)
            var event = SSEEvent(id: "", event: "", data: "")
            for line in frame.split(separator: "\n") {
                if line.hasPrefix("id: ") { event.id = String(line.dropFirst(4)) }
                if line.hasPrefix("event: ") { event.event = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { event.data = String(line.dropFirst(6)) }
            }
            if !event.id.isEmpty, try await !handle(event) { return }
        }
    }
}
