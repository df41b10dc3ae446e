#if OTel
import AsyncHTTPClient
import EventStore
import EventStoreSQLite
import EventStoreTestSupport
import Foundation
import NIOCore
import Testing

/// Issue 21: `eventstore serve --otlp-endpoint` exports the spans of a request, continuing the caller's
/// trace, to a collector over OTLP/HTTP (a stand-in collector, `scripts/otlp-sink`, keeps what it is sent).
@Suite("eventstore serve exports spans", .watchdog())
struct ServeTracingTests {
    @Test func theSpansOfARequestReachTheCollectorInTheCallersTrace() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("es-otlp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let sink = try await OTLPSink.start(in: directory.appendingPathComponent("received"))
        defer { sink.stop() }
        let database = directory.appendingPathComponent("events.sqlite").path
        let serve = try await ServeProcess.start(
            database: "sqlite:\(database)", in: directory,
            ["--otlp-endpoint", "http://127.0.0.1:\(sink.port)/v1/traces", "--otlp-protocol", "http/json"])
        let (trace, caller) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
        var request = HTTPClientRequest(url: "\(serve.baseURL)/stream/exported-1")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "traceparent", value: "00-\(trace)-\(caller)-01")
        request.body = .bytes(ByteBuffer(string: "[{\"message_name\":\"Exported\",\"payload\":{}}]"))
        let response = try await testClient.execute(request, timeout: .seconds(10))
        #expect(response.status.code == 204)
        // Spans are sent in batches; what is left goes at shutdown.
        #expect(await serve.terminate(within: .seconds(60)) != nil, "\(serve.output)")

        let spans = try sink.spans()
        let server = try #require(spans.first { $0.name == "/stream/{name}" }, "\(spans)")
        #expect(server.traceID == trace)
        #expect(server.parentID == caller)
        // The route appends with `any` first; the stream is new, so a second append (`no-stream`) makes it.
        let appends = spans.filter { $0.name == "eventstore append" }
        #expect(appends.count == 2, "\(spans)")
        for append in appends {
            #expect(append.traceID == trace)
            #expect(append.parentID == server.spanID)
        }
        // The stored event names the span of the append that wrote it, from which a consumer continues the trace.
        let store = try await SQLiteEventStore(path: database)
        let event = try #require(try await store.load("exported-1").collect().first)
        let traceParent = event.metadata[MetadataKey.traceParent]?.stringValue
        #expect(appends.contains { traceParent == "00-\(trace)-\($0.spanID)-01" }, "\(String(describing: traceParent)) \(appends)")
        await store.close()
    }
}

/// `scripts/otlp-sink`, running: where it listens and what it was sent.
struct OTLPSink {
    let process: Process
    let port: Int
    let directory: URL

    struct ExportedSpan: CustomStringConvertible {
        let name: String
        let traceID: String
        let spanID: String
        let parentID: String
        var description: String { "\(name) \(traceID)/\(spanID) < \(parentID)" }
    }

    static func start(in directory: URL) async throws -> OTLPSink {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("scripts/otlp-sink")
        process.arguments = [directory.path]
        // Not the test's own output: `swift test` waits for every process that holds it to end.
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try ProcessLaunch.run(process)
        let portFile = directory.appendingPathComponent("port")
        let line = try await within(.seconds(30), "the OTLP sink listens") {
            while true {
                if let text = try? String(contentsOf: portFile, encoding: .utf8) { return text }
                guard process.isRunning else { throw ServeFailure("scripts/otlp-sink exited") }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        guard let port = Int(line) else { throw ServeFailure("scripts/otlp-sink wrote the port \(line)") }
        return OTLPSink(process: process, port: port, directory: directory)
    }

    /// SIGKILL: the test process may ignore SIGTERM, and its children inherit that.
    func stop() { kill(process.processIdentifier, SIGKILL) }

    /// Every span of every JSON export received (ids in hex; the JSON encoding writes them in base64).
    func spans() throws -> [ExportedSpan] {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }
        var spans: [ExportedSpan] = []
        for file in files {
            let data = try Data(contentsOf: directory.appendingPathComponent(file))
            let export = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            for resource in export["resourceSpans"] as? [[String: Any]] ?? [] {
                for scope in resource["scopeSpans"] as? [[String: Any]] ?? [] {
                    for span in scope["spans"] as? [[String: Any]] ?? [] {
                        spans.append(
                            ExportedSpan(
                                name: span["name"] as? String ?? "", traceID: Self.hex(span["traceId"]), spanID: Self.hex(span["spanId"]),
                                parentID: Self.hex(span["parentSpanId"])))
                    }
                }
            }
        }
        return spans
    }

    static func hex(_ base64: Any?) -> String {
        guard let text = base64 as? String, let bytes = Data(base64Encoded: text) else { return "" }
        return bytes.map { String(format: "%02x", $0) }.joined()
    }
}
#endif
