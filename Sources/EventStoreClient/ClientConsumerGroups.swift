@_spi(Backend) import EventStore
import Foundation
import NIOHTTP1

/// The server's consumer groups, through its `/groups` routes: the same ``ConsumerGroupStore`` as a local
/// store's, so that a consumer in another process shares a group with the server's own.
///
/// A take, an acknowledgement, a rejection or a replay whose answer is lost is tried again: a second take
/// hands out other deliveries, and the first one's time out and go to a consumer again (delivery is at least
/// once); a second acknowledgement or rejection of the same deliveries finds them settled and counts 0.
/// ``consume(_:as:batchSize:pollInterval:clock:logger:)`` asks for deliveries as soon as this client
/// appends, and otherwise every `pollInterval`.
extension EventStoreClient: ConsumerGroupStore {
    public func createConsumerGroup(_ group: ConsumerGroup, from start: ConsumerGroupStart) async throws {
        try ConsumerGroup.validate(name: group.name)
        let body = JSONValue.object(group.definitionMembers + [(key: "start", value: start.json)]).jsonText
        try await groupChange(.PUT, group.name, body: body, kind: .write)
    }

    public func updateConsumerGroup(_ group: ConsumerGroup) async throws {
        try ConsumerGroup.validate(name: group.name)
        try await groupChange(.POST, group.name, body: JSONValue.object(group.definitionMembers).jsonText, kind: .idempotentWrite)
    }

    public func deleteConsumerGroup(named name: String) async throws {
        try await groupChange(.DELETE, name, kind: .write)
    }

    public func moveConsumerGroup(named name: String, to start: ConsumerGroupStart) async throws {
        // Moved to the end twice, a group could skip what came between: tried again only when unsent.
        try await groupChange(.POST, name, "/move", body: JSONValue.object([(key: "start", value: start.json)]).jsonText, kind: .write)
    }

    public func consumerGroup(named name: String) async throws -> ConsumerGroupInfo {
        try await instruments.measure(.readConsumerGroup) {
            try ConsumerGroupInfo(json: try JSONValue(parsing: try await transport.send(.GET, Self.groupPath(name), kind: .read).body))
        }
    }

    public func consumerGroupNames(limit: Int, offset: Int) async throws -> [String] {
        try StoreValidation.listing(.all, limit: limit, offset: offset)
        return try await instruments.measure(.listConsumerGroups) {
            try await listing("/groups", .all, matcher: [], limit: limit, offset: offset)
        }
    }

    /// Takes at most 1,000 deliveries at a time, the server's bound (fewer is what `take` may always hand out).
    public func take(from group: String, consumer: String, count: Int) async throws -> [ConsumerGroupDelivery] {
        if consumer.isEmpty { throw EventStoreError.invalidArgument("a consumer needs a name") }
        if count < 1 { throw EventStoreError.invalidArgument("count must be 1 or more, not \(count)") }
        // Shielded: a take sent runs to its answer even when the consumer is cancelled meanwhile, so that the
        // server has handled it before the consumer's leave (else the take, handled after, made it a member again).
        let path = Self.groupPath(group) + "/take"
        let query = [("consumer", consumer), ("count", String(min(count, 1000)))]
        return try await instruments.measure(.changeConsumerGroup) {
            let response = try await shielded { try await self.transport.send(.POST, path, query: query, kind: .idempotentWrite) }
            return try EventJSON.deliveries(fromTake: response.body)
        }
    }

    @discardableResult
    public func acknowledge(_ deliveries: [UUID], in group: String, consumer: String?) async throws -> Int {
        guard !deliveries.isEmpty else { return 0 }
        return try await settle("/ack", group, ids: deliveries, members: [], consumer: consumer, counted: "acknowledged")
    }

    @discardableResult
    public func reject(_ deliveries: [UUID], in group: String, action: ConsumerGroupNack, reason: String?, consumer: String?)
        async throws -> Int
    {
        guard !deliveries.isEmpty else { return 0 }
        var members: [(key: String, value: JSONValue)] = [(key: "action", value: .string(action.rawValue))]
        if let reason { members.append((key: "reason", value: .string(reason))) }
        return try await settle("/nack", group, ids: deliveries, members: members, consumer: consumer, counted: "rejected")
    }

    public func leave(_ group: String, consumer: String) async throws {
        if consumer.isEmpty { throw EventStoreError.invalidArgument("a consumer needs a name") }
        try await groupChange(.POST, group, "/leave", query: [("consumer", consumer)], kind: .idempotentWrite)
    }

    /// At most the server's listing limit (1,000 by default) at a time.
    public func parkedEvents(in group: String, limit: Int) async throws -> [ParkedEvent] {
        if limit < 1 { throw EventStoreError.invalidArgument("limit must be 1 or more, not \(limit)") }
        return try await instruments.measure(.readConsumerGroup) {
            let response = try await transport.send(
                .GET, Self.groupPath(group) + "/parked", query: [("limit", String(min(limit, configuration.listingPageSize)))], kind: .read)
            return try EventJSON.parkedEvents(fromArray: response.body)
        }
    }

    @discardableResult
    public func replayParkedEvents(in group: String) async throws -> Int {
        let body = try await groupChange(.POST, group, "/replay-parked", kind: .idempotentWrite)
        return try Self.count("replayed", in: body)
    }

    // MARK: Requests

    static func groupPath(_ name: String) -> String { "/groups/" + ClientTransport.encoded(name) }

    /// A change of a group: sent whatever cancels the caller (its answer says what the server did).
    @discardableResult
    private func groupChange(
        _ method: HTTPMethod, _ name: String, _ suffix: String = "", query: [(String, String)] = [], body: String? = nil,
        kind: RequestKind
    ) async throws -> String {
        let path = Self.groupPath(name) + suffix
        return try await instruments.measure(.changeConsumerGroup) {
            try await shielded { try await self.transport.send(method, path, query: query, body: body, kind: kind) }.body
        }
    }

    /// `POST /groups/{name}/ack` or `/nack` with `{"ids":[…], …}`: how many the server counted.
    private func settle(
        _ route: String, _ group: String, ids: [UUID], members: [(key: String, value: JSONValue)], consumer: String?, counted: String
    ) async throws -> Int {
        let body = JSONValue.object([(key: "ids", value: .array(ids.map { .string($0.uuidString.lowercased()) }))] + members).jsonText
        let answer = try await groupChange(
            .POST, group, route, query: consumer.map { [("consumer", $0)] } ?? [], body: body, kind: .idempotentWrite)
        return try Self.count(counted, in: answer)
    }

    private static func count(_ key: String, in body: String) throws -> Int {
        guard let count = try JSONValue(parsing: body)[key]?.wholeNumber else {
            throw EventStoreError.corrupt("the server's answer has no \(key) count")
        }
        return count
    }
}
