import AsyncAlgorithms
@_spi(Backend) import EventStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization

/// The API's routes.
struct Routes: Sendable {
    let store: any EventStore
    let configuration: EventStoreHTTPConfiguration
    /// How many Server-Sent-Events streams are open.
    let subscribers = SubscriberCount()
    /// Whether readers of the global order wait for an open transaction (readiness and `/metrics` ask).
    let globalOrderWatch: GlobalOrderWatch?

    init(store: any EventStore, configuration: EventStoreHTTPConfiguration) {
        self.store = store
        self.configuration = configuration
        globalOrderWatch = configuration.globalOrderWatch ?? (store as? any GlobalOrderEventStore).map { GlobalOrderWatch(store: $0) }
    }

    static let jsonTypes = ["application/vnd.eventstore.atom+json", "application/atom+json", "application/json"]
    static let expectedVersionHeader = fieldName("ES-ExpectedVersion")
    static let streamVersionHeader = fieldName("ES-StreamVersion")
    static let lastEventIDHeader = fieldName("Last-Event-ID")

    /// A header name written in the source code (valid by construction).
    static func fieldName(_ name: String) -> HTTPField.Name {
        guard let field = HTTPField.Name(name) else { preconditionFailure("invalid header name \(name)") }
        return field
    }

    func register(on router: Router<BasicRequestContext>) {
        for path in ["/stream/{name}", "/stream/{name}/{start}", "/stream/{name}/{start}/{direction}", "/stream/{name}/{start}/{direction}/{count}"] {
            router.get(RouterPath(path)) { request, context in try await loadStream(request, context) }
        }
        router.post("/stream/{name}") { request, context in try await postStream(request, context) }
        router.post("/append") { request, context in try await writeStreams(request, context) }
        router.get("/streammetadata/{name}") { request, context in
            let metadata = try await store.streamMetadata(of: try streamName(context))
            return json(metadata.jsonText)
        }
        router.post("/streammetadata/{name}") { request, context in
            try requireJSONContent(request)
            let body = try await bodyText(request, context)
            try await store.updateStreamMetadata(try Metadata(json: body), of: try streamName(context))
            return Response(status: .noContent)
        }
        router.post("/delete/{name}") { request, context in
            let modeText = request.uri.queryParameters.get("mode") ?? DeleteMode.purge.rawValue
            guard let mode = DeleteMode(rawValue: modeText) else {
                throw HTTPProblem.badRequest("mode is purge, soft or hard, not \"\(modeText)\"")
            }
            try await store.delete(try streamName(context), mode: mode)
            return Response(status: .noContent)
        }
        router.get("/has-stream/{name}") { _, context in
            let exists = try await store.hasStream(try streamName(context))
            guard exists else { throw HTTPProblem(.notFound, "Not Found", detail: "no such stream") }
            return Response(status: .ok)
        }
        router.get("/streams") { request, _ in try await streams(request, filter: .all) }
        router.get("/streams/{filter}") { request, context in
            try await streams(request, filter: .exact(try parameter(context, "filter")))
        }
        router.get("/streams-regex/{filter}") { request, context in
            try await streams(request, filter: .regex(try parameter(context, "filter")))
        }
        router.get("/categories") { request, _ in try await categories(request, filter: .all) }
        router.get("/categories/{filter}") { request, context in
            try await categories(request, filter: .exact(try parameter(context, "filter")))
        }
        router.get("/categories-regex/{filter}") { request, context in
            try await categories(request, filter: .regex(try parameter(context, "filter")))
        }
        // Every store of this package can be followed, in its global order or a partitioned store's merged one;
        // a store that cannot simply has no SSE routes.
        if let followable = store as? any GlobalOrderEventStore { registerGlobalOrder(on: router, followable) }
        if let partitioned = store as? PartitionedEventStore { registerPartitionedOrder(on: router, partitioned) }
        if let snapshots = store as? any SnapshotStore { registerSnapshots(on: router, snapshots) }
        if let scavenging = store as? any ScavengingEventStore { registerScavenge(on: router, scavenging) }
        if let projectionStore = store as? any ProjectionStore {
            registerProjections(on: router, ProjectionManager(store: projectionStore))
        }
        if let groupStore = store as? any ConsumerGroupStore {
            registerConsumerGroups(on: router, groupStore)
        }
        // Liveness: the process answers. `/health` is the same, as before readiness had a route of its own.
        for path in ["/health", "/health/live"] {
            router.get(RouterPath(path)) { _, _ in json("{\"status\":\"ok\"}") }
        }
        // Readiness: the database answers within the readiness timeout, and readers of the global order
        // have not waited for an open transaction past the watch's threshold.
        let readinessTimeout = configuration.readinessTimeout
        let watch = globalOrderWatch
        router.get("/health/ready") { _, _ in
            if let problem = await Self.readinessProblem(of: store, watch: watch, within: readinessTimeout) {
                throw HTTPProblem(.serviceUnavailable, "Service Unavailable", detail: problem)
            }
            guard let nodes = (store as? any NodeReportingStore)?.nodes else { return json("{\"status\":\"ready\"}") }
            var members: [(key: String, value: JSONValue)] = [("status", .string("ready"))]
            if let writes = nodes.writes { members.append(("writes", .string(writes))) }
            members.append(("reads", .array(nodes.reads.map { .string($0) })))
            return json(JSONValue.object(members).jsonText)
        }
        if let registry = configuration.metricsRegistry {
            let subscribers = self.subscribers
            let groupMetrics = ConsumerGroupMetrics()
            router.get("/metrics") { _, context in
                // What the store is asked (lags, groups, the stall) has the readiness timeout. A store that fails
                // or is late leaves those gauges as the last scrape set them and sets `eventstore_store_up` to 0:
                // the scrape is still answered, with the store's failure counters, when they matter most.
                let failure = await Self.answer(within: readinessTimeout, late: "the event store did not answer within \(readinessTimeout)") {
                    () -> String? in
                    do {
                        if let projectionStore = store as? any ProjectionStore {
                            try await Self.updateProjectionLag(in: registry, store: projectionStore)
                        }
                        if let groupStore = store as? any ConsumerGroupStore {
                            try await groupMetrics.update(in: registry, store: groupStore)
                        }
                        if let watch {
                            let stall = try await watch.check()
                            registry.makeGauge(descriptor: Self.globalOrderStallDescriptor).set(stall?.age.seconds ?? 0)
                        }
                        return nil
                    } catch {
                        return "\(error)"
                    }
                }
                if let failure { context.logger.notice("/metrics reports the store down: \(failure)") }
                registry.makeGauge(descriptor: Self.storeUpDescriptor).set(Double(failure == nil ? 1 : 0))
                registry.makeGauge(descriptor: Self.openStreamsDescriptor).set(Double(subscribers.count))
                var bytes: [UInt8] = []
                registry.emit(into: &bytes)
                return Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                    body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
            }
        }
        router.get("/openapi.json") { _, _ in json(OpenAPIDocument.json) }
    }

