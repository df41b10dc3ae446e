import Foundation
import Logging

/// What a projection is doing, as its row in the projections table says. The values are prooph's.
public enum ProjectionStatus: String, Sendable, Hashable, Codable, CaseIterable {
    /// A runner holds the lease and is working (or waiting for events).
    case running
    /// Asked to stop; the runner stops at its next block.
    case stopping
    /// Asked to delete (keeping emitted events); the runner deletes at its next block.
    case deleting
    /// Asked to delete with the events it emitted.
    case deletingInclEmittedEvents = "deleting incl emitted events"
    /// Asked to reset; the runner starts over at its next block.
    case resetting
    /// No runner is working on it.
    case idle
}

/// A projection's row in the projections table: what survives between runs and processes.
///
/// Backends store it as it is and never interpret it: the rules (leases, commands) live in
/// ``ProjectionManager`` and the runners, once for every backend.
public struct ProjectionRecord: Sendable, Hashable {
    /// Which kind of projection owns the row.
    public enum Kind: String, Sendable, Hashable {
        /// Emits and links events (its own stream is named like the projection).
        case projection
        /// Keeps a read model.
        case readModel = "read_model"
    }

    /// What a read-model projection's next runner must do to its read model before it reads an event: the
    /// manager could not reach the read model (it lives in the runner's process).
    public enum ReadModelAction: String, Sendable, Hashable {
        /// Reset the read model (the row was reset already).
        case reset
        /// Delete the read model. The row is a tombstone: hidden from listings and lookups.
        case delete
    }

    /// The projection's name, the row's key: one row per name in a store.
    public var name: String
    /// Which kind of projection owns the row: an emitting one or a read-model one.
    public var kind: Kind
    /// What the projection is doing, or the command waiting for its runner (stop, reset, delete).
    public var status: ProjectionStatus
    /// The state as JSON text; `nil` before the first run, and after a reset the runner has not yet seen.
    public var state: String?
    /// Per stream, the position of the last event processed.
    public var streamPositions: [String: Int]
    /// The position of the last event processed, `nil` for none: where the next run resumes. A global
    /// position, or a composite one for a projection of a ``PartitionedEventStore``. (A subscription's saved
    /// position is its checkpoint, see ``GlobalOrderEventStore/checkpoint(named:)``.)
    public var position: ProjectionPosition?
    /// ``position`` when it is a global position (every store but a partitioned one).
    public var globalPosition: GlobalPosition? {
        get { position?.global }
        set { position = newValue.map(ProjectionPosition.global) }
    }
    /// Until when the lease is held, in microseconds since 1970; `nil` when no runner holds it. Only the
    /// runners and the manager change it.
    public package(set) var lockedUntil: Int64?
    /// The runner holding (or last holding) the lease. Only the runners and the manager change it.
    public package(set) var leaseOwner: String?
    /// What the next runner must do to its read model first; `nil` for nothing.
    public var pendingReadModelAction: ReadModelAction?
    /// What the projection reads, as its last runner said; `nil` for rows of builds before it was kept
    /// (`/metrics` counts those against every stream).
    public var source: SubscriptionTarget?

    /// A row with every column. Backend API (`@_spi(Backend) import EventStore`): backends rebuild rows they
    /// read; users get rows from ``ProjectionManager/record(_:)``.
    @_spi(Backend) public init(
        name: String, kind: Kind, status: ProjectionStatus = .idle, state: String? = nil,
        streamPositions: [String: Int] = [:], position: ProjectionPosition? = nil, lockedUntil: Int64? = nil,
        leaseOwner: String? = nil, pendingReadModelAction: ReadModelAction? = nil, source: SubscriptionTarget? = nil
    ) {
        self.name = name
        self.kind = kind
        self.status = status
        self.state = state
        self.streamPositions = streamPositions
        self.position = position
        self.lockedUntil = lockedUntil
        self.leaseOwner = leaseOwner
        self.pendingReadModelAction = pendingReadModelAction
        self.source = source
    }

    /// `true` for a deleted read-model projection whose read model still waits to be deleted.
    public var isTombstone: Bool { pendingReadModelAction == .delete }

