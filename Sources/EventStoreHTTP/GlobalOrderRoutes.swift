@_spi(Backend) import EventStore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The routes a remote reader of the global order needs (issue 24), `EventStoreClient`'s among others:
///
/// - `GET /all?after=P&limit=N[&stream=S…|&category=C…]`: a page of the global order, `{"events", "read_through"}`
///   (`GET /subscribe/all` takes the same `stream` and `category`);
/// - `GET /all/count?after=P&limit=N[&…]`: `{"count"}`, how many events of the target follow `P`, up to `N`;
/// - `GET /subscribe/all`, `/subscribe/stream/{name}`, `/subscribe/category/{name}`: Server-Sent Events;
/// - `GET /head`: `{"head", "readable"}`, the last committed position and the one below which every event is readable;
/// - `GET /checkpoints/{name}` (`{"position"}`, `null` when none) and `PUT /checkpoints/{name}` with `{"position"}`;
/// - `GET /snapshots/{type}/{id}`, `POST /snapshots` with an array of snapshots, `DELETE /snapshots/{type}`;
/// - `POST /scavenge`: `{"streams", "events"}` removed.
///
/// Positions are written as events carry them: a number, or `"commit:sequence"` on PostgreSQL.
extension Routes {
    /// The most events one `GET /all` page holds.
    static let maxGlobalOrderPage = 10_000

    func registerGlobalOrder(on router: Router<BasicRequestContext>, _ store: any GlobalOrderEventStore) {
        registerSubscribe(on: router) { request, target, logger in try await subscribe(store, request, to: target, logger: logger) }
        router.get("/all") { request, _ in
            let (after, target, limit) = try Self.globalOrderQuery(request)
            let page = try await store.readPage(after: after, of: target, limit: limit)
            // read_through first: the events close the object.
            let head = "{\"read_through\":" + Self.positionJSON(page.readThrough) + ",\"events\":["
            return jsonEvents(head: head, page.events, tail: "]}")
        }
        router.get("/all/count") { request, _ in
            let (after, target, limit) = try Self.globalOrderQuery(request, maxLimit: Int.max)
            return json("{\"count\":\(try await store.eventCount(after: after, of: target, limit: limit))}")
        }
        router.get("/head") { _, _ in
            let head = try await store.headPosition()
            let readable = try await store.readableHead()
            return json("{\"head\":\(Self.positionJSON(head)),\"readable\":\(Self.positionJSON(readable))}")
        }
        router.get("/checkpoints/{name}") { _, context in
            let position = try await store.checkpoint(named: try parameter(context, "name"))
            return json("{\"position\":\(position.map(Self.positionJSON) ?? "null")}")
        }
        router.put("/checkpoints/{name}") { request, context in
            let body = try await jsonBody(request, context)
            guard let position = body["position"]?.globalPosition else {
                throw HTTPProblem.badRequest("the body is {\"position\": P}, P a global position such as 42 or \"7:42\"")
            }
            try await store.saveCheckpoint(position, named: try parameter(context, "name"))
            return Response(status: .noContent)
        }
    }

    func registerSnapshots(on router: Router<BasicRequestContext>, _ store: any SnapshotStore) {
        router.get("/snapshots/{type}/{id}") { _, context in
            guard let snapshot = try await store.snapshot(ofType: try parameter(context, "type"), id: try parameter(context, "id")) else {
                throw HTTPProblem(.notFound, "Not Found", detail: "no snapshot of that aggregate")
            }
            return json(EventJSON.object(for: snapshot))
        }
        router.post("/snapshots") { request, context in
            try requireJSONContent(request)
            try await store.save(try EventJSON.snapshots(fromArray: try await bodyText(request, context)))
            return Response(status: .noContent)
        }
        router.delete("/snapshots/{type}") { _, context in
            try await store.removeAll(ofType: try parameter(context, "type"))
            return Response(status: .noContent)
        }
    }

    func registerScavenge(on router: Router<BasicRequestContext>, _ store: any ScavengingEventStore) {
        router.post("/scavenge") { _, _ in
            let result = try await store.scavenge()
            return json("{\"streams\":\(result.streams),\"events\":\(result.events)}")
        }
    }

    /// A position as the API writes one: a number, or `"commit:sequence"`.
    static func positionJSON(_ position: GlobalPosition) -> String {
        position.commit == 0 ? String(position.sequence) : "\"\(position)\""
    }

    /// `after`, the target (`stream` or `category`, each may repeat; neither: all) and `limit` of a global-order read.
    static func globalOrderQuery(_ request: Request, maxLimit: Int = maxGlobalOrderPage) throws
        -> (GlobalPosition, SubscriptionTarget, Int)
    {
        try orderQuery(request, maxLimit: maxLimit, start: "0") { text in
            guard let position = GlobalPosition(text) else {
                throw HTTPProblem.badRequest("after is a global position such as 42 or 7:42, not \"\(text)\"")
            }
            return position
        }
    }

    /// `after` (read by `position`; `start` when absent), the target and `limit` of a read of a store's order.
    static func orderQuery<Position>(
        _ request: Request, maxLimit: Int = maxGlobalOrderPage, start: String, position: (String) throws -> Position
    ) throws -> (Position, SubscriptionTarget, Int) {
        let query = request.uri.queryParameters
        let after = try position(query.get("after") ?? start)
        let limitText = query.get("limit") ?? "100"
        guard let limit = Int(limitText), (1...maxLimit).contains(limit) else {
            throw HTTPProblem.badRequest("limit is a number from 1 to \(maxLimit), not \"\(limitText)\"")
        }
        return (after, try globalOrderTarget(request), limit)
    }

    /// The target a request names: `stream` or `category`, each may repeat; neither: all.
    static func globalOrderTarget(_ request: Request) throws -> SubscriptionTarget {
        let query = request.uri.queryParameters
        let streams = try query.getAll("stream").map { try StreamName(String($0)) }
        let categories = query.getAll("category").map { String($0) }
        let target: SubscriptionTarget
        switch (streams.count, categories.count) {
        case (0, 0): target = .all
        case (1, 0): target = .stream(streams[0])
        case (_, 0): target = .streams(streams)
        case (0, 1): target = .category(categories[0])
        case (0, _): target = .categories(categories)
        default: throw HTTPProblem.badRequest("a read names streams or categories, not both")
        }
        return target
    }
}
