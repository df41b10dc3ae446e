@_spi(Backend) import EventStore
import Foundation
import Hummingbird
import Logging

/// The routes of a partitioned store's merged order (issue 25): those of a single store's global order,
/// with composite positions (text `a=1042,b=7:15`, one part per member in name order; the empty text is
/// the start) in place of global positions:
///
/// - `GET /all?after=P&limit=N[&stream=S…|&category=C…]`: `{"read_through", "unavailable", "events"}`, each
///   event with its `member` and its `composite_position` (where a reader that handled it resumes);
///   `unavailable` names the members that could not be read (their events come once they answer);
/// - `GET /head`: `{"head"}`, every member's last committed position;
/// - `GET /checkpoints/{name}` (`{"position"}`, `null` when none) and `PUT /checkpoints/{name}` with
///   `{"position"}`: each member keeps its part;
/// - `GET /subscribe/all`, `/subscribe/stream/{name}`, `/subscribe/category/{name}`: Server-Sent Events, each
///   event's `id` its composite position (`Last-Event-ID` or `?from=` resumes after it).
///
/// `GET /all/count` is not served: a member's count would include its copies of moved buckets.
extension Routes {
    func registerPartitionedOrder(on router: Router<BasicRequestContext>, _ store: PartitionedEventStore) {
        router.get("/all") { request, _ in
            let (after, target, limit) = try Self.orderQuery(request, start: "", position: Self.compositePosition)
            let page = try await store.readAll(after: after, of: target, limit: limit)
            let unavailable = page.unavailable.keys.sorted().map { JSONValue.string($0).jsonText }.joined(separator: ",")
            // read_through first: the events close the object.
            let head = "{\"read_through\":\(JSONValue.string(page.position.description).jsonText),\"unavailable\":[\(unavailable)],\"events\":["
            return jsonEvents(head: head, page.events, tail: "]}") { EventJSON.write($0, into: &$1) }
        }
        router.get("/head") { _, _ in
            json("{\"head\":\(JSONValue.string(try await store.headPosition().description).jsonText)}")
        }
        router.get("/checkpoints/{name}") { _, context in
            let position = try await store.checkpoint(named: try parameter(context, "name"))
            return json("{\"position\":\(position.map { JSONValue.string($0.description).jsonText } ?? "null")}")
        }
        router.put("/checkpoints/{name}") { request, context in
            let body = try await jsonBody(request, context)
            guard case let .string(text)? = body["position"], let position = CompositePosition(text) else {
                throw HTTPProblem.badRequest("the body is {\"position\": P}, P a composite position such as \"a=42,b=7:42\"")
            }
            try await store.saveCheckpoint(position, named: try parameter(context, "name"))
            return Response(status: .noContent)
        }
        registerSubscribe(on: router) { request, target, logger in try await subscribe(store, request, to: target, logger: logger) }
    }

    /// Server-Sent Events of `target` in the merged order, after the position `Last-Event-ID` or `from` names.
    func subscribe(_ store: PartitionedEventStore, _ request: Request, to target: SubscriptionTarget, logger: Logger) async throws
        -> Response
    {
        let fromText = request.headers[Self.lastEventIDHeader] ?? request.uri.queryParameters.get("from")
        let start = try fromText.map(Self.compositePosition) ?? .start
        let subscription = try await openEventStream { try await store.subscribe(to: target, from: .after(start)) }
        return eventStream(of: target, subscription, logger: logger) { event in
            (event.event, event.position.description, EventJSON.line(for: event))
        }
    }

    /// A composite position of a request. - Throws: a 400 problem for text that is none.
    static func compositePosition(_ text: String) throws -> CompositePosition {
        guard let position = CompositePosition(text) else {
            throw HTTPProblem.badRequest("a position here is composite, such as a=42,b=7:42 (empty for the start), not \"\(text)\"")
        }
        return position
    }
}
