import Foundation

/// A consumer group as its row stores it: its definition, how far it has settled and read, the events it
/// holds (its window), its consumers and its counters. Backends store it as it is (JSON) and never
/// interpret it: the rules live here, once for every backend, and each change runs with the row locked
/// and the database's clock (``ConsumerGroupStore``).
@_spi(Backend) public struct ConsumerGroupRecord: Sendable, Hashable, Codable {
    /// One event of the window: read from the target, not yet acknowledged or skipped.
    public struct Entry: Sendable, Hashable, Codable {
        public enum State: String, Sendable, Hashable, Codable {
            /// Waiting for a consumer.
            case available
            /// Handed to `consumer` as delivery `delivery`, until `deadline`.
            case inFlight = "in_flight"
            /// Set aside after too many tries, or by a `nack` that parks it; listed, and replayed on demand.
            case parked
        }

        /// The event's global position in its member's order (the store's, for a single store).
        public var position: GlobalPosition
        /// The member of a ``PartitionedEventStore`` it was read from, `nil` in a single store.
        public var member: String?
        /// The event's id: what tells it from an event at the same stream position later (its stream purged
        /// and written again). `nil` in rows written before it was kept.
        public var uuid: UUID?
        public var stream: String
        /// The event's position in its stream: where a delivery loads it from.
        public var streamPosition: Int
        public var state: State
        /// How many times it was handed out.
        public var deliveries: Int
        public var consumer: String?
        public var delivery: UUID?
        /// Microseconds since 1970 on the database's clock.
        public var deadline: Int64?
        /// Why it was parked.
        public var reason: String?
    }

    /// An event handed out by ``take(for:count:now:)``.
    public struct Handout: Sendable, Hashable {
        /// The event's global position in its member's order, and its id (see ``Entry``).
        public var position: GlobalPosition
        public var uuid: UUID?
        public var stream: String
        public var streamPosition: Int
        public var delivery: UUID
        /// 1 the first time.
        public var attempt: Int
    }

    public var definition: ConsumerGroup
    /// Every event of the target at or before it is acknowledged, skipped or parked. A global position, or
    /// a composite one (a part per member) in a partitioned store's group.
    public var checkpoint: ProjectionPosition
    /// How far the group has read its target: the window holds every unsettled event up to here.
    public var readThrough: ProjectionPosition
    /// The unsettled events, in the order they were read (the global order, or a partitioned store's
    /// merged order).
    public var entries: [Entry]
    /// Each consumer's last call, in microseconds on the database's clock.
    public var consumers: [String: Int64]
    public var acknowledged: Int
    public var retried: Int
    public var skipped: Int
    public var parkedTotal: Int

    public init(definition: ConsumerGroup, position: ProjectionPosition) {
        self.definition = definition
        checkpoint = position
        readThrough = position
        entries = []
        consumers = [:]
        acknowledged = 0
        retried = 0
        skipped = 0
        parkedTotal = 0
    }

    /// How many events the window holds at most: what every consumer could hold, twice, at least 100 and
    /// at most 10,000.
    var windowSize: Int {
        min(10_000, max(100, 2 * definition.settings.maxInFlightPerConsumer * max(1, consumers.count)))
    }

    /// Whether the window should read more of the target.
    public var wantsEvents: Bool {
        entries.count(where: { $0.state != .parked }) < windowSize
    }

    /// How many events a read for the window should fetch.
    /// At most 1,000 at a time.
    public var eventsWanted: Int { min(1000, max(0, windowSize - entries.count(where: { $0.state != .parked }))) }

    // MARK: Changes

    /// Times out deliveries past their deadline (`now`): each goes back to the others, or is parked once it
    /// was handed out more than the retries allow. Forgets consumers silent for two timeouts.
    public mutating func expire(now: Int64) {
        for index in entries.indices where entries[index].state == .inFlight {
            guard let deadline = entries[index].deadline, deadline <= now else { continue }
            release(index, reason: "not acknowledged within \(definition.settings.messageTimeout)")
        }
        let silence = 2 * definition.settings.messageTimeout.microseconds
        consumers = consumers.filter { now - $0.value < silence }
    }

