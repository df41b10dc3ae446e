import Logging
import Foundation

/// A store that keeps consumer groups, so that consumers in several processes share them: every backend
/// conforms, and so does `EventStoreClient`, over the server's `/groups` routes.
///
/// Delivery is at least once: an event may be handed out again (after its timeout, or when its consumer
/// leaves), but each event is acknowledged once: an acknowledgement counts only for the delivery in
/// flight, and a late one of a delivery handed out again since is ignored. A consumer that crashes loses
/// nothing: its deliveries time out, on the database's clock, and go to the others.
public protocol ConsumerGroupStore: EventStore {
    /// Makes a consumer group, starting at `start`.
    /// - Throws: `invalidArgument` for a bad name or settings, or a position this store never handed out;
    ///   `consumerGroupExists` for a name taken.
    func createConsumerGroup(_ group: ConsumerGroup, from start: ConsumerGroupStart) async throws

    /// Changes a group's target, matcher or settings; its checkpoint stays, and its window is read again
    /// from there (events in flight may be handed out again).
    /// - Throws: `consumerGroupNotFound`; `invalidArgument` for bad settings.
    func updateConsumerGroup(_ group: ConsumerGroup) async throws

    /// Deletes a group, its window and its parked events.
    /// - Throws: `consumerGroupNotFound`.
    func deleteConsumerGroup(named name: String) async throws

    /// Starts a group over at `start`: for a replay, or to skip ahead. Its window and parked events are dropped.
    /// - Throws: `consumerGroupNotFound`; `invalidArgument` for a position this store never handed out.
    func moveConsumerGroup(named name: String, to start: ConsumerGroupStart) async throws

    /// What a group is doing: its checkpoint, consumers, counters and lag.
    /// - Throws: `consumerGroupNotFound`.
    func consumerGroup(named name: String) async throws -> ConsumerGroupInfo

    /// The names of the groups, in byte order.
    func consumerGroupNames(limit: Int, offset: Int) async throws -> [String]

    /// Hands `consumer` up to `count` events of the group (fewer when it holds its in-flight limit, none when
    /// there is nothing to hand out now), reading the group's target when its window runs low.
    /// - Throws: `consumerGroupNotFound`; `invalidArgument` for an empty consumer name or a count below 1.
    func take(from group: String, consumer: String, count: Int) async throws -> [ConsumerGroupDelivery]

    /// Acknowledges deliveries: their events are settled. Ids of deliveries no longer in flight (timed out
    /// and handed out again, or settled) are ignored. `consumer`, when given, counts as heard from.
    /// - Returns: how many were acknowledged.
    /// - Throws: `consumerGroupNotFound`.
    @discardableResult
    func acknowledge(_ deliveries: [UUID], in group: String, consumer: String?) async throws -> Int

    /// Rejects deliveries: retried, parked or skipped. Ids no longer in flight are ignored.
    /// - Returns: how many were found in flight.
    /// - Throws: `consumerGroupNotFound`.
    @discardableResult
    func reject(_ deliveries: [UUID], in group: String, action: ConsumerGroupNack, reason: String?, consumer: String?) async throws
        -> Int

    /// A consumer leaves the group: its deliveries go to the others at once. Nothing happens for a group or
    /// a consumer that is not there.
    func leave(_ group: String, consumer: String) async throws

    /// The group's parked events, oldest first.
    /// - Throws: `consumerGroupNotFound`; `invalidArgument` when `limit` < 1.
    func parkedEvents(in group: String, limit: Int) async throws -> [ParkedEvent]

    /// Hands the group's parked events out again, their tries counted from zero.
    /// - Returns: how many.
    /// - Throws: `consumerGroupNotFound`.
    @discardableResult
    func replayParkedEvents(in group: String) async throws -> Int

    /// The order groups read (their target's events, their lag) and wait on for appends: a
    /// ``GlobalOrderEventStore``'s global order by default, a ``PartitionedEventStore``'s merged order.
    /// Backend API.
    @_spi(Backend) var consumerGroupFeed: ProjectionFeed { get }

    /// Where consumers log what goes wrong.
    var logger: Logger { get }
}

extension ConsumerGroupStore where Self: GlobalOrderEventStore {
    @_spi(Backend) public var consumerGroupFeed: ProjectionFeed { ProjectionFeed(globalOrderOf: self) }
}

extension ConsumerGroupStore {
    /// Makes a consumer group that starts at its target's first event.
    public func createConsumerGroup(_ group: ConsumerGroup) async throws {
        try await createConsumerGroup(group, from: .start)
    }

    /// Acknowledges deliveries, naming no consumer.
    @discardableResult
    public func acknowledge(_ deliveries: [UUID], in group: String) async throws -> Int {
        try await acknowledge(deliveries, in: group, consumer: nil)
    }

