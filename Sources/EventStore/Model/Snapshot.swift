import Foundation

/// An aggregate's state at a version, so that loading it replays only the events after that version.
public struct Snapshot: Sendable, Hashable {
    /// The aggregate's type, not empty (an `AggregateRepository` uses its events' `_aggregate_type`).
    public let aggregateType: String
    /// The aggregate's id, not empty (an `AggregateRepository` uses its events' `_aggregate_id`).
    public let aggregateID: String
    /// The version of the last event the state includes (1 or more).
    public let lastVersion: Int
    /// The aggregate's state as a JSON object.
    public let state: Payload
    /// When the snapshot was taken, rounded to the microsecond.
    public let createdAt: Date

    /// A snapshot of an aggregate's state; `createdAt` is rounded to the microsecond.
    /// - Parameters:
    ///   - aggregateType: The aggregate's type, not empty.
    ///   - aggregateID: The aggregate's id, not empty.
    ///   - lastVersion: The version of the last event the state includes, 1 or more.
    ///   - state: The aggregate's state as a JSON object.
    ///   - createdAt: When the snapshot was taken; now by default.
    /// - Throws: `invalidArgument` when the type or id is empty or `lastVersion` < 1.
    public init(aggregateType: String, aggregateID: String, lastVersion: Int, state: Payload, createdAt: Date = Date())
        throws(EventStoreError)
    {
        if aggregateType.isEmpty || aggregateID.isEmpty {
            throw .invalidArgument("a snapshot needs an aggregate type and id")
        }
        if lastVersion < 1 { throw .invalidArgument("a snapshot's last version is 1 or more, not \(lastVersion)") }
        self.aggregateType = aggregateType
        self.aggregateID = aggregateID
        self.lastVersion = lastVersion
        self.state = state
        self.createdAt = Timestamp.date(microseconds: Timestamp.microseconds(createdAt))
    }
}

/// Keeps the latest snapshot of each aggregate. Every store of this package is one, keeping snapshots in
/// its own database (the `snapshots` table of the SQL backends).
public protocol SnapshotStore: Sendable {
    /// The latest snapshot of an aggregate, `nil` when there is none.
    func snapshot(ofType aggregateType: String, id aggregateID: String) async throws -> Snapshot?
    /// Saves snapshots, each replacing the one before for its aggregate.
    func save(_ snapshots: [Snapshot]) async throws
    /// Removes every snapshot of an aggregate type.
    func removeAll(ofType aggregateType: String) async throws
}
