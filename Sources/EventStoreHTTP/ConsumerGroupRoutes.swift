import AsyncAlgorithms
import EventStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Prometheus
import Synchronization

/// The consumer group routes (issue 23), KurrentDB's competing-consumer API in this API's style:
///
/// - `GET /groups` (names), `GET /groups/{name}` (checkpoint, consumers, counters, lag);
/// - `PUT /groups/{name}` creates (201; 409 when it exists), `POST /groups/{name}` updates,
///   `DELETE /groups/{name}` deletes, `POST /groups/{name}/move` starts it over;
/// - `POST /groups/{name}/take?consumer=C&count=N` hands out up to N deliveries, each with its ack and nack
///   links; `POST /groups/{name}/ack/{id}` and `POST /groups/{name}/nack/{id}?action=retry|park|skip`, or
///   `POST /groups/{name}/ack` and `/nack` with `{"ids":[…]}` for many; `GET /groups/{name}/follow?consumer=C`
///   hands them out as Server-Sent Events;
/// - `GET /groups/{name}/parked`, `POST /groups/{name}/replay-parked`.
///
/// Every route that changes a group is a POST, PUT or DELETE, but `follow`, which the token middleware
/// keeps for write tokens too: read-only tokens may only look.
extension Routes {
    func registerConsumerGroups(on router: Router<BasicRequestContext>, _ store: any ConsumerGroupStore) {
        router.get("/groups") { request, _ in
            let (limit, offset) = try limitAndOffset(request)
            let names = try await store.consumerGroupNames(limit: limit, offset: offset)
            return json("[" + names.map { JSONValue.string($0).jsonText }.joined(separator: ",") + "]")
        }
        router.get("/groups/{name}") { _, context in
            json(try await store.consumerGroup(named: try parameter(context, "name")).json.jsonText)
        }
        router.put("/groups/{name}") { request, context in
            let name = try parameter(context, "name")
            let body = try await jsonBody(request, context)
            try await store.createConsumerGroup(try Self.group(named: name, from: body), from: try Self.start(body["start"]))
            return json(try await store.consumerGroup(named: name).json.jsonText, status: .created)
        }
        router.post("/groups/{name}") { request, context in
            let name = try parameter(context, "name")
            try await store.updateConsumerGroup(try Self.group(named: name, from: try await jsonBody(request, context)))
            return Response(status: .noContent)
        }
        router.delete("/groups/{name}") { _, context in
            try await store.deleteConsumerGroup(named: try parameter(context, "name"))
            return Response(status: .noContent)
        }
        router.post("/groups/{name}/move") { request, context in
            let body = try await jsonBody(request, context)
            try await store.moveConsumerGroup(named: try parameter(context, "name"), to: try Self.start(body["start"]))
            return Response(status: .noContent)
        }
        router.post("/groups/{name}/take") { request, context in
            let name = try parameter(context, "name")
            let (consumer, count) = try Self.consumerAndCount(request, defaultCount: 1)
            let deliveries = try await store.take(from: name, consumer: consumer, count: count)
            return json("{\"deliveries\":[" + deliveries.map { Self.deliveryJSON($0, group: name) }.joined(separator: ",") + "]}")
        }
        router.get("/groups/{name}/follow") { request, context in
            try await follow(store, group: try parameter(context, "name"), request, logger: context.logger)
        }
        router.post("/groups/{name}/ack/{id}") { request, context in
            let consumer = request.uri.queryParameters.get("consumer")
            let count = try await store.acknowledge([try Self.deliveryID(try parameter(context, "id"))], in: try parameter(context, "name"), consumer: consumer)
            return json("{\"acknowledged\":\(count)}")
        }
        router.post("/groups/{name}/ack") { request, context in
            let consumer = request.uri.queryParameters.get("consumer")
            let ids = try Self.deliveryIDs(try await jsonBody(request, context))
            let count = try await store.acknowledge(ids, in: try parameter(context, "name"), consumer: consumer)
            return json("{\"acknowledged\":\(count)}")
        }
        router.post("/groups/{name}/nack/{id}") { request, context in
            let query = request.uri.queryParameters
            let count = try await store.reject(
                [try Self.deliveryID(try parameter(context, "id"))], in: try parameter(context, "name"),
                action: try Self.action(query.get("action")), reason: query.get("reason"), consumer: query.get("consumer"))
            return json("{\"rejected\":\(count)}")
        }
        router.post("/groups/{name}/nack") { request, context in
            let body = try await jsonBody(request, context)
            let reason: String?
            switch body["reason"] {
            case nil, .null?: reason = nil
            case let .string(text)?: reason = text
            default: throw HTTPProblem.badRequest("reason is a string")
            }
            let actionText: String?
            switch body["action"] {
            case nil: actionText = nil
            case let .string(text)?: actionText = text
            default: throw HTTPProblem.badRequest("action is retry, park or skip")
            }
            let count = try await store.reject(
                try Self.deliveryIDs(body), in: try parameter(context, "name"), action: try Self.action(actionText), reason: reason,
                consumer: request.uri.queryParameters.get("consumer"))
            return json("{\"rejected\":\(count)}")
        }
        router.get("/groups/{name}/parked") { request, context in
            let (limit, _) = try limitAndOffset(request)
            if limit < 1 { throw HTTPProblem.badRequest("limit must be 1 or more, not \(limit)") }
            let parked = try await store.parkedEvents(in: try parameter(context, "name"), limit: limit)
            return json("[" + parked.map(\.jsonLine).joined(separator: ",") + "]")
        }
        router.post("/groups/{name}/replay-parked") { _, context in
            json("{\"replayed\":\(try await store.replayParkedEvents(in: try parameter(context, "name")))}")
        }
    }