    /// Rejects deliveries, naming no consumer.
    @discardableResult
    public func reject(_ deliveries: [UUID], in group: String, action: ConsumerGroupNack, reason: String? = nil) async throws -> Int {
        try await reject(deliveries, in: group, action: action, reason: reason, consumer: nil)
    }

    /// The group's first 100 parked events, oldest first.
    public func parkedEvents(in group: String) async throws -> [ParkedEvent] {
        try await parkedEvents(in: group, limit: 100)
    }
}

/// A store that keeps each consumer group as one row (`ConsumerGroupRecord`), changed in its database's
/// transactions on its clock: the rules of ``ConsumerGroupStore`` live in this protocol's extension, once for
/// every backend. Backend API.
public protocol ConsumerGroupRecordStore: ConsumerGroupStore {
    /// Reads (locking), edits and writes a group's row in one database transaction; `change` gets the row
    /// (`nil` when there is none; set it to `nil` to delete the row) and the database's clock, in
    /// microseconds since 1970. Backend API: users call the methods of ``ConsumerGroupStore``.
    @_spi(Backend) func changeConsumerGroup<Result: Sendable>(
        named name: String, _ change: @escaping @Sendable (inout ConsumerGroupRecord?, Int64) throws -> Result
    ) async throws -> Result

    /// The group's row as it is now (no lock), `nil` when there is none.
    @_spi(Backend) func consumerGroupRecord(named name: String) async throws -> ConsumerGroupRecord?
}

extension ConsumerGroupRecordStore {
    public func createConsumerGroup(_ group: ConsumerGroup, from start: ConsumerGroupStart) async throws {
        try group.validate()
        let position = try await position(of: start, for: group.target)
        try await changeConsumerGroup(named: group.name) { record, _ in
            if record != nil { throw EventStoreError.consumerGroupExists(group.name) }
            record = ConsumerGroupRecord(definition: group, position: position)
        }
    }

    public func updateConsumerGroup(_ group: ConsumerGroup) async throws {
        try group.validate()
        try await changeConsumerGroup(named: group.name) { record, _ in
            guard var changed = record else { throw EventStoreError.consumerGroupNotFound(group.name) }
            if changed.definition.target != group.target || changed.definition.matcher != group.matcher {
                let parked = changed.entries.filter { $0.state == .parked }
                changed.move(to: changed.checkpoint)
                changed.entries = parked
            }
            changed.definition = group
            record = changed
        }
    }

    public func deleteConsumerGroup(named name: String) async throws {
        try await changeConsumerGroup(named: name) { record, _ in
            if record == nil { throw EventStoreError.consumerGroupNotFound(name) }
            record = nil
        }
    }

    public func moveConsumerGroup(named name: String, to start: ConsumerGroupStart) async throws {
        guard let target = try await consumerGroupRecord(named: name)?.definition.target else {
            throw EventStoreError.consumerGroupNotFound(name)
        }
        let position = try await position(of: start, for: target)
        try await changeConsumerGroup(named: name) { record, _ in
            guard record != nil else { throw EventStoreError.consumerGroupNotFound(name) }
            record?.move(to: position)
        }
    }

    public func consumerGroup(named name: String) async throws -> ConsumerGroupInfo {
        guard let record = try await consumerGroupRecord(named: name) else { throw EventStoreError.consumerGroupNotFound(name) }
        let feed = consumerGroupFeed
        let lagEvents = try await feed.count(after: record.checkpoint, of: record.definition.target, limit: 10_000)
        var lagSeconds = 0.0
        if let oldest = record.entries.first(where: { $0.state != .parked }),
            let event = LoadedEvents(try await events(at: [(oldest.stream, oldest.streamPosition)])).event(for: oldest)
        {
            lagSeconds = max(0, Date().timeIntervalSince(event.createdAt))
        } else if lagEvents > 0, let event = try await feed.first(after: record.checkpoint, of: record.definition.target) {
            lagSeconds = max(0, Date().timeIntervalSince(event.createdAt))
        }
        return ConsumerGroupInfo(
            group: record.definition, position: record.checkpoint, consumers: record.consumers.keys.sorted(),
            inFlight: record.entries.count { $0.state == .inFlight }, parked: record.entries.count { $0.state == .parked },
            retries: record.retried, acknowledged: record.acknowledged, skipped: record.skipped, lagEvents: lagEvents,
            lagSeconds: lagSeconds)
    }

