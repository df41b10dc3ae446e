import Logging

/// Where a subscription to a ``PartitionedEventStore`` starts.
public enum PartitionedSubscriptionStart: Sendable, Hashable {
    /// From the first event of every member.
    case start
    /// After the events every member holds when the subscription is made: only new events.
    case end
    /// After a composite position (an event's ``PartitionedEvent/position``, a page's, or a checkpoint).
    case after(CompositePosition)
}

/// Subscriptions to a partitioned store: the merged order (see ``PartitionedEventStore/readAll(after:of:limit:)``)
/// followed live, and durable subscriptions whose checkpoints are composite positions.
///
/// A durable subscription's checkpoint is kept part by part: each member keeps its own part, in its own
/// checkpoint table, under the subscription's name. Each part only moves forward and is saved after the
/// events it covers were handled, so whatever parts a crash leaves saved, resuming delivers every event at
/// least once, and an event handled and checkpointed is not delivered again. A member that was added later
/// has no part yet: it is read from its start (its copies of moved buckets are skipped as always).
extension PartitionedEventStore {
    /// Each member's last committed position: a reader after it sees only events committed later.
    /// - Throws: a member's failure.
    public func headPosition() async throws -> CompositePosition { try await eachMemberPosition { try await $0.headPosition() } }

    /// The composite position of each member's `read` (every member at once). - Throws: a member's failure.
    func eachMemberPosition(_ read: @escaping @Sendable (any PartitionMemberStore) async throws -> GlobalPosition) async throws
        -> CompositePosition
    {
        let members = self.members
        let parts = try await eachMember { index, _ in try await read(members[index].store) }
        return CompositePosition(parts: Dictionary(uniqueKeysWithValues: zip(members.map(\.name), parts)))
    }

    /// Follows `target` from `start`: first what is stored, then new events as they commit, each event once
    /// and each stream's in order, until the consuming task is cancelled (see ``follow(_:after:pageSize:)``,
    /// which this starts). Each event carries the position to resume after it.
    /// - Throws: `invalidArgument` when `pageSize` < 1 or the start names no member of the store.
    public func subscribe(
        to target: SubscriptionTarget = .all, from start: PartitionedSubscriptionStart = .start, pageSize: Int = 500
    ) async throws -> PartitionedSubscription {
        if pageSize < 1 { throw EventStoreError.invalidArgument("pageSize must be 1 or more, not \(pageSize)") }
        let position: CompositePosition
        switch start {
        case .start: position = .start
        case .end: position = try await headPosition()
        case let .after(after):
            try checkMembers(of: after)
            position = after
        }
        return follow(target, after: position, pageSize: pageSize)
    }

    /// The checkpoint saved under `name`: each member's part, `nil` when no member has one.
    /// - Throws: a member's failure (a durable subscription does not start without all of its parts).
    public func checkpoint(named name: String) async throws -> CompositePosition? {
        let members = self.members
        let parts = try await eachMember { index, _ in try await members[index].store.checkpoint(named: name) }
        guard parts.contains(where: { $0 != nil }) else { return nil }
        var position = CompositePosition.start
        for (member, part) in zip(members, parts) { position[member.name] = part ?? .start }
        return position
    }

    /// Saves `position` under `name`: every member's part on that member.
    /// - Throws: `invalidArgument` when the position names no member of the store; a member's failure (the
    ///   parts saved before it stay saved).
    public func saveCheckpoint(_ position: CompositePosition, named name: String) async throws {
        try checkMembers(of: position)
        try await saveCheckpoint(position, named: name, changedFrom: nil)
    }

    /// Saves the parts of `position` that differ from `saved` (every part when `saved` is `nil`).
    func saveCheckpoint(_ position: CompositePosition, named name: String, changedFrom saved: CompositePosition?) async throws {
        for member in members where saved.map({ $0[member.name] != position[member.name] }) ?? true {
            try await member.store.saveCheckpoint(position[member.name], named: name)
        }
    }

    /// Runs a durable subscription: resumes after the checkpoint saved under `name` (from the start the
    /// first time), calls `handler` for each event and saves the checkpoint's changed parts after it returns
    /// (one member's, mostly), until the task is cancelled or the handler throws.
    ///
    /// Delivery is at least once: after a crash between a handler and its checkpoint, the event comes again.
    /// While a member is down, the events of the others come, and its own once it answers again.
    /// - Throws: `invalidArgument` for an empty name or `pageSize` < 1; a member's failure while the
    ///   checkpoint is read or saved; what `handler` throws.
    public func runSubscription(
        named name: String, to target: SubscriptionTarget = .all, pageSize: Int = 500,
        handler: (PartitionedEvent) async throws -> Void
    ) async throws {
        if name.isEmpty { throw EventStoreError.invalidArgument("a durable subscription needs a name") }
        if pageSize < 1 { throw EventStoreError.invalidArgument("pageSize must be 1 or more, not \(pageSize)") }
        var saved = try await checkpoint(named: name) ?? .start
        for try await event in follow(target, after: saved, pageSize: pageSize) {
            try await handler(event)
            try await saveCheckpoint(event.position, named: name, changedFrom: saved)
            saved = event.position
        }
    }

    /// - Throws: `invalidArgument` when `position` names a member this store does not have.
    func checkMembers(of position: CompositePosition) throws {
        if let stranger = position.parts.keys.sorted().first(where: { name in !members.contains { $0.name == name } }) {
            throw EventStoreError.invalidArgument("the position names \(stranger), which is no member of this store")
        }
        for part in position.parts.values { try StoreValidation.position(part) }
    }
}