    /// `GET /groups/{name}/follow?consumer=C&count=N`: the consumer's deliveries as Server-Sent Events
    /// (`event: delivery`, its id the delivery's, its data what `take` hands out), taken up to N (default 10)
    /// at a time as acknowledgements make room. Acknowledge or reject each through its links; the consumer
    /// leaves the group when the stream ends, and what it held goes to the others. A write token's route,
    /// though a GET: it takes deliveries.
    func follow(_ store: any ConsumerGroupStore, group name: String, _ request: Request, logger: Logger) async throws -> Response {
        let (consumer, count) = try Self.consumerAndCount(request, defaultCount: 10)
        let deliveries = try await openEventStream {
            _ = try await store.consumerGroup(named: name)  // a 404 before the stream starts
            return try store.consume(name, as: consumer, batchSize: count, logger: logger)
        }
        return eventStream(describing: "group \(name) for \(consumer)", logger: logger) { frames in
            await frames.send(ByteBuffer(string: ": following group \(name) as \(consumer)\n\n"))
            do {
                for try await delivery in deliveries {
                    let id = delivery.id.uuidString.lowercased()
                    await frames.send(ByteBuffer(string: "id: \(id)\nevent: delivery\ndata: \(Self.deliveryJSON(delivery, group: name))\n\n"))
                }
            } catch {
                logger.error("deliveries of group \(name) to \(consumer) ended", metadata: ["error": "\(error)"])
                await frames.send(ByteBuffer(string: Self.errorFrame(for: error)))
            }
        }
    }

    /// `?consumer=NAME&count=N` of `take` and `follow`: a name, and 1 to 1000 deliveries at a time.
    static func consumerAndCount(_ request: Request, defaultCount: Int) throws -> (consumer: String, count: Int) {
        let query = request.uri.queryParameters
        guard let consumer = query.get("consumer"), !consumer.isEmpty else {
            throw HTTPProblem.badRequest("name the consumer: ?consumer=NAME")
        }
        let countText = query.get("count") ?? String(defaultCount)
        guard let count = Int(countText), (1...1000).contains(count) else {
            throw HTTPProblem.badRequest("count is a whole number from 1 to 1000, not \"\(countText)\"")
        }
        return (consumer, count)
    }