    public func take(from group: String, consumer: String, count: Int) async throws -> [ConsumerGroupDelivery] {
        if consumer.isEmpty { throw EventStoreError.invalidArgument("a consumer needs a name") }
        if count < 1 { throw EventStoreError.invalidArgument("count must be 1 or more, not \(count)") }
        typealias Taken = (taken: [ConsumerGroupRecord.Handout], wanted: (after: ProjectionPosition, count: Int)?, group: ConsumerGroup)
        let first: Taken = try await changeConsumerGroup(named: group) { record, now in
            guard var changed = record else { throw EventStoreError.consumerGroupNotFound(group) }
            changed.expire(now: now)
            let taken = changed.take(for: consumer, count: count, now: now)
            let wanted: (after: ProjectionPosition, count: Int)? =
                changed.wantsEvents ? (after: changed.readThrough, count: changed.eventsWanted) : nil
            record = changed
            return (taken, wanted, changed.definition)
        }
        var taken = first.taken
        if taken.count < count, let wanted = first.wanted {
            // The window runs low: read on, and hand out what came.
            do {
                let page = try await consumerGroupFeed.base.page(after: wanted.after, of: first.group.target, limit: wanted.count)
                let matching = try Self.filter(Array(zip(page.events, page.members)), by: first.group.matcher)
                let rest = count - taken.count
                let more: [ConsumerGroupRecord.Handout] = try await changeConsumerGroup(named: group) { record, now in
                    guard var changed = record else { throw EventStoreError.consumerGroupNotFound(group) }
                    _ = changed.add(matching, after: wanted.after, readThrough: page.readThrough)
                    let taken = changed.take(for: consumer, count: rest, now: now)
                    record = changed
                    return taken
                }
                taken += more
            } catch let error as EventStoreError where !taken.isEmpty && error.code.isTransient {
                // What the window held is handed out; reading on waits for a later take (a member, or the
                // database, did not answer).
                logger.warning("consumer group \(group) could not read on, and hands out what it holds: \(error)")
            }
        }
        guard !taken.isEmpty else { return [] }
        // Deliveries whose events cannot be loaded now (their stream's member is down) go back to the others
        // at once, not as retries: handed out in the row but never to the consumer, they would otherwise time
        // out and, their retries spent, park healthy events.
        func handBack(_ handouts: [ConsumerGroupRecord.Handout]) async {
            guard !handouts.isEmpty else { return }
            let ids = Set(handouts.map(\.delivery))
            _ = try? await changeConsumerGroup(named: group) { record, _ in record?.handBack(ids) }
        }
        let events: [RecordedEvent]
        do {
            let found = try await self.loadEvents(at: taken.map { ($0.stream, $0.streamPosition) })
            events = found.events
            if let failure = found.unreachable.values.first {
                let unreachable = taken.filter { found.unreachable[$0.stream] != nil }
                await handBack(unreachable)
                taken.removeAll { found.unreachable[$0.stream] != nil }
                if taken.isEmpty { throw failure }
            }
        } catch {
            await handBack(taken)
            throw error
        }
        let loaded = LoadedEvents(events)
        let gone = taken.filter { loaded.event(for: $0) == nil }
        if !gone.isEmpty {
            // Deleted since the window read them: settled, as skipped.
            try await changeConsumerGroup(named: group) { record, now in
                _ = record?.reject(Set(gone.map(\.delivery)), .skip, reason: nil, by: nil, now: now)
            }
        }
        return taken.compactMap { handout in
            loaded.event(for: handout).map { ConsumerGroupDelivery(id: handout.delivery, event: $0, attempt: handout.attempt) }
        }
    }

    @discardableResult
    public func acknowledge(_ deliveries: [UUID], in group: String, consumer: String?) async throws -> Int {
        guard !deliveries.isEmpty else { return 0 }
        return try await changeConsumerGroup(named: group) { record, now in
            guard record != nil else { throw EventStoreError.consumerGroupNotFound(group) }
            return record!.acknowledge(Set(deliveries), by: consumer, now: now)
        }
    }

    @discardableResult
    public func reject(
        _ deliveries: [UUID], in group: String, action: ConsumerGroupNack, reason: String?, consumer: String?
    ) async throws -> Int {
        guard !deliveries.isEmpty else { return 0 }
        return try await changeConsumerGroup(named: group) { record, now in
            guard record != nil else { throw EventStoreError.consumerGroupNotFound(group) }
            return record!.reject(Set(deliveries), action, reason: reason, by: consumer, now: now)
        }
    }

    public func leave(_ group: String, consumer: String) async throws {
        try await changeConsumerGroup(named: group) { record, _ in record?.leave(consumer) }
    }

    public func parkedEvents(in group: String, limit: Int) async throws -> [ParkedEvent] {
        if limit < 1 { throw EventStoreError.invalidArgument("limit must be 1 or more, not \(limit)") }
        guard let record = try await consumerGroupRecord(named: group) else { throw EventStoreError.consumerGroupNotFound(group) }
        let parked = record.entries.filter { $0.state == .parked }.prefix(limit)
        let loaded = LoadedEvents(try await self.events(at: parked.map { ($0.stream, $0.streamPosition) }))
        return parked.compactMap { entry in
            loaded.event(for: entry).map { ParkedEvent(event: $0, reason: entry.reason ?? "", deliveries: entry.deliveries) }
        }
    }

