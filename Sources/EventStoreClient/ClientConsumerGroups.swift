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
    /// Makes a consumer group on the server, starting at `start` (`PUT /groups/{name}`); tried again only when
    /// its first try never reached the server.
    /// - Parameters:
    ///   - group: the group's name, target, matcher and settings.
    ///   - start: where the group starts reading its target.
    /// - Throws: `invalidArgument` for a bad name (1 to 150 bytes, no control characters) or settings, or a
    ///   position the store never handed out; `consumerGroupExists` for a name taken.
    public func createConsumerGroup(_ group: ConsumerGroup, from start: ConsumerGroupStart) async throws {
        try ConsumerGroup.validate(name: group.name)
        let body = JSONValue.object(group.definitionMembers + [(key: "start", value: start.json)]).jsonText
        try await groupChange(.PUT, group.name, body: body, kind: .write)
    }

    /// Changes a group's target, matcher or settings (`POST /groups/{name}`); its checkpoint stays. Tried again
    /// after any transient failure.
    /// - Parameter group: the group's new definition, found by its name.
    /// - Throws: `consumerGroupNotFound`; `invalidArgument` for a bad name or settings.
    public func updateConsumerGroup(_ group: ConsumerGroup) async throws {
        try ConsumerGroup.validate(name: group.name)
        try await groupChange(.POST, group.name, body: JSONValue.object(group.definitionMembers).jsonText, kind: .idempotentWrite)
    }

    /// Deletes a group, its window and its parked events (`DELETE /groups/{name}`); tried again only when its
    /// first try never reached the server.
    /// - Parameter name: the group's name.
    /// - Throws: `consumerGroupNotFound`.
    public func deleteConsumerGroup(named name: String) async throws {
        try await groupChange(.DELETE, name, kind: .write)
    }

    /// Starts a group over at `start`, dropping its window and parked events (`POST /groups/{name}/move`);
    /// tried again only when its first try never reached the server.
    /// - Parameters:
    ///   - name: the group's name.
    ///   - start: where the group reads from now.
    /// - Throws: `consumerGroupNotFound`; `invalidArgument` for a position the store never handed out.
    public func moveConsumerGroup(named name: String, to start: ConsumerGroupStart) async throws {
        // Moved to the end twice, a group could skip what came between: tried again only when unsent.
        try await groupChange(.POST, name, "/move", body: JSONValue.object([(key: "start", value: start.json)]).jsonText, kind: .write)
    }

    /// What a group is doing: its checkpoint, consumers, counters and lag (`GET /groups/{name}`).
    /// - Parameter name: the group's name.
    /// - Throws: `consumerGroupNotFound`.
    public func consumerGroup(named name: String) async throws -> ConsumerGroupInfo {
        try await instruments.measure(.readConsumerGroup) {
            try ConsumerGroupInfo(json: try JSONValue(parsing: try await transport.send(.GET, Self.groupPath(name), kind: .read).body))
        }
    }

    /// The names of the server's groups in byte order, read with `GET /groups` in pages of at most
    /// ``EventStoreClientConfiguration/listingPageSize`` names.
    /// - Parameters:
    ///   - limit: how many names at most, 1 or more.
    ///   - offset: how many names to skip first, 0 or more.
    /// - Throws: `invalidArgument` when `limit` < 1 or `offset` < 0.
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

    /// Acknowledges deliveries with one `POST /groups/{name}/ack`: their events are settled. Ids of deliveries
    /// no longer in flight are ignored; an empty list sends nothing.
    /// - Parameters:
    ///   - deliveries: the ids of the deliveries.
    ///   - group: the group's name.
    ///   - consumer: the consumer acknowledging, which counts as heard from; `nil` for none.
    /// - Returns: how many were acknowledged.
    /// - Throws: `consumerGroupNotFound`.
    @discardableResult
    public func acknowledge(_ deliveries: [UUID], in group: String, consumer: String?) async throws -> Int {
        guard !deliveries.isEmpty else { return 0 }
        return try await settle("/ack", group, ids: deliveries, members: [], consumer: consumer, counted: "acknowledged")
    }

    /// Rejects deliveries with one `POST /groups/{name}/nack`: retried, parked or skipped. Ids no longer in
    /// flight are ignored; an empty list sends nothing.
    /// - Parameters:
    ///   - deliveries: the ids of the deliveries.
    ///   - group: the group's name.
    ///   - action: what becomes of their events: retry, park or skip.
    ///   - reason: why, kept with a parked event; `nil` for none.
    ///   - consumer: the consumer rejecting, which counts as heard from; `nil` for none.
    /// - Returns: how many were found in flight.
    /// - Throws: `consumerGroupNotFound`.
    @discardableResult
    public func reject(_ deliveries: [UUID], in group: String, action: ConsumerGroupNack, reason: String?, consumer: String?)
        async throws -> Int
    {
        guard !deliveries.isEmpty else { return 0 }
        var members: [(key: String, value: JSONValue)] = [(key: "action", value: .string(action.rawValue))]
        if let reason { members.append((key: "reason", value: .string(reason))) }
        return try await settle("/nack", group, ids: deliveries, members: members, consumer: consumer, counted: "rejected")
    }

    /// A consumer leaves the group (`POST /groups/{name}/leave`): its deliveries go to the others at once.
    /// Nothing happens for a group or a consumer that is not there.
    /// - Parameters:
    ///   - group: the group's name.
    ///   - consumer: the consumer that leaves.
    /// - Throws: `invalidArgument` for an empty consumer name.
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

    /// Hands the group's parked events out again, their tries counted from zero
    /// (`POST /groups/{name}/replay-parked`).
    /// - Parameter group: the group's name.
    /// - Returns: how many.
    /// - Throws: `consumerGroupNotFound`.
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