    /// Whether a GET changes the store: following a consumer group takes its deliveries
    /// (`/groups/{name}/follow`; a name's own `/` is percent-encoded).
    static func isWriteOnGet(_ path: String) -> Bool {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[1] == "groups" && parts[3] == "follow"
    }

    /// The body as JSON.
    func jsonBody(_ request: Request, _ context: BasicRequestContext) async throws -> JSONValue {
        try requireJSONContent(request)
        let text = try await bodyText(request, context)
        do {
            return try JSONValue(parsing: text)
        } catch {
            throw HTTPProblem.badRequest("the body is not JSON: \(error)")
        }
    }

    /// A group from a body: `target` (`"all"`, `{"stream":…}`, `{"streams":[…]}`, `{"category":…}`,
    /// `{"categories":[…]}`), `settings` (`max_retries`, `message_timeout_ms`, `max_in_flight`, `strategy`),
    /// each optional but the target.
    static func group(named name: String, from body: JSONValue) throws -> ConsumerGroup {
        guard case .object = body else { throw HTTPProblem.badRequest("the body is a JSON object") }
        guard let targetValue = body["target"] else { throw HTTPProblem.badRequest("the body names a target") }
        var settings = ConsumerGroupSettings()
        if let given = body["settings"] {
            guard case .object = given else { throw HTTPProblem.badRequest("settings is an object") }
            func integer(_ key: String) throws -> Int? {
                guard let value = given[key] else { return nil }
                // JSON's 5.0 is a whole number too.
                guard let number = value.wholeNumber else {
                    throw HTTPProblem.badRequest("settings.\(key) is a whole number")
                }
                return number
            }
            if let retries = try integer("max_retries") { settings.maxRetries = retries }
            if let timeout = try integer("message_timeout_ms") {
                guard (1...86_400_000).contains(timeout) else {
                    throw HTTPProblem.badRequest("settings.message_timeout_ms is from 1 to 86400000, not \(timeout)")
                }
                settings.messageTimeout = .milliseconds(timeout)
            }
            if let inFlight = try integer("max_in_flight") { settings.maxInFlightPerConsumer = inFlight }
            if let strategy = given["strategy"] {
                guard case let .string(text) = strategy, let chosen = ConsumerGroupStrategy(rawValue: text) else {
                    throw HTTPProblem.badRequest("settings.strategy is round_robin or pinned_by_stream")
                }
                settings.strategy = chosen
            }
        }
        return ConsumerGroup(name: name, target: try target(targetValue), settings: settings)
    }

    static func target(_ value: JSONValue) throws -> SubscriptionTarget {
        func strings(_ value: JSONValue?) throws -> [String] {
            guard case let .array(items)? = value, !items.isEmpty else {
                throw HTTPProblem.badRequest("a list of names is an array of one or more strings")
            }
            return try items.map { item in
                guard case let .string(text) = item else { throw HTTPProblem.badRequest("a list of names is an array of strings") }
                return text
            }
        }
        switch value {
        case .string("all"):
            return .all
        case .object:
            if case let .string(stream)? = value["stream"] { return .stream(try StreamName(stream)) }
            if value["streams"] != nil { return .streams(try strings(value["streams"]).map { try StreamName($0) }) }
            if case let .string(category)? = value["category"] { return .category(category) }
            if value["categories"] != nil { return .categories(try strings(value["categories"])) }
        default:
            break
        }
        throw HTTPProblem.badRequest("the target is \"all\", or an object with stream, streams, category or categories")
    }

    /// `"start"` (the default) or `"end"`. A position to start after is the library's and the command line's:
    /// over HTTP it would be a schema-valid request that a store refuses when the position is past its head.
    static func start(_ value: JSONValue?) throws -> ConsumerGroupStart {
        switch value {
        case nil, .string("start")?: return .start
        case .string("end")?: return .end
        default: throw HTTPProblem.badRequest("start is \"start\" or \"end\"")
        }
    }