    @discardableResult
    public func replayParkedEvents(in group: String) async throws -> Int {
        try await changeConsumerGroup(named: group) { record, _ in
            guard record != nil else { throw EventStoreError.consumerGroupNotFound(group) }
            return record!.replayParked()
        }
    }

    /// Where a group starts.
    /// - Throws: `invalidArgument` for a position of another kind than this store's, or one it never handed
    ///   out (a read after it says so).
    private func position(of start: ConsumerGroupStart, for target: SubscriptionTarget) async throws -> ProjectionPosition {
        let feed = consumerGroupFeed
        switch start {
        case .start:
            return feed.start
        case .end:
            return try await feed.base.head()
        case let .after(position):
            let composite = feed.start.global == nil
            guard (position.global == nil) == composite else {
                throw EventStoreError.invalidArgument(
                    "\"\(position)\" is not a position of this store's order: its positions are \(composite ? "composite" : "global")")
            }
            _ = try await feed.base.page(after: position, of: target, limit: 1)
            return position
        }
    }

    /// The events at these stream positions (see ``loadEvents(at:)``).
    /// - Throws: a stream's failure.
    func events(at positions: [(stream: String, position: Int)]) async throws -> [RecordedEvent] {
        let loaded = try await loadEvents(at: positions)
        if let failure = loaded.unreachable.values.first { throw failure }
        return loaded.events
    }

    /// The events at these stream positions, each stream's loaded in runs of nearby positions: the cost
    /// follows the events asked for, not how far apart in the global order they are. Events of streams
    /// deleted since are missing; streams that could not be read now (a transient failure: a partitioned
    /// store's member down) are in `unreachable`, with their failures.
    func loadEvents(at positions: [(stream: String, position: Int)]) async throws
        -> (events: [RecordedEvent], unreachable: [String: EventStoreError])
    {
        var found: [RecordedEvent] = []
        var unreachable: [String: EventStoreError] = [:]
        for (stream, streamPositions) in Dictionary(grouping: positions, by: \.stream) {
            let name = try StreamName(stream)
            let sorted = Set(streamPositions.map(\.position)).sorted()
            var runStart = 0
            while runStart < sorted.count {
                var runEnd = runStart
                while runEnd + 1 < sorted.count, sorted[runEnd + 1] - sorted[runEnd] <= 16 { runEnd += 1 }
                let wanted = Set(sorted[runStart...runEnd])
                do {
                    let events = try await load(name, from: sorted[runStart], count: sorted[runEnd] - sorted[runStart] + 1).collect()
                    found += events.filter { wanted.contains($0.position) }
                } catch let error as EventStoreError where error.code == .streamNotFound {
                    break
                } catch let error as EventStoreError where error.code.isTransient {
                    found.removeAll { $0.streamName == name }
                    unreachable[stream] = error
                    break
                }
                runStart = runEnd + 1
            }
        }
        return (found, unreachable)
    }

    static func filter(_ events: [(event: RecordedEvent, member: String?)], by matcher: MetadataMatcher?) throws
        -> [(event: RecordedEvent, member: String?)]
    {
        guard let matcher, !matcher.isEmpty else { return events }
        let evaluator = try MatcherEvaluator(matcher)
        return events.filter { evaluator.matches($0.event.message, position: $0.event.position) }
    }
}

/// The events a group loaded for its window's entries, found by stream and stream position (a partitioned
/// store's members number their orders apart, so global positions repeat across them), and taken only when
/// they are the entry's event: the same id (or, in rows written before ids were kept, the same global
/// position). An event at the same place that is not the entry's (its stream was purged and written again)
/// counts as gone.
struct LoadedEvents {
    private struct Place: Hashable {
        let stream: String
        let position: Int
    }

    private let events: [Place: RecordedEvent]

    init(_ events: [RecordedEvent]) {
        self.events = Dictionary(events.map { (Place(stream: $0.streamName.rawValue, position: $0.position), $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The event of a window's entry or hand-out, `nil` when it is gone.
    func event(for reference: some WindowEventReference) -> RecordedEvent? {
        guard let event = events[Place(stream: reference.stream, position: reference.streamPosition)] else { return nil }
        return (reference.uuid.map { $0 == event.uuid } ?? (event.globalPosition == reference.position)) ? event : nil
    }
}

/// What a window's entry and a hand-out say of their event: where to load it, and what tells it apart.
protocol WindowEventReference {
    var stream: String { get }
    var streamPosition: Int { get }
    var uuid: UUID? { get }
    var position: GlobalPosition { get }
}

extension ConsumerGroupRecord.Entry: WindowEventReference {}
extension ConsumerGroupRecord.Handout: WindowEventReference {}
