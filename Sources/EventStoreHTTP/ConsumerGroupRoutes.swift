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
///   `POST /groups/{name}/ack` and `/nack` with `{"ids":[…]}` for many; `POST /groups/{name}/leave?consumer=C`
///   hands what C holds to the others; `GET /groups/{name}/follow?consumer=C` hands deliveries out as
///   Server-Sent Events;
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
            try await store.createConsumerGroup(try ConsumerGroup(name: name, json: body), from: try ConsumerGroupStart(json: body["start"]))
            return json(try await store.consumerGroup(named: name).json.jsonText, status: .created)
        }
        router.post("/groups/{name}") { request, context in
            let name = try parameter(context, "name")
            try await store.updateConsumerGroup(try ConsumerGroup(name: name, json: try await jsonBody(request, context)))
            return Response(status: .noContent)
        }
        router.delete("/groups/{name}") { _, context in
            try await store.deleteConsumerGroup(named: try parameter(context, "name"))
            return Response(status: .noContent)
        }
        router.post("/groups/{name}/move") { request, context in
            let body = try await jsonBody(request, context)
            try await store.moveConsumerGroup(named: try parameter(context, "name"), to: try ConsumerGroupStart(json: body["start"]))
            return Response(status: .noContent)
        }
        router.post("/groups/{name}/take") { request, context in
            let name = try parameter(context, "name")
            let (consumer, count) = try Self.consumerAndCount(request, defaultCount: 1)
            let deliveries = try await store.take(from: name, consumer: consumer, count: count)
            return json("{\"deliveries\":[" + deliveries.map { Self.deliveryJSON($0, group: name) }.joined(separator: ",") + "]}")
        }
        router.post("/groups/{name}/leave") { request, context in
            guard let consumer = request.uri.queryParameters.get("consumer"), !consumer.isEmpty else {
                throw HTTPProblem.badRequest("name the consumer: ?consumer=NAME")
            }
            try await store.leave(try parameter(context, "name"), consumer: consumer)
            return Response(status: .noContent)
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
