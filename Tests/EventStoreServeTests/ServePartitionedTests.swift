import AsyncHTTPClient
import EventStore
import EventStoreBackends
import EventStoreTestSupport
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Testing

/// Issue 25: `eventstore serve --database partitioned:FILE` serves a partitioned store over three SQLite
/// files: streams, merged listings, the merged order with composite positions, checkpoints, and event
/// streams that resume with `Last-Event-ID` across a crash of the server.
@Suite("eventstore serve on a partitioned store", .watchdog())
struct ServePartitionedTests {
    @Test func servesTheMergedOrderAndResumesEventStreamsAfterACrash() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("es-serve-partitioned-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let members = ["a", "b", "c"].map { "{\"name\": \"\($0)\", \"database\": \"sqlite:\(directory.appendingPathComponent("\($0).sqlite").path)\"}" }
        let file = directory.appendingPathComponent("members.json")
        try Data(#"{"members": [\#(members.joined(separator: ", "))], "bucketCount": 16}"#.utf8).write(to: file)
        let database = "partitioned:\(file.path)"

        var serve = try await ServeProcess.start(database: database, in: directory)
        let follower = EventStreamFollower()
        let port = serve.port
        follower.start { "http://127.0.0.1:\(port)" }
        defer { Task { await follower.stop() } }

        // Twelve streams, spread over the members: each member holds some.
        var uuids: [String] = []
        for index in 0..<12 {
            let uuid = UUID().uuidString.lowercased()
            #expect(await serve.post(uuid, to: "order-\(index)") == 204)
            uuids.append(uuid)
        }
        let placement = try await PartitionedStoreFile(url: database).withStore(logger: Logger(label: "test")) { store in
            Set((0..<12).map { store.location(of: try! StreamName("order-\($0)")).member })
        }
        #expect(placement.count == 3, "every member holds streams")
        let read = try await serve.get("/stream/order-3", accept: "application/json", timeout: .seconds(10))
        #expect(read.status == 200 && read.body.contains(uuids[3]), "\(read.body)")
        let streams = try JSONValue(parsing: try await serve.get("/streams?limit=100", timeout: .seconds(10)).body)
        #expect(streams == .array((0..<12).map { JSONValue.string("order-\($0)") }.sorted { $0.jsonText.utf8.lexicographicallyPrecedes($1.jsonText.utf8) }))

        // The merged order, a page at a time, resumed after each page's read_through.
        var paged: [String] = []
        var after = ""
        for _ in 0..<10 where paged.count < 12 {
            let page = try JSONValue(parsing: try await serve.get("/all?limit=5&after=\(after)", timeout: .seconds(10)).body)
            guard case let .array(events)? = page["events"], case let .string(readThrough)? = page["read_through"] else {
                Issue.record("a page is {read_through, events}: \(page.jsonText)")
                return
            }
            #expect(page["unavailable"] == .array([]))
            for event in events {
                guard case let .string(uuid)? = event["uuid"], case .string? = event["member"], case .string? = event["composite_position"] else {
                    Issue.record("an event of the merged order has its member and composite position: \(event.jsonText)")
                    return
                }
                paged.append(uuid)
            }
            after = readThrough.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? readThrough
        }
        #expect(paged.sorted() == uuids.sorted(), "every event once")

        // Checkpoints and the head.
        let head = try JSONValue(parsing: try await serve.get("/head", timeout: .seconds(10)).body)
        guard case let .string(headText)? = head["head"], let headPosition = CompositePosition(headText) else {
            Issue.record("/head answers a composite position: \(head.jsonText)")
            return
        }
        #expect(headPosition.parts.count == 3)
        var put = HTTPClientRequest(url: "\(serve.baseURL)/checkpoints/billing")
        put.method = .PUT
        put.headers.add(name: "Content-Type", value: "application/json")
        put.body = .bytes(ByteBuffer(string: "{\"position\": \"\(headText)\"}"))
        #expect(try await testClient.execute(put, timeout: .seconds(10)).status.code == 204)
        let checkpoint = try JSONValue(parsing: try await serve.get("/checkpoints/billing", timeout: .seconds(10)).body)
        #expect(checkpoint["position"] == .string(headText))

        // Bad positions are 400s with a problem body; what a partitioned store does not serve is a 404;
        // projections are served.
        for path in ["/all?after=nonsense", "/all?after=z%3D5", "/subscribe/all?from=a%3Dx"] {
            let answer = try await serve.get(path, timeout: .seconds(10))
            #expect(answer.status == 400 && answer.body.contains("\"detail\""), "\(path): \(answer.status) \(answer.body)")
        }
        #expect(try await serve.get("/all/count", timeout: .seconds(10)).status == 404)
        let projections = try await serve.get("/projections", accept: "application/json", timeout: .seconds(10))
        #expect(projections.status == 200 && projections.body == "[]")
        #expect(try await serve.get("/health/ready", timeout: .seconds(10)).status == 200)

        // A consumer group made after the head (a composite position) keeps it as its checkpoint; one after
        // a global position is a 400.
        func send(_ method: HTTPMethod, _ path: String, _ body: String) async throws -> (status: UInt, body: String) {
            var request = HTTPClientRequest(url: "\(serve.baseURL)\(path)")
            request.method = method
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
            let response = try await testClient.execute(request, timeout: .seconds(10))
            return (response.status.code, String(buffer: try await response.body.collect(upTo: 1 << 20)))
        }
        #expect(try await send(.PUT, "/groups/mailer", #"{"target":"all","start":{"after":"\#(headText)"}}"#).status == 201)
        let group = try JSONValue(parsing: try await serve.get("/groups/mailer", timeout: .seconds(10)).body)
        #expect(group["checkpoint"] == .string(headText) && group["lag_events"] == 0, "\(group.jsonText)")
        let global = try await send(.PUT, "/groups/other", #"{"target":"all","start":{"after":"42"}}"#)
        #expect(global.status == 400 && global.body.contains("composite"), "\(global)")

        // The event stream delivered every event; the server is killed, started again, and more are
        // written: the follower reconnects with the last composite position it got, and gets only the rest.
        #expect(await follower.waitFor(Set(uuids), upTo: .seconds(30)))
        await serve.kill()
        serve = try await ServeProcess.start(database: database, in: directory, port: port)
        var later: [String] = []
        for index in 0..<6 {
            let uuid = UUID().uuidString.lowercased()
            #expect(await serve.post(uuid, to: "order-\(index * 2)") == 204)
            later.append(uuid)
        }
        #expect(await follower.waitFor(Set(uuids + later), upTo: .seconds(30)))
        let received = follower.received
        #expect(received.map(\.uuid).sorted() == (uuids + later).sorted(), "each event once across the reconnection")
        #expect(follower.connections >= 2)
        #expect(received.allSatisfy { CompositePosition($0.id) != nil }, "each id is a composite position")
        // The group hands out the events written after its start, across the restart.
        let taken = try JSONValue(parsing: try await send(.POST, "/groups/mailer/take?consumer=x&count=100", "").body)
        guard case let .array(deliveries)? = taken["deliveries"] else {
            Issue.record("take answers the deliveries: \(taken.jsonText)")
            return
        }
        let delivered = deliveries.compactMap { delivery -> String? in
            guard case let .string(uuid)? = delivery["event"]?["uuid"] else { return nil }
            return uuid
        }
        #expect(delivered.sorted() == later.sorted(), "\(taken.jsonText)")
        await follower.stop()
        #expect(await serve.terminate(within: .seconds(30)) != nil)
    }
}