    static func action(_ text: String?) throws -> ConsumerGroupNack {
        guard let text else { return .retry }
        guard let action = ConsumerGroupNack(rawValue: text) else { throw HTTPProblem.badRequest("action is retry, park or skip, not \"\(text)\"") }
        return action
    }

    static func deliveryID(_ text: String) throws -> UUID {
        guard let id = UUID(uuidString: text) else { throw HTTPProblem.badRequest("a delivery id is a UUID, not \"\(text)\"") }
        return id
    }

    static func deliveryIDs(_ body: JSONValue) throws -> [UUID] {
        guard case let .array(items)? = body["ids"] else { throw HTTPProblem.badRequest("the body is {\"ids\":[…delivery ids…]}") }
        return try items.map { item in
            guard case let .string(text) = item else { throw HTTPProblem.badRequest("a delivery id is a string") }
            return try deliveryID(text)
        }
    }

    static func deliveryJSON(_ delivery: ConsumerGroupDelivery, group: String) -> String {
        let base = "/groups/" + (group.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? group)
        let id = delivery.id.uuidString.lowercased()
        return "{\"id\":\"\(id)\",\"attempt\":\(delivery.attempt),\"ack\":\(JSONValue.string("\(base)/ack/\(id)").jsonText),"
            + "\"nack\":\(JSONValue.string("\(base)/nack/\(id)").jsonText),\"event\":\(EventJSON.line(for: delivery.event, includeStream: true))}"
    }
}

/// The consumer groups' gauges in `/metrics`, one set per group (at most ``limit`` groups per scrape); the
/// gauges of a group that is gone are dropped at the next scrape.
final class ConsumerGroupMetrics: Sendable {
    static let limit = 200
    private let reported = Mutex<[String: [Gauge]]>([:])

    static let descriptors: [(name: String, unit: String, help: String)] = [
        ("eventstore_consumer_group_lag", "events", "Events of each group's target after its checkpoint (counted up to 10000)."),
        ("eventstore_consumer_group_lag", "seconds", "How long ago the oldest event each group has not settled was recorded (0: none)."),
        ("eventstore_consumer_group", "in_flight", "Events handed out to a consumer of each group and not yet acknowledged or rejected."),
        ("eventstore_consumer_group", "parked", "Events each group has set aside (after its maximum retries, or rejected with park)."),
        ("eventstore_consumer_group", "retries", "Events each group handed out again after a timeout or a retry, since it was made."),
        ("eventstore_consumer_group", "consumers", "Consumers of each group heard from within two message timeouts."),
    ]

    /// Sets every group's gauges from ``ConsumerGroupInfo`` (one count query and at most one read each).
    func update(in registry: PrometheusCollectorRegistry, store: any ConsumerGroupStore) async throws {
        let names = try await store.consumerGroupNames(limit: Self.limit, offset: 0)
        var gauges: [String: [Gauge]] = [:]
        for name in names {
            let info: ConsumerGroupInfo
            do {
                info = try await store.consumerGroup(named: name)
            } catch let error as EventStoreError where error.code == .consumerGroupNotFound {
                continue  // deleted since it was listed
            }
            let values = [
                Double(info.lagEvents), info.lagSeconds, Double(info.inFlight), Double(info.parked), Double(info.retries),
                Double(info.consumers.count),
            ]
            gauges[name] = zip(Self.descriptors, values).map { descriptor, value in
                let gauge = registry.makeGauge(
                    descriptor: MetricNameDescriptor(metricName: descriptor.name, unitName: descriptor.unit, helpText: descriptor.help),
                    labels: [("group", name)])
                gauge.set(value)
                return gauge
            }
        }
        let gone = reported.withLock { reported in
            defer { reported = gauges }
            return reported.filter { gauges[$0.key] == nil }.values.flatMap { $0 }
        }
        for gauge in gone { registry.unregisterGauge(gauge) }
    }
}