    // MARK: Helpers

    func parameter(_ context: BasicRequestContext, _ name: String) throws -> String {
        guard let raw = context.parameters.get(name) else { throw HTTPProblem.badRequest("missing \(name)") }
        return raw.removingPercentEncoding ?? raw
    }

    func streamName(_ context: BasicRequestContext) throws -> StreamName {
        try StreamName(try parameter(context, "name"))
    }

    func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// How many bytes of a page of events are written at a time.
    static let eventWriteSize = 64 * 1024

    /// A JSON answer of `head`, the events (``EventJSON/write(_:includeStream:singleLine:into:)``, with their
    /// streams) and `tail`. A large page is written as it is made, ``eventWriteSize`` bytes at a time: the
    /// client reads the first events while the last are written, and no page is held whole.
    func jsonEvents(head: String, _ events: [RecordedEvent], tail: StaticString) -> Response {
        jsonEvents(head: head, events, tail: tail) { EventJSON.write($0, includeStream: true, into: &$1) }
    }

    /// `head`, the events written by `write` and joined by `,`, and `tail`, in chunks of about ``eventWriteSize`` bytes.
    func jsonEvents<Event: Sendable>(
        head: String, _ events: [Event], tail: StaticString, write: @escaping @Sendable (Event, inout JSONBytes) -> Void
    ) -> Response {
        let body = ResponseBody { writer in
            var out = JSONBytes(capacity: min(Self.eventWriteSize, head.utf8.count + events.count * 400) + 512)
            out.append(raw: head)
            for (index, event) in events.enumerated() {
                if index > 0 { out.append(",") }
                write(event, &out)
                if out.bytes.count >= Self.eventWriteSize {
                    try await writer.write(ByteBuffer(bytes: out.bytes))
                    out.bytes.removeAll(keepingCapacity: true)
                }
            }
            out.append(tail)
            try await writer.write(ByteBuffer(bytes: out.bytes))
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: body)
    }