    /// An entry handed out and not acknowledged goes back to the others (a retry), or is parked when it has
    /// been handed out more than `maxRetries` times after the first.
    private mutating func release(_ index: Int, reason: String) {
        entries[index].consumer = nil
        entries[index].delivery = nil
        entries[index].deadline = nil
        if entries[index].deliveries > definition.settings.maxRetries {
            entries[index].state = .parked
            entries[index].reason = reason
            parkedTotal += 1
        } else {
            entries[index].state = .available
            retried += 1
        }
    }

    /// Adds what a read of the target after ``readThrough`` returned (each event with the member it was read
    /// from, `nil` in a single store), and moves ``readThrough``.
    /// - Returns: `false` when the group read further meanwhile (the page is dropped).
    public mutating func add(
        _ events: [(event: RecordedEvent, member: String?)], after position: ProjectionPosition, readThrough through: ProjectionPosition
    ) -> Bool {
        guard position == readThrough else { return false }
        // Parked events stay when a changed target is read again from the checkpoint: not added twice.
        let present = Set(entries.lazy.filter { $0.state == .parked }.map(Self.key))
        for (event, member) in events where event.globalPosition > readThrough.part(of: member) {
            let entry = Entry(
                position: event.globalPosition, member: member, uuid: event.uuid, stream: event.streamName.rawValue,
                streamPosition: event.position,
                state: .available, deliveries: 0, consumer: nil, delivery: nil, deadline: nil, reason: nil)
            if !present.contains(Self.key(entry)) { entries.append(entry) }
        }
        readThrough = readThrough.joined(with: through)
        advanceCheckpoint()
        return true
    }

    /// What tells entries apart: the event's position in its member's order.
    private static func key(_ entry: Entry) -> String { "\(entry.member ?? "")=\(entry.position)" }

    /// Hands `consumer` up to `count` events (fewer when it holds its in-flight limit), in global order, by
    /// the group's strategy, until `now` plus the message timeout.
    /// - Returns: the positions handed out and their delivery ids.
    public mutating func take(for consumer: String, count: Int, now: Int64) -> [Handout] {
        consumers[consumer] = now
        let held = entries.count { $0.state == .inFlight && $0.consumer == consumer }
        var room = min(count, definition.settings.maxInFlightPerConsumer - held)
        guard room > 0 else { return [] }
        let deadline = now + definition.settings.messageTimeout.microseconds
        var taken: [Handout] = []
        // Pinned: a stream with an event in flight with another consumer is closed to this one.
        let closed: Set<String> =
            definition.settings.strategy == .pinnedByStream
            ? Set(entries.lazy.filter { $0.state == .inFlight && $0.consumer != consumer }.map(\.stream)) : []
        for index in entries.indices where room > 0 {
            let entry = entries[index]
            guard entry.state == .available, !closed.contains(entry.stream) else { continue }
            let delivery = UUID()
            entries[index].state = .inFlight
            entries[index].consumer = consumer
            entries[index].delivery = delivery
            entries[index].deadline = deadline
            entries[index].deliveries += 1
            taken.append(
                Handout(
                    position: entry.position, uuid: entry.uuid, stream: entry.stream, streamPosition: entry.streamPosition, delivery: delivery,
                    attempt: entries[index].deliveries))
            room -= 1
        }
        return taken
    }

    /// Settles the deliveries `ids`: acknowledged. A delivery that timed out or was handed out again since
    /// (its id is gone) is ignored: each event is acknowledged once.
    /// - Returns: how many were acknowledged.
    @discardableResult
    public mutating func acknowledge(_ ids: Set<UUID>, by consumer: String?, now: Int64) -> Int {
        if let consumer { consumers[consumer] = now }
        let before = entries.count
        entries.removeAll { $0.state == .inFlight && $0.delivery.map(ids.contains) == true }
        let settled = before - entries.count
        acknowledged += settled
        advanceCheckpoint()
        return settled
    }

