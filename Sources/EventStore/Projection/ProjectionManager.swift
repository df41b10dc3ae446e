import Foundation
import Synchronization

/// Creates projections and controls them from anywhere: this process, another one, the command line, the
/// HTTP API. One type for every backend: what differs is the store's projections table.
///
/// ```swift
/// let manager = ProjectionManager(store: store)
/// let counter = manager.createProjection("user-count")
///     .initialState(0)
///     .fromCategory("user")
///     .when([.on("UserRegistered") { count, _, _ in count + 1 }])
/// try await counter.run(keepRunning: false)
/// try await manager.state(of: "user-count")   // 1, say
/// ```
///
/// Stop, reset and delete are commands: a runner holding the projection's lease obeys them at its next
/// block. When no runner holds the lease, reset and delete are carried out at once (stop stays, and the
/// next run stops at its start, as in prooph).
public struct ProjectionManager: Sendable {
    /// The store the projections read and keep their rows in.
    public let store: any ProjectionStore
    private let readModels = ReadModelRegistry()

    /// A manager of the projections of `store`. The read models of ``createReadModelProjection(_:readModel:options:)``
    /// are remembered by this manager only.
    /// - Parameter store: The store the projections read and keep their rows in.
    public init(store: any ProjectionStore) {
        self.store = store
    }

    // MARK: Creating

    /// A query: one pass over the source per run, its state only in memory.
    public func createQuery(options: ProjectionOptions = ProjectionOptions()) -> ProjectionBuilder<QueryContext> {
        ProjectionBuilder(setup: RunnerSetup(store: store, persistence: nil, options: options) { QueryContext(core: $0) })
    }

    /// A projection named `name` that keeps its state and positions, and may emit events to the stream named
    /// like it and link them to others. The name must be a valid stream name.
    public func createProjection(_ name: String, options: ProjectionOptions = ProjectionOptions())
        -> ProjectionBuilder<EmittingContext>
    {
        let store = self.store
        // An invalid name never runs (run checks it first), so the placeholder is never written to.
        let ownStream = (try? StreamName(name)) ?? "$invalid-projection-name"
        let persistence = ProjectionPersistence(store: store, name: name, kind: .projection, readModel: nil)
        return ProjectionBuilder(setup: RunnerSetup(store: store, persistence: persistence, options: options) { core in
            EmittingContext(core: core, emitter: Emitter(store: store, ownStream: ownStream))
        })
    }

    /// A projection named `name` that keeps a read model. The manager remembers the read model, so that a
    /// reset or delete made through it while no runner holds the lease reaches the read model at once.
    public func createReadModelProjection<Model: ReadModel>(
        _ name: String, readModel: Model, options: ProjectionOptions = ProjectionOptions()
    ) -> ProjectionBuilder<ReadModelContext<Model>> {
        readModels.register(readModel, for: name)
        let persistence = ProjectionPersistence(store: store, name: name, kind: .readModel, readModel: readModel)
        return ProjectionBuilder(setup: RunnerSetup(store: store, persistence: persistence, options: options) { core in
            ReadModelContext(core: core, readModel: readModel)
        })
    }

    // MARK: Commands

    /// Stops the projection: a runner stops at its next block; with none running, the next run stops as it
    /// starts (keeping its positions).
    /// - Throws: `projectionNotFound`.
    public func stopProjection(_ name: String) async throws {
        _ = try await command(name) { record, _ in
            record.status = .stopping
            return ProjectionChange(nil)
        }
    }

    /// Resets the projection: state and positions start over; the streams an emitting projection created
    /// and alone wrote to are deleted, a read model is reset. A runner does it at its next block and goes on from the start; with
    /// none running (no lease, or an expired one) it is done now, and a runner whose lease had expired fails
    /// with `projectionLeaseLost` at its next save.
    /// - Throws: `projectionNotFound`.
    public func resetProjection(_ name: String) async throws {
        let action = try await command(name) { record, leased in
            if leased {
                record.status = .resetting
                return ProjectionChange(nil)
            }
            record.state = nil
            record.streamPositions = [:]
            record.globalPosition = nil
            record.status = .idle
            // An expired lease ends here: a runner that stalled past it fails at its next save
            // (`projectionLeaseLost`) instead of writing back the positions this reset cleared.
            record.leaseOwner = nil
            record.lockedUntil = nil
            if record.kind == .readModel {
                record.pendingReadModelAction = .reset
                return ProjectionChange(.readModel(.reset))
            }
            return ProjectionChange(.deleteCreatedStreams)
        }
        try await carryOut(action, of: name)
    }

    /// Deletes the projection: its row, and with `deleteEmittedEvents` the streams it created and alone wrote
    /// to (emitting projection) or its read model (read-model projection). A runner does it at its next block and stops; with none
    /// running it is done now.
    /// - Throws: `projectionNotFound`.
    public func deleteProjection(_ name: String, deleteEmittedEvents: Bool) async throws {
        let action = try await command(name, deleting: true) { record, leased in
            if leased {
                record.status = deleteEmittedEvents ? .deletingInclEmittedEvents : .deleting
                return ProjectionChange(nil)
            }
            if record.kind == .readModel, deleteEmittedEvents {
                // The row stays as a tombstone until the read model is deleted.
                record = ProjectionRecord(name: name, kind: .readModel, pendingReadModelAction: .delete)
                return ProjectionChange(.readModel(.delete))
            }
            return ProjectionChange(deleteEmittedEvents && record.kind == .projection ? FollowUp.deleteCreatedStreams : nil)
        }
        try await carryOut(action, of: name)
    }