    func requireJSONContent(_ request: Request) throws {
        let type = (request.headers[.contentType] ?? "").split(separator: ";").first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }
        guard let type, Self.jsonTypes.contains(type) else {
            throw HTTPProblem(
                .unsupportedMediaType, "Unsupported Media Type", detail: "send Content-Type: one of \(Self.jsonTypes.joined(separator: ", "))")
        }
    }

    /// The body as text, checked as UTF-8 byte by byte (never repaired: a byte that is not UTF-8 is a 400, not a
    /// U+FFFD stored in its place). A leading byte order mark is ignored, as RFC 8259 allows.
    func bodyText(_ request: Request, _ context: BasicRequestContext) async throws -> String {
        let buffer = try await request.body.collect(upTo: configuration.maxBodySize)
        var bytes = buffer.readableBytesView[...]
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw HTTPProblem.badRequest("the body is not valid UTF-8")
        }
        return text
    }

    func limitAndOffset(_ request: Request) throws -> (Int, Int) {
        let query = request.uri.queryParameters
        func number(_ name: String, _ fallback: Int) throws -> Int {
            guard let text = query.get(name) else { return fallback }
            guard let value = Int(text) else { throw HTTPProblem.badRequest("\(name) must be a whole number, not \"\(text)\"") }
            return value
        }
        let limit = try number("limit", 20)
        if limit > configuration.maxListingLimit {
            throw HTTPProblem.badRequest("limit must be at most \(configuration.maxListingLimit), not \(limit)")
        }
        return (limit, try number("offset", 0))
    }

    /// `meta_N_field/operator/value` (and `property_N_…` when allowed) as a matcher.
    func matcher(_ request: Request, properties: Bool) throws -> MetadataMatcher? {
        var parts: [String: [String: String]] = [:]
        // Hummingbird decodes the values once already (and leaves the keys as sent).
        for (rawKey, value) in request.uri.queryParameters {
            let key = rawKey.removingPercentEncoding ?? String(rawKey)
            guard key.hasPrefix("meta_") || key.hasPrefix("property_") else { continue }
            let pieces = key.split(separator: "_", omittingEmptySubsequences: false)
            guard pieces.count == 3, !pieces[1].isEmpty, pieces[1].allSatisfy({ $0.isASCII && $0.isNumber }),
                ["field", "operator", "value"].contains(pieces[2])
            else {
                throw HTTPProblem.badRequest(
                    "\"\(key)\" is not a condition: use meta_N_field, meta_N_operator and meta_N_value (N a number), or property_N_…")
            }
            if pieces[0] == "property", !properties {
                throw HTTPProblem.badRequest("property conditions are not accepted on this route")
            }
            let name = "\(pieces[0])_\(pieces[1])"
            if parts[name]?[String(pieces[2])] != nil { throw HTTPProblem.badRequest("\(key) is given twice") }
            parts[name, default: [:]][String(pieces[2])] = String(value)
        }
        var matcher = MetadataMatcher()
        for name in parts.keys.sorted() {
            guard let condition = parts[name], let field = condition["field"], let opText = condition["operator"],
                let valueText = condition["value"]
            else { throw HTTPProblem.badRequest("\(name) needs a field, an operator and a value") }
            guard let op = Self.matcherOperator(opText) else {
                throw HTTPProblem.badRequest("unknown operator \"\(opText)\" (=, !=, >, >=, <, <=, in, nin, regex, or EQUALS, NOT_EQUALS, …)")
            }
            var value = try EventJSON.matcherValue(valueText)
            if op == .regex { value = .scalar(.string(valueText)) }
            if name.hasPrefix("property") {
                guard let property = MetadataMatcher.MessageProperty(rawValue: field) else {
                    throw HTTPProblem.badRequest("unknown property \"\(field)\" (uuid, message_name, created_at, position)")
                }
                matcher = try matcher.property(property, op, value)
            } else {
                matcher = try matcher.metadata(field, op, value)
            }
        }
        return matcher.isEmpty ? nil : matcher
    }

    static func matcherOperator(_ text: String) -> MetadataMatcher.Operator? {
        switch text.uppercased() {
        case "EQUALS": return .equals
        case "NOT_EQUALS": return .notEquals
        case "GREATER_THAN": return .greaterThan
        case "GREATER_THAN_EQUALS": return .greaterThanOrEquals
        case "LOWER_THAN": return .lessThan
        case "LOWER_THAN_EQUALS": return .lessThanOrEquals
        case "IN": return .in
        case "NOT_IN": return .notIn
        case "REGEX": return .regex
        default: return MetadataMatcher.Operator(symbol: text)
        }
    }

    // MARK: Streams

    func loadStream(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let name = try streamName(context)
        let accept = request.headers[.accept] ?? ""
        // The configured address, never the request's Host header (which a client, or a DNS-rebinding page,
        // chooses).
        let base = configuration.publicBaseURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 } ?? "http://127.0.0.1"
        let encodedName = name.rawValue.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? name.rawValue
        guard Self.jsonTypes.contains(where: { accept.contains($0) }) else {
            let stream = "\(base)/stream/\(encodedName)"
            let body = """
                {"title":\(JSONValue.string("Description document for '\(name)'").jsonText),\
                "description":"The description document will be presented when no accept header is present or it was requested",\
                "_links":{"self":{"href":\(JSONValue.string(stream).jsonText),"supportedContentTypes":["application/vnd.eventstore.streamdesc+json"]},\
                "stream":{"href":\(JSONValue.string(stream).jsonText),"supportedContentTypes":["application/vnd.eventstore.atom+json","application/atom+json","application/json"]}}}
                """
            return Response(
                status: .ok, headers: [.contentType: "application/vnd.eventstore.streamdesc+json; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
        }
        let startText = context.parameters.get("start") ?? "1"
        let directionText = context.parameters.get("direction") ?? "forward"
        let countText = context.parameters.get("count") ?? "10"
        guard directionText == "forward" || directionText == "backward" else {
            throw HTTPProblem.badRequest("the direction is forward or backward, not \"\(directionText)\"")
        }
        let forward = directionText == "forward"
        let start: Int?
        if startText == "head" {
            // The head is the last event: forward from it reads that event (and any appended since).
            if forward {
                start = try await store.loadReverse(name, from: nil, count: 1).collect().first?.position ?? 1
            } else {
                start = nil
            }
        } else {
            guard let value = Int(startText), value >= 1 else {
                throw HTTPProblem.badRequest("the start is head or a position of 1 or more, not \"\(startText)\"")
            }
            start = value
        }
        guard let count = Int(countText), count >= 1, count <= 10_000 else {
            throw HTTPProblem.badRequest("the count is a number from 1 to 10000, not \"\(countText)\"")
        }
        let matcher = try self.matcher(request, properties: true)
        let events = forward
            ? try await store.load(name, from: start ?? 1, count: count, matching: matcher).collect()
            : try await store.loadReverse(name, from: start, count: count, matching: matcher).collect()
        let query = request.uri.query.map { "?" + $0 } ?? ""
        func link(_ start: String, _ direction: String) -> String {
            "\(base)/stream/\(encodedName)/\(start)/\(direction)/\(count)\(query)"
        }
        let selfURI = link(startText, directionText)
        var links: [(String, String)] = [(selfURI, "self"), (link("1", "forward"), "first"), (link("head", "backward"), "last")]
        if forward {
            if events.count == count, let last = events.last { links.append((link(String(last.position + 1), "forward"), "next")) }
            if let start, start > 1 { links.append((link(String(start - 1), "backward"), "previous")) }
        } else {
            if events.count == count, let last = events.last, last.position > 1 {
                links.append((link(String(last.position - 1), "backward"), "next"))
            }
            if start != nil, let first = events.first { links.append((link(String(first.position + 1), "forward"), "previous")) }
        }
        var head = "{\"title\":" + JSONValue.string("Event stream '\(name)'").jsonText
        head += ",\"id\":" + JSONValue.string(selfURI).jsonText
        head += ",\"streamName\":" + JSONValue.string(name.rawValue).jsonText
        head += ",\"_links\":[" + links.map { "{\"uri\":\(JSONValue.string($0.0).jsonText),\"relation\":\"\($0.1)\"}" }.joined(separator: ",")
        head += "],\"entries\":["
        return jsonEvents(head: head, events, tail: "]}")
    }

    func postStream(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let name = try streamName(context)
        try requireJSONContent(request)
        let expected: ExpectedVersion
        if let header = request.headers[Self.expectedVersionHeader] {
            guard let parsed = ExpectedVersion(header) else {
                throw HTTPProblem.badRequest("ES-ExpectedVersion is any, no-stream, exists or a version number, not \"\(header)\"")
            }
            expected = parsed
        } else {
            expected = .any
        }
        let events = try EventJSON.messages(fromArray: try await bodyText(request, context))
        guard !events.isEmpty else { throw HTTPProblem.badRequest("the body must be a non-empty JSON array of events") }
        let appended: AppendResult
        do {
            appended = try await store.append(events, to: name, expectedVersion: expected)
        } catch let error as EventStoreError where error.code == .streamNotFound && expected == .any {
            // prooph's route creates a missing stream. The append is tried first, since most streams exist:
            // asking first cost every append a read (and a new stream's first append now counts one
            // stream_not_found in the store's metrics).
            do {
                appended = try await store.append(events, to: name, expectedVersion: .noStream)
            } catch let error as EventStoreError where error.code == .wrongExpectedVersion {
                // Another writer created it meanwhile: append after its events.
                appended = try await store.append(events, to: name, expectedVersion: .any)
            }
        }
        return Response(status: .noContent, headers: [Self.streamVersionHeader: String(appended.streamVersion)])
    }

    /// `POST /append`: the writes of the body (``EventJSON/streamWrites(fromArray:)``) in one transaction,
    /// every one or none; answers each write's stream, version and last global position.
    func writeStreams(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        try requireJSONContent(request)
        let writes = try EventJSON.streamWrites(fromArray: try await bodyText(request, context))
        @Sendable func run(_ writes: [EventJSON.StreamWrite], on store: any EventStore) async throws -> [AppendResult?] {
            var results: [AppendResult?] = []
            for write in writes {
                switch write.operation {
                case let .append(events, expectedVersion):
                    results.append(try await store.append(events, to: write.stream, expectedVersion: expectedVersion))
                case let .create(metadata, events):
                    results.append(try await store.create(write.stream, metadata: metadata, events: events))
                case let .updateMetadata(metadata):
                    try await store.updateStreamMetadata(metadata, of: write.stream)
                    results.append(nil)
                case let .delete(mode):
                    try await store.delete(write.stream, mode: mode)
                    results.append(nil)
                }
            }
            return results
        }
        // One write is all or nothing by itself: a transaction around it would only cost its BEGIN and COMMIT.
        let results = writes.count == 1 ? try await run(writes, on: store) : try await store.transaction { try await run(writes, on: $0) }
        let items = zip(writes, results).map { write, result in
            let version = result.map { String($0.streamVersion) } ?? "null"
            let position = result?.lastGlobalPosition.map { JSONValue.string($0.description).jsonText } ?? "null"
            return "{\"stream\":\(JSONValue.string(write.stream.rawValue).jsonText),\"version\":\(version),\"position\":\(position)}"
        }
        return json("{\"results\":[" + items.joined(separator: ",") + "]}")
    }

    func streams(_ request: Request, filter: NameFilter) async throws -> Response {
        let (limit, offset) = try limitAndOffset(request)
        let names = try await store.streamNames(filter, matching: try matcher(request, properties: false), limit: limit, offset: offset)
        return json("[" + names.map { JSONValue.string($0.rawValue).jsonText }.joined(separator: ",") + "]")
    }

    func categories(_ request: Request, filter: NameFilter) async throws -> Response {
        let (limit, offset) = try limitAndOffset(request)
        let names = try await store.categoryNames(filter, limit: limit, offset: offset)
        return json("[" + names.map { JSONValue.string($0).jsonText }.joined(separator: ",") + "]")
    }

    // MARK: Server-Sent Events

    /// `GET /subscribe/all` (`stream` and `category` name the target), `/subscribe/stream/{name}` and
    /// `/subscribe/category/{name}`, each answered by `subscribe` with its target.
    func registerSubscribe(
        on router: Router<BasicRequestContext>,
        _ subscribe: @escaping @Sendable (Request, SubscriptionTarget, Logger) async throws -> Response
    ) {
        router.get("/subscribe/all") { request, context in
            try await subscribe(request, try Self.globalOrderTarget(request), context.logger)
        }
        router.get("/subscribe/stream/{name}") { request, context in
            try await subscribe(request, .stream(try streamName(context)), context.logger)
        }
        router.get("/subscribe/category/{name}") { request, context in
            try await subscribe(request, .category(try parameter(context, "name")), context.logger)
        }
    }

    /// Server-Sent Events of `target`.
    func subscribe(
        _ store: any GlobalOrderEventStore, _ request: Request, to target: SubscriptionTarget, logger: Logger
    ) async throws
        -> Response
    {
        let fromText = request.headers[Self.lastEventIDHeader] ?? request.uri.queryParameters.get("from")
        let start: SubscriptionStart
        if let fromText, !fromText.isEmpty {
            guard let position = GlobalPosition(fromText) else {
                throw HTTPProblem.badRequest("from is a global position such as 42 or 7:42, not \"\(fromText)\"")
            }
            start = .after(position)
        } else {
            start = .start
        }
        let subscription = try await openEventStream { try await store.subscribe(to: target, from: start) }
        return eventStream(of: target, subscription, logger: logger) { event in
            (event, "\(event.globalPosition)", EventJSON.line(for: event, includeStream: true))
        }
    }

    /// The Server-Sent-Events response of `subscription`: for each element, the event's `id` (where a client
    /// resumes: `Last-Event-ID`), its message name and its `data`, as `frame` gives them.
    func eventStream<Events: AsyncSequence & Sendable>(
        of target: SubscriptionTarget, _ subscription: Events, logger: Logger,
        frame: @escaping @Sendable (Events.Element) -> (event: RecordedEvent, id: String, data: String)
    ) -> Response {
        eventStream(describing: "\(target)", logger: logger) { frames in
            await frames.send(ByteBuffer(string: ": subscribed to \(target)\n\n"))
            do {
                for try await element in subscription {
                    let (event, id, data) = frame(element)
                    // Names with line breaks are refused on write; one stored before that cannot end the field.
                    let name = String(event.messageName.unicodeScalars.map { $0 == "\n" || $0 == "\r" ? " " : Character($0) })
                    await frames.send(ByteBuffer(string: "id: \(id)\nevent: \(name)\ndata: \(data)\n\n"))
                }
            } catch {
                // The subscription retries backend failures itself: what ends it is for the client to know
                // (and the log), not a stream that goes on with keep-alives only.
                logger.error("event stream of \(target) ended", metadata: ["error": "\(error)"])
                await frames.send(ByteBuffer(string: Self.errorFrame(for: error)))
            }
        }
    }

    /// Checks, for a 503 before any byte of a stream, that another event stream may open, then runs `open`
    /// (its errors are the response's).
    func openEventStream<T>(_ open: () async throws -> T) async throws -> T {
        // Counted while the body runs, so that a response whose body never runs (its client went away
        // first) holds no place.
        guard subscribers.count < configuration.maxSubscribers else {
            throw HTTPProblem(
                .serviceUnavailable, "Service Unavailable",
                detail: "\(configuration.maxSubscribers) event streams are open already: try again later")
        }
        return try await open()
    }

    /// A Server-Sent-Events response whose frames `produce` sends; the stream ends when it returns.
    ///
    /// Frames go through a channel: sending waits for the write (back-pressure), heartbeats find a client
    /// that went away, and a graceful shutdown ends the stream. The writes run in a child task timed by
    /// another: a client that stops reading cannot hold the stream, or a shutdown, for longer than the write
    /// timeout. `produce` is cancelled when the stream ends otherwise.
    func eventStream(
        describing description: String, logger: Logger, produce: @escaping @Sendable (AsyncChannel<ByteBuffer>) async -> Void
    ) -> Response {
        let (heartbeat, writeTimeout) = (configuration.heartbeatInterval, configuration.eventStreamWriteTimeout)
        let subscribers = self.subscribers
        let stalledStreams = configuration.metricsRegistry?.makeCounter(descriptor: Self.stalledStreamsDescriptor)
        let body = ResponseBody { writer in
            subscribers.enter()
            defer { subscribers.leave() }
            let frames = AsyncChannel<ByteBuffer>()
            let output = EventStreamOutput(writer)
            let timedOut = try await withGracefulShutdownHandler {
                try await withThrowingTaskGroup(of: EventStreamChild.self) { group in
                    group.addTask {
                        await produce(frames)
                        frames.finish()
                        return .producer
                    }
                    group.addTask {
                        while true {
                            try await Task.sleep(for: heartbeat)
                            await frames.send(ByteBuffer(string: ": keep-alive\n\n"))
                        }
                    }
                    group.addTask {
                        for await frame in frames { try await output.write(frame) }
                        return .writer
                    }
                    group.addTask {
                        try await output.waitForStall(longerThan: writeTimeout)
                        return .stallTimer
                    }
                    defer { group.cancelAll() }
                    // The writer ends first when the stream ends (or is shut down); the stall timer when the
                    // client stopped reading.
                    while let child = try await group.next() {
                        if child != .producer { return child == .stallTimer }
                    }
                    return false
                }
            } onGracefulShutdown: {
                frames.finish()
            }
            if timedOut {
                logger.warning("event stream of \(description) closed: its client read nothing for \(writeTimeout)")
                stalledStreams?.increment()
                throw EventStreamStalled()
            }
            try await output.finish()
        }
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }

    // MARK: Projections

    func registerProjections(on router: Router<BasicRequestContext>, _ manager: ProjectionManager) {
        router.get("/projections") { request, _ in try await projections(manager, request, filter: .all) }
        router.get("/projections/{filter}") { request, context in
            try await projections(manager, request, filter: .exact(try parameter(context, "filter")))
        }
        router.get("/projections-regex/{filter}") { request, context in
            try await projections(manager, request, filter: .regex(try parameter(context, "filter")))
        }
        router.post("/projection/delete/{name}/{withEmittedEvents}") { _, context in
            let flag = try parameter(context, "withEmittedEvents")
            guard flag == "true" || flag == "false" else {
                throw HTTPProblem.badRequest("the last part says whether to delete emitted events: true or false, not \"\(flag)\"")
            }
            try await manager.deleteProjection(try parameter(context, "name"), deleteEmittedEvents: flag == "true")
            return Response(status: .noContent)
        }
        router.post("/projection/reset/{name}") { _, context in
            try await manager.resetProjection(try parameter(context, "name"))
            return Response(status: .noContent)
        }
        router.post("/projection/stop/{name}") { _, context in
            try await manager.stopProjection(try parameter(context, "name"))
            return Response(status: .noContent)
        }
        router.get("/projection/status/{name}") { _, context in
            let record = try await manager.record(try parameter(context, "name"))
            // prooph put the status in the reason phrase (`200 RUNNING`), which HTTP/2 and many clients drop: here it
            // is the body.
            let body = JSONValue.object([
                (key: "name", value: .string(record.name)), (key: "kind", value: .string(record.kind.rawValue)),
                (key: "status", value: .string(record.status.rawValue)),
            ])
            return json(body.jsonText)
        }
        router.get("/projection/state/{name}") { _, context in
            json(try await manager.state(of: try parameter(context, "name")).jsonText)
        }
        router.get("/projection/stream-positions/{name}") { _, context in
            let name = try parameter(context, "name")
            let positions = try await manager.streamPositions(of: name)
            return json(ProjectionRecord.streamPositionsJSON(positions))
        }
    }

    func projections(_ manager: ProjectionManager, _ request: Request, filter: NameFilter) async throws -> Response {
        let (limit, offset) = try limitAndOffset(request)
        let names = try await manager.projectionNames(filter, limit: limit, offset: offset)
        return json("[" + names.map { JSONValue.string($0).jsonText }.joined(separator: ",") + "]")
    }

    /// The routes that need no token.
    static let healthPaths: Set<String> = ["/health", "/health/live", "/health/ready"]

    /// Why the store is not ready, `nil` when its database answered within `timeout` (and, with a `watch`,
    /// readers of the global order have not waited past its threshold). The check runs in a
    /// task of its own, so that a call the backend cannot give up (a blocked client library) cannot hold the
    /// answer past `timeout`; it ends within the backend's own deadline.
    static func readinessProblem(of store: any EventStore, watch: GlobalOrderWatch?, within timeout: Duration) async -> String? {
        await answer(within: timeout, late: "the event store did not answer within \(timeout)") { () -> String? in
            do {
                if let watch {
                    // The watch reads the database: its answer is also whether the database answers.
                    if let stall = try await watch.check(), stall.age >= watch.threshold { return "\(stall)" }
                } else if let partitioned = store as? PartitionedEventStore {
                    // Ready while a member answers: the other members' streams are served (and every server of
                    // the store shares its members, so taking this one out of service would help nothing).
                    try await Self.someMemberAnswers(partitioned)
                } else {
                    _ = try await store.hasStream("$health")
                }
                return nil
            } catch {
                return "the event store does not answer: \(error)"
            }
        }
    }

    /// What `work` returns, or `late` once `timeout` passes first: `work` then goes on unwaited for, bounded
    /// by the store's own deadlines.
    static func answer<T: Sendable>(within timeout: Duration, late: T, _ work: @escaping @Sendable () async -> T) async -> T {
        let answer = FirstAnswer<T>()
        return await withCheckedContinuation { continuation in
            answer.wait(continuation)
            let timer = Task {
                try await Task.sleep(for: timeout)
                answer.give(late)
            }
            Task {
                answer.give(await work())
                // A timer of work that answered would sleep on for nothing.
                timer.cancel()
            }
        }
    }

    /// Returns once a member of `store` answers. - Throws: the first member's failure when none does.
    static func someMemberAnswers(_ store: PartitionedEventStore) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for member in store.members { group.addTask { _ = try await member.store.hasStream("$health") } }
            var first: (any Error)?
            while let result = await group.nextResult() {
                switch result {
                case .success:
                    group.cancelAll()
                    return
                case let .failure(error):
                    first = first ?? error
                }
            }
            if let first { throw first }
        }
    }

    /// The first of several answers, given to one waiter.
    private final class FirstAnswer<T: Sendable>: Sendable {
        private let waiter = Mutex<CheckedContinuation<T, Never>?>(nil)

        func wait(_ continuation: CheckedContinuation<T, Never>) { waiter.withLock { $0 = continuation } }
        func give(_ answer: T) { waiter.withLock { $0.take() }?.resume(returning: answer) }
    }

    /// `eventstore_event_streams_stalled_total`.
    static var stalledStreamsDescriptor: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "eventstore_event_streams_stalled", unitName: "total",
            helpText: "Server-Sent-Events streams closed because their client read nothing for the write timeout.")
    }
    /// `eventstore_event_streams_open`.
    static var openStreamsDescriptor: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "eventstore_event_streams", unitName: "open", helpText: "Server-Sent-Events streams open now.")
    }
    /// `eventstore_store_up`.
    static var storeUpDescriptor: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "eventstore_store", unitName: "up",
            helpText: "1 when the event store answered this scrape's questions within the readiness timeout, else 0 (its gauges then keep the last values it gave).")
    }
    /// `eventstore_global_order_stall_seconds`.
    static var globalOrderStallDescriptor: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "eventstore_global_order_stall", unitName: "seconds",
            helpText: "How long readers of the global order have waited for an open transaction (0: they do not wait).")
    }

    /// The most events counted behind a projection, and the most projections measured, per scrape.
    static let lagCountLimit = 10_000
    static let lagProjectionLimit = 200
    /// `eventstore_projection_lag_events`.
    static var lagDescriptor: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "eventstore_projection_lag", unitName: "events",
            helpText: "Events of its sources stored after the last one each projection saved (counted up to \(lagCountLimit)).")
    }

    /// `eventstore_projection_lag_seconds`.
    static var lagSecondsDescriptor: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "eventstore_projection_lag", unitName: "seconds",
            helpText: "How long ago the oldest event of its sources that each projection has not handled was recorded (0: none).")
    }

    /// Sets `eventstore_projection_lag_events{projection}`: how many events of the projection's own sources
    /// are stored after the last one it saved, counted up to ``lagCountLimit`` by a count query (no event is
    /// read), and `eventstore_projection_lag_seconds{projection}`: how long ago the first of them was recorded
    /// (a read of one event). A row from a build that did not keep sources is counted against every stream.
    static func updateProjectionLag(in registry: PrometheusCollectorRegistry, store: any ProjectionStore) async throws {
        let names = try await store.projectionNames(.all, limit: lagProjectionLimit, offset: 0)
        let feed = store.projectionFeed
        for name in names {
            guard let record = try await store.projectionRecord(named: name) else { continue }
            let (after, source) = (record.position ?? feed.start, record.source ?? .all)
            let behind = try await feed.count(after: after, of: source, limit: lagCountLimit)
            registry.makeGauge(descriptor: lagDescriptor, labels: [("projection", name)]).set(Double(behind))
            let oldest = behind > 0 ? try await feed.first(after: after, of: source) : nil
            let seconds = oldest.map { max(0, Date().timeIntervalSince($0.createdAt)) } ?? 0
            registry.makeGauge(descriptor: lagSecondsDescriptor, labels: [("projection", name)]).set(seconds)
        }
    }
}

