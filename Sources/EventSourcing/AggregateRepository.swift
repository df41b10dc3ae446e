import EventStore
import Foundation

/// Loads and saves aggregates of one type through an event store.
///
/// Saving appends the aggregate's pending events with `_aggregate_type`, `_aggregate_id` and
/// `_aggregate_version` in their metadata and the version the aggregate was loaded at as the expectation,
/// so two writers of the same version never both succeed: one gets a conflict (`error.code.isConflict`).
public struct AggregateRepository<Root: AggregateRoot>: Sendable {
    /// Where an aggregate's events live.
    public enum StreamLayout: Sendable {
        /// One stream per aggregate, `<aggregateType>-<id>` (the default).
        case streamPerAggregate
        /// One stream for every aggregate of the type; an aggregate is loaded with a matcher on its id.
        case streamPerAggregateType(StreamName)
        /// One stream per aggregate, named by the closure.
        case custom(@Sendable (String) throws -> StreamName)
    }

    /// The event store the aggregates' events are loaded from and appended to.
    public let store: any EventStore
    /// Where the aggregates' events live: one stream per aggregate or one shared stream.
    public let layout: StreamLayout
    /// Where snapshots are kept; `nil` for none.
    public let snapshotStore: (any SnapshotStore)?
    /// Take a snapshot each time the version passes a multiple of this; `nil` for never.
    public let snapshotEvery: Int?
    /// Metadata of the streams the repository creates.
    public let streamMetadata: Metadata

    /// A repository of aggregates of type `Root` in a store.
    /// - Parameters:
    ///   - store: the event store to load from and append to.
    ///   - layout: where the events live; one stream per aggregate, `<aggregateType>-<id>`, by default.
    ///   - snapshotStore: where snapshots are kept; `nil` (the default) for none.
    ///   - snapshotEvery: take a snapshot each time the version passes a multiple of this (values below 1
    ///     count as 1); `nil` (the default) for never.
    ///   - streamMetadata: metadata of the streams the repository creates; empty by default.
    public init(
        store: any EventStore, layout: StreamLayout = .streamPerAggregate, snapshotStore: (any SnapshotStore)? = nil,
        snapshotEvery: Int? = nil, streamMetadata: Metadata = [:]
    ) {
        self.store = store
        self.layout = layout
        self.snapshotStore = snapshotStore
        self.snapshotEvery = snapshotEvery.map { max(1, $0) }
        self.streamMetadata = streamMetadata
    }

    /// The stream an aggregate's events are in.
    public func streamName(for id: String) throws -> StreamName {
        switch layout {
        case .streamPerAggregate: return try StreamName("\(Root.aggregateType)-\(id)")
        case let .streamPerAggregateType(name): return name
        case let .custom(name): return try name(id)
        }
    }

    private var isShared: Bool {
        if case .streamPerAggregateType = layout { return true }
        return false
    }

    // MARK: Loading

    /// The aggregate, rebuilt from its latest snapshot (when one decodes and still fits the stream) and the
    /// events after it; `nil` when it has no events, whatever a snapshot says.
    ///
    /// A snapshot names the last event it covers; it is used only when that event is still at the snapshot's
    /// version, so a deleted aggregate is never loaded from its snapshot and a stream deleted and written
    /// again is replayed from its start.
    public func load(_ id: String) async throws -> Aggregate<Root>? {
        if let snapshotStore, let snapshot = try await snapshotStore.snapshot(ofType: Root.aggregateType, id: id),
            let state = try? JSONDecoder().decode(SnapshotState.self, from: snapshot.state.data),
            case let .loaded(aggregate) = try await replay(
                id, onto: Aggregate(root: state.root, version: snapshot.lastVersion), covering: state.lastEvent)
        {
            return aggregate
        }
        guard case let .loaded(aggregate) = try await replay(id, onto: nil, covering: nil) else { return nil }
        return aggregate
    }

    /// What a snapshot's state holds: the root, and the uuid of the last event it covers.
    private struct SnapshotState: Codable {
        var lastEvent: UUID
        var root: Root

        enum CodingKeys: String, CodingKey {
            case lastEvent = "last_event"
            case root
        }
    }

    private enum Replay {
        case loaded(Aggregate<Root>?)
        /// The event the snapshot covers is no longer at its version.
        case staleSnapshot
    }