    /// What a command leaves for the manager to do once the row is written.
    enum FollowUp: Sendable {
        case readModel(ProjectionRecord.ReadModelAction)
        /// Delete the streams the (emitting) projection created and alone wrote to.
        case deleteCreatedStreams
    }

    private func carryOut(_ followUp: FollowUp?, of name: String) async throws {
        switch followUp {
        case let .readModel(action): try await applyToReadModel(action, of: name)
        case .deleteCreatedStreams: try await Emitter.deleteCreatedStreams(of: name, in: store)
        case nil: break
        }
    }

    /// Edits an existing row: `edit` gets it and whether a runner holds it; returns the read-model action to
    /// carry out here, if any. With `deleting`, a row `edit` leaves untouched by a tombstone is deleted.
    private func command(
        _ name: String, deleting: Bool = false,
        _ edit: @escaping @Sendable (inout ProjectionRecord, Bool) throws -> ProjectionChange<FollowUp?>
    ) async throws -> FollowUp? {
        try await store.changeProjection(named: name) { row in
            guard var record = row, !record.isTombstone else { throw EventStoreError.projectionNotFound(name) }
            let leased = record.isLeased(at: Timestamp.microseconds(Date()))
            let change = try edit(&record, leased)
            row = deleting && !leased && !record.isTombstone ? nil : record
            return change
        }
    }

    /// Resets or deletes a read model registered with this manager, then clears the note in its row; with no
    /// read model here, the note waits for the next runner.
    ///
    /// The manager holds the projection's lease meanwhile (renewed while the read model works), so that a
    /// runner starting in between gets `projectionRunning` instead of persisting rows the late reset would
    /// then wipe; when another runner holds the lease by now, the note is left to it.
    private func applyToReadModel(_ action: ProjectionRecord.ReadModelAction, of name: String) async throws {
        guard let readModel = readModels.readModel(for: name) else { return }
        let owner = "manager-" + UUID().uuidString
        let lease = Self.commandLease.microseconds
        let taken = try await store.changeProjection(named: name) { row in
            let now = Timestamp.microseconds(Date())
            guard var record = row, record.pendingReadModelAction == action, !record.isLeased(at: now) else {
                return ProjectionChange(false)
            }
            record.leaseOwner = owner
            record.lockedUntil = now + lease
            row = record
            return ProjectionChange(true)
        }
        guard taken else { return }
        let store = self.store
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                while true {
                    try await Task.sleep(for: Self.commandLease / 3)
                    _ = try await store.changeProjection(named: name) { row in
                        guard var record = row, record.leaseOwner == owner else { return ProjectionChange(()) }
                        record.lockedUntil = Timestamp.microseconds(Date()) + lease
                        row = record
                        return ProjectionChange(())
                    }
                }
            }
            defer { group.cancelAll() }
            do {
                switch action {
                case .reset: try await readModel.reset()
                case .delete: try await readModel.delete()
                }
            } catch {
                try? await releaseCommandLease(owner, of: name, clearing: nil)
                throw error
            }
            try await releaseCommandLease(owner, of: name, clearing: action)
        }
    }

    /// How long the manager holds a projection's lease while it resets or deletes a read model (renewed every
    /// third of it while that runs).
    static let commandLease: Duration = .seconds(30)

    /// Gives up the manager's lease, clearing the note for `action` when it was carried out.
    private func releaseCommandLease(_ owner: String, of name: String, clearing action: ProjectionRecord.ReadModelAction?)
        async throws
    {
        _ = try await store.changeProjection(named: name) { row in
            guard var record = row, record.leaseOwner == owner else { return ProjectionChange(()) }
            record.leaseOwner = nil
            record.lockedUntil = nil
            if let action, record.pendingReadModelAction == action {
                record.pendingReadModelAction = nil
                row = action == .delete ? nil : record
            } else {
                row = record
            }
            return ProjectionChange(())
        }
    }

    // MARK: Reading

    /// Projection names in byte order: all, one by exact name, or those a regular expression finds; `limit`
    /// after skipping `offset` (20 by default, as prooph).
    /// - Throws: `invalidArgument` when `limit` < 1, `offset` < 0 or the regex does not compile.
    public func projectionNames(_ filter: NameFilter = .all, limit: Int = 20, offset: Int = 0) async throws -> [String] {
        try StoreValidation.listing(filter, limit: limit, offset: offset)
        return try await store.projectionNames(filter, limit: limit, offset: offset)
    }

    /// The projection's status. - Throws: `projectionNotFound`.
    public func status(of name: String) async throws -> ProjectionStatus {
        try await record(name).status
    }

    /// Per stream, the position of the last event the projection processed (and saved).
    /// - Throws: `projectionNotFound`.
    public func streamPositions(of name: String) async throws -> [String: Int] {
        try await record(name).streamPositions
    }

    /// The projection's saved state as JSON (an empty object before the first save).
    /// - Throws: `projectionNotFound`.
    public func state(of name: String) async throws -> JSONValue {
        guard let text = try await record(name).state else { return .object([]) }
        return try JSONValue(parsing: text)
    }

    /// The projection's row, as stored. - Throws: `projectionNotFound`.
    public func record(_ name: String) async throws -> ProjectionRecord {
        guard let record = try await store.projectionRecord(named: name), !record.isTombstone else {
            throw EventStoreError.projectionNotFound(name)
        }
        return record
    }
}

/// The read models created through one manager, by projection name.
private final class ReadModelRegistry: Sendable {
    private let models = Mutex<[String: any ReadModel]>([:])

    func register(_ model: any ReadModel, for name: String) {
        models.withLock { $0[name] = model }
    }

    func readModel(for name: String) -> (any ReadModel)? {
        models.withLock { $0[name] }
    }
}