    /// `true` when a runner's lease has not expired at `now` (microseconds since 1970).
    public func isLeased(at now: Int64) -> Bool {
        guard let lockedUntil, leaseOwner != nil else { return false }
        return lockedUntil > now
    }

    /// The stream positions as stored: a JSON object, keys sorted.
    public var streamPositionsJSON: String { Self.streamPositionsJSON(streamPositions) }

    /// Stream positions as a JSON object, keys sorted by their bytes: the form rows store and the CLI and
    /// the HTTP API print.
    public static func streamPositionsJSON(_ positions: [String: Int]) -> String {
        var out = "{"
        for (i, key) in positions.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
            if i > 0 { out += "," }
            JSONWriter.writeString(key, into: &out)
            out += ":\(positions[key] ?? 0)"
        }
        return out + "}"
    }

    /// Reads stored stream positions. Backend API (`@_spi(Backend) import EventStore`).
    /// - Throws: `corrupt` when the text is not an object of integers.
    @_spi(Backend) public static func streamPositions(fromJSON text: String) throws(EventStoreError) -> [String: Int] {
        guard case let .object(members) = try? JSONValue(parsing: text) else {
            throw .corrupt("a projection's stream positions are corrupt: \(text)")
        }
        var positions: [String: Int] = [:]
        for member in members {
            guard case let .number(number) = member.value, let position = Int(number) else {
                throw .corrupt("a projection's stream positions are corrupt: \(text)")
            }
            positions[member.key] = position
        }
        return positions
    }
}

/// The change a ``ProjectionStore/changeProjection(named:_:)`` closure asks for besides the row itself.
/// Backend API (`@_spi(Backend) import EventStore`).
@_spi(Backend) public struct ProjectionChange<Result: Sendable>: Sendable {
    /// What the call returns.
    public var result: Result
    /// A stream to delete in the same transaction (missing streams are ignored): a projection's own stream.
    public var deleteStream: StreamName?

    public init(_ result: Result, deleteStream: StreamName? = nil) {
        self.result = result
        self.deleteStream = deleteStream
    }
}

/// A store that keeps projections: every backend conforms, and ``PartitionedEventStore``. Backends only read
/// and write rows; what the rows mean is decided once, by ``ProjectionManager`` and the runners, which read
/// the store through its `projectionFeed` (a ``GlobalOrderEventStore``'s global order by default).
public protocol ProjectionStore: EventStore {
    /// How projection runners read this store. Backend API (`@_spi(Backend) import EventStore`).
    @_spi(Backend) var projectionFeed: ProjectionFeed { get }

    /// Where the store logs, and projections on it log by default.
    var logger: Logger { get }

    /// The row named `name`, tombstones included; `nil` when there is none.
    func projectionRecord(named name: String) async throws -> ProjectionRecord?

    /// Names of projections (tombstones left out) in byte order, filtered, `limit` of them after `offset`.
    /// - Throws: `invalidArgument` when the regex does not compile.
    func projectionNames(_ filter: NameFilter, limit: Int, offset: Int) async throws -> [String]

    /// In one write transaction: reads the row named `name` (locked against other changes), lets `change`
    /// edit it (`nil` for no row; set it to `nil` to delete the row), writes the result, and deletes the
    /// stream `change` names. When `change` throws nothing is written.
    ///
    /// Backend API (`@_spi(Backend) import EventStore`): it writes rows with no lease check, so users go
    /// through ``ProjectionManager``.
    @_spi(Backend) func changeProjection<Result: Sendable>(
        named name: String, _ change: @escaping @Sendable (inout ProjectionRecord?) throws -> ProjectionChange<Result>
    ) async throws -> Result
}

extension ProjectionStore where Self: GlobalOrderEventStore {
    @_spi(Backend) public var projectionFeed: ProjectionFeed { ProjectionFeed(globalOrderOf: self) }
}

extension ProjectionStore {
    /// The current time in microseconds since 1970, as leases count it.
    static var nowMicroseconds: Int64 { Timestamp.microseconds(Date()) }
}