    /// Replays the events after `start` (from a snapshot whose last event is `lastEvent`) or, without one,
    /// every event.
    private func replay(_ id: String, onto start: Aggregate<Root>?, covering lastEvent: UUID?) async throws -> Replay {
        let covered = start?.version ?? 0
        let stream = try streamName(for: id)
        let events: RecordedEventSequence
        do {
            if isShared {
                var matcher = try MetadataMatcher()
                    .metadata(MetadataKey.aggregateType, .equals, .scalar(.string(Root.aggregateType)))
                    .metadata(MetadataKey.aggregateID, .equals, .scalar(.string(id)))
                if covered > 0 {
                    matcher = try matcher.metadata(MetadataKey.aggregateVersion, .greaterThanOrEquals, .scalar(.int(covered)))
                }
                events = try await store.load(stream, from: 1, count: nil, matching: matcher)
            } else {
                events = try await store.load(stream, from: max(1, covered), count: nil, matching: nil)
            }
        } catch let error as EventStoreError where error.code == .streamNotFound {
            return .loaded(nil)
        }
        let types = Dictionary(Root.eventTypes.map { ($0.messageName, $0) }, uniquingKeysWith: { first, _ in first })
        var aggregate = start
        var checkedSnapshot = lastEvent == nil
        for try await recorded in events {
            let version = recorded.metadata[MetadataKey.aggregateVersion]?.intValue ?? recorded.position
            if !checkedSnapshot {
                // The first event read is the one the snapshot ends with, or the snapshot is of another life of
                // the stream.
                guard recorded.uuid == lastEvent, version == covered else { return .staleSnapshot }
                checkedSnapshot = true
                continue
            }
            guard let type = types[recorded.messageName] else {
                throw AggregateError.unknownMessageName(recorded.messageName, aggregateType: Root.aggregateType)
            }
            let event = try recorded.decode(type)
            var current = aggregate ?? Aggregate(id: id)
            try current.replay(event, version: version)
            aggregate = current
        }
        return checkedSnapshot ? .loaded(aggregate) : .staleSnapshot
    }

    // MARK: Saving

    /// Appends the aggregate's pending events (nothing when there are none), then takes them from it.
    /// - Throws: a conflict (`wrongExpectedVersion`, `streamExists` or `duplicateEvent`) when another writer
    ///   saved the aggregate since it was loaded; then nothing is written and the events stay pending.
    public func save(_ aggregate: inout Aggregate<Root>) async throws {
        guard !aggregate.pendingEvents.isEmpty else { return }
        let base = aggregate.savedVersion
        var messages: [EventMessage] = []
        for (offset, event) in aggregate.pendingEvents.enumerated() {
            let metadata: Metadata = [
                MetadataKey.aggregateType: .string(Root.aggregateType), MetadataKey.aggregateID: .string(aggregate.id),
                MetadataKey.aggregateVersion: .int(base + offset + 1),
            ]
            messages.append(try EventMessage(event, metadata: metadata))
        }
        let stream = try streamName(for: aggregate.id)
        if isShared {
            do {
                try await store.append(messages, to: stream, expectedVersion: .any)
            } catch let error as EventStoreError where error.code == .streamNotFound {
                do {
                    try await store.create(stream, metadata: streamMetadata, events: messages)
                } catch let error as EventStoreError where error.code == .streamExists {
                    try await store.append(messages, to: stream, expectedVersion: .any)
                }
            }
        } else if base == 0 {
            try await store.create(stream, metadata: streamMetadata, events: messages)
        } else {
            try await store.append(messages, to: stream, expectedVersion: .exact(base))
        }
        _ = aggregate.takePendingEvents()
        if let snapshotStore, let every = snapshotEvery, aggregate.version / every > base / every, let last = messages.last {
            let state = try Payload(jsonData: try JSONEncoder().encode(SnapshotState(lastEvent: last.uuid, root: aggregate.root)))
            try await snapshotStore.save([
                try Snapshot(aggregateType: Root.aggregateType, aggregateID: aggregate.id, lastVersion: aggregate.version, state: state)
            ])
        }
    }

    /// Loads, decides and saves, again on a conflict, at most `maxAttempts` times: the way to change an
    /// aggregate when other writers may change it at the same time.
    /// - Parameters:
    ///   - id: the aggregate's id.
    ///   - maxAttempts: how many times it loads and decides at most (at least once).
    ///   - createIfMissing: start from a new aggregate when it has no events (otherwise `streamNotFound`).
    ///   - decide: records the events of the change; called again, on a freshly loaded aggregate, after a
    ///     conflict. What it throws ends the update.
    /// - Throws: ``AggregateError/tooManyConflicts(attempts:last:)`` when every attempt conflicted.
    @discardableResult
    public func update(
        _ id: String, maxAttempts: Int = 3, createIfMissing: Bool = true, _ decide: (inout Aggregate<Root>) throws -> Void
    ) async throws -> Aggregate<Root> {
        var lastConflict: EventStoreError?
        for _ in 0..<max(1, maxAttempts) {
            guard var aggregate = try await load(id) ?? (createIfMissing ? Aggregate(id: id) : nil) else {
                throw EventStoreError.streamNotFound(try streamName(for: id))
            }
            try decide(&aggregate)
            do {
                try await save(&aggregate)
                return aggregate
            } catch let error as EventStoreError where error.code.isConflict {
                lastConflict = error
            }
        }
        throw AggregateError.tooManyConflicts(
            attempts: max(1, maxAttempts), last: lastConflict ?? .invalidArgument("no attempt was made"))
    }
}