/// The Server-Sent-Events streams open at once.
final class SubscriberCount: Sendable {
    private let open = Atomic<Int>(0)

    var count: Int { open.load(ordering: .relaxed) }
    func enter() { open.add(1, ordering: .relaxed) }
    func leave() { open.subtract(1, ordering: .relaxed) }
}

/// The writer of an event stream, used by one task at a time (the writing child task, then the response's
/// own task to finish it), which the unchecked `Sendable` stands for; it times each write, so that a
/// client that stops reading is found.
private final class EventStreamOutput: @unchecked Sendable {
    private var writer: any ResponseBodyWriter
    /// When the write in progress began; `nil` between writes.
    private let writeStarted = Mutex<ContinuousClock.Instant?>(nil)
    init(_ writer: any ResponseBodyWriter) { self.writer = writer }

    func write(_ frame: ByteBuffer) async throws {
        writeStarted.withLock { $0 = .now }
        try await writer.write(frame)
        writeStarted.withLock { $0 = nil }
    }

    func finish() async throws { try await writer.finish(nil) }

    /// Returns when one write has waited longer than `limit` for the client; never otherwise (until
    /// cancelled).
    func waitForStall(longerThan limit: Duration) async throws {
        while true {
            let started = writeStarted.withLock { $0 }
            if let started, ContinuousClock.now - started >= limit { return }
            try await Task.sleep(until: (started ?? .now) + limit)
        }
    }
}

extension Routes {
    /// The last frame of an event stream that failed: `event: error` with a problem document, as a
    /// request that failed the same way would have been answered.
    static func errorFrame(for error: any Error) -> String {
        let problem: HTTPProblem
        if let error = error as? EventStoreError {
            problem = HTTPProblem.from(error)
        } else {
            problem = HTTPProblem(.internalServerError, "Internal Server Error", detail: "the event stream failed; see the server log")
        }
        return "event: error\ndata: \(problem.jsonText)\n\n"
    }
}

/// The child tasks of an event stream, by what they return when they end.
private enum EventStreamChild: Sendable {
    /// The subscription ended (with an error frame, or a shutdown); the writer may have frames left.
    case producer
    /// Every frame is written.
    case writer
    /// A write waited for the client longer than the write timeout.
    case stallTimer
}

/// An event stream whose client read nothing for the write timeout: the connection is closed.
struct EventStreamStalled: Error {}