    /// Settles the deliveries `ids` by `action`; unknown ids are ignored.
    /// - Returns: how many were found.
    @discardableResult
    public mutating func reject(_ ids: Set<UUID>, _ action: ConsumerGroupNack, reason: String?, by consumer: String?, now: Int64) -> Int {
        if let consumer { consumers[consumer] = now }
        var found = 0
        for index in entries.indices.reversed() where entries[index].state == .inFlight {
            guard let delivery = entries[index].delivery, ids.contains(delivery) else { continue }
            found += 1
            switch action {
            case .retry:
                release(index, reason: reason ?? "rejected for a retry more than \(definition.settings.maxRetries) times")
            case .park:
                entries[index].state = .parked
                entries[index].consumer = nil
                entries[index].delivery = nil
                entries[index].deadline = nil
                entries[index].reason = reason ?? "parked by a consumer"
                parkedTotal += 1
            case .skip:
                entries.remove(at: index)
                skipped += 1
            }
        }
        advanceCheckpoint()
        return found
    }

    /// A consumer leaves: its deliveries go back to the others at once (not counted as retries).
    public mutating func leave(_ consumer: String) {
        consumers[consumer] = nil
        for index in entries.indices where entries[index].state == .inFlight && entries[index].consumer == consumer {
            handBack(index)
        }
    }

    /// Deliveries that never reached their consumer (the events could not be loaded) go back at once, as if
    /// never handed out.
    public mutating func handBack(_ ids: Set<UUID>) {
        for index in entries.indices where entries[index].state == .inFlight && entries[index].delivery.map(ids.contains) == true {
            handBack(index)
        }
    }

    private mutating func handBack(_ index: Int) {
        entries[index].state = .available
        entries[index].consumer = nil
        entries[index].delivery = nil
        entries[index].deadline = nil
        entries[index].deliveries -= 1
    }

    /// The parked events go back to the consumers, as new (their tries count from zero again).
    /// - Returns: how many.
    @discardableResult
    public mutating func replayParked() -> Int {
        var count = 0
        for index in entries.indices where entries[index].state == .parked {
            entries[index].state = .available
            entries[index].deliveries = 0
            entries[index].reason = nil
            count += 1
        }
        return count
    }

    /// Starts the group over after `position`: the window and the parked events are dropped.
    public mutating func move(to position: ProjectionPosition) {
        entries = []
        checkpoint = position
        readThrough = position
    }

    /// Parked entries do not hold the checkpoint back: it moves to just before the first event still
    /// waiting or in flight, or to ``readThrough``. In a partitioned store's group, each member's part moves
    /// so, by that member's entries.
    private mutating func advanceCheckpoint() {
        func before(_ first: Entry?, else through: GlobalPosition) -> GlobalPosition {
            guard let first else { return through }
            return GlobalPosition(commit: first.position.commit, sequence: first.position.sequence - 1)
        }
        switch readThrough {
        case let .global(through):
            checkpoint = checkpoint.joined(with: .global(before(entries.first { $0.state != .parked }, else: through)))
        case let .composite(through):
            var firstWaiting: [String: Entry] = [:]
            for entry in entries where entry.state != .parked {
                if let member = entry.member, firstWaiting[member] == nil { firstWaiting[member] = entry }
            }
            var parts = through
            for member in Set(through.parts.keys).union(firstWaiting.keys) {
                parts[member] = before(firstWaiting[member], else: through[member])
            }
            checkpoint = checkpoint.joined(with: .composite(parts))
        }
        // Parked entries before the checkpoint stay listed; nothing else is kept before it.
    }
}
