import Foundation
import Synchronization

/// A defined projection: run it, stop it, reset it, read its state. Made by ``ProjectionManager``'s
/// builders; see ``Query``, ``Projection`` and ``ReadModelProjection``.
///
/// Events arrive in the store's global order, each once. A persistent projection saves its state and
/// positions every ``ProjectionOptions/persistBlockSize`` events and at the end of each pass, holds a
/// lease while it runs (a second runner of the same name fails with `projectionRunning`), and obeys stop,
/// reset and delete written by a manager anywhere at its next block. When a handler throws, the last
/// saved state and positions stay, the lease is released and the error is rethrown: running again resumes
/// from the last save.
public final class ProjectionRunner<Context: ProjectionContext, State: Codable & Sendable>: Sendable {
    enum Handlers: Sendable {
        case byName([ProjectionHandler<State, Context>])
        case any(ProjectionHandler<State, Context>.Body)
    }

    private struct Local: Sendable {
        var state: State
        var positions: [String: Int] = [:]
        var checkpoint: GlobalPosition = .start
        var running = false
    }

    /// A command a runner found in its row.
    private enum Command {
        case stop, reset, delete(withEmittedEvents: Bool)

        init?(_ status: ProjectionStatus) {
            switch status {
            case .stopping: self = .stop
            case .resetting: self = .reset
            case .deleting: self = .delete(withEmittedEvents: false)
            case .deletingInclEmittedEvents: self = .delete(withEmittedEvents: true)
            case .running, .idle: return nil
            }
        }
    }

    private let setup: RunnerSetup<Context>
    private let makeState: @Sendable (Context) -> State
    private let source: ProjectionSource
    private let matcher: MetadataMatcher?
    private let handlers: Handlers
    private let core = ContextCore()
    private let context: Context
    private let local: Mutex<Local>

    init(
        setup: RunnerSetup<Context>, makeState: @escaping @Sendable (Context) -> State, source: ProjectionSource,
        matcher: MetadataMatcher?, handlers: Handlers
    ) {
        self.setup = setup
        self.makeState = makeState
        self.source = source
        self.matcher = matcher
        self.handlers = handlers
        let context = setup.makeContext(core)
        self.context = context
        self.local = Mutex(Local(state: makeState(context)))
    }

    /// The projection's name; `nil` for a query.
    public var name: String? { setup.persistence?.name }

    /// The state as this runner last computed it.
    public var state: State { local.withLock { $0.state } }

    /// Per stream, the position of the last event this runner processed.
    public var streamPositions: [String: Int] { local.withLock { $0.positions } }

    /// Asks a run in progress to stop after the current event (or at once, when it waits for events).
    /// What was processed is saved.
    public func stop() { core.stop() }

    // MARK: Running

    /// Runs the projection: catches up with the store, then, with `keepRunning`, follows new events until
    /// stopped (by ``stop()``, a handler's context, or a manager's stop command). A query always makes one
    /// pass and keeps what it processed for its next run.
    /// - Throws: `invalidArgument` for bad options, sources or handlers; `projectionRunning` when another
    ///   runner holds the lease (or this one runs already); `projectionLeaseLost` when the lease expired
    ///   and another runner took over; whatever a handler throws.
    public func run(keepRunning: Bool = true) async throws {
        try validate()
        try local.withLock { local throws(EventStoreError) in
            if local.running {
                throw EventStoreError(
                    code: .projectionRunning, reason: "this projection runs already", projectionName: setup.persistence?.name)
            }
            local.running = true
        }
        defer { local.withLock { $0.running = false } }
        core.clearStop()
        guard let persistence = setup.persistence else {
            _ = try await pass(persisting: nil, settling: true)
            return
        }
        try await runPersistent(persistence, keepRunning: keepRunning)
    }

    private func validate() throws(EventStoreError) {
        try setup.options.validate()
        if let problem = source.problem { throw .invalidArgument(problem) }
        if let matcher { _ = try MatcherEvaluator(matcher) }
        if let persistence = setup.persistence, StreamName.problem(with: persistence.name) != nil {
            throw .invalidArgument(
                "\"\(persistence.name)\" cannot name a projection: \(StreamName.problem(with: persistence.name) ?? "")")
        }
        if case let .byName(list) = handlers {
            var seen: Set<String> = []
            for handler in list {
                if handler.messageName.isEmpty { throw .invalidArgument("a handler's message name cannot be empty") }
                if !seen.insert(handler.messageName).inserted {
                    throw .invalidArgument("two handlers for message name \"\(handler.messageName)\"")
                }
            }
            if list.isEmpty { throw .invalidArgument("when needs at least one handler") }
        }
    }

    private func runPersistent(_ persistence: ProjectionPersistence, keepRunning: Bool) async throws {
        let owner = UUID().uuidString
        let lease = setup.options.lockTimeout.microseconds
        let name = persistence.name
        let kind = persistence.kind
        var record = try await persistence.store.changeProjection(named: name) { row in
            let now = Timestamp.microseconds(Date())
            var record = row ?? ProjectionRecord(name: name, kind: kind)
            if record.isLeased(at: now) {
                throw EventStoreError(
                    code: .projectionRunning, reason: "projection \"\(name)\" is already running in another runner",
                    projectionName: name)
            }
            record.kind = kind
            record.leaseOwner = owner
            record.lockedUntil = now + lease
            if record.status == .idle { record.status = .running }
            row = record
            return ProjectionChange(record)
        }
        let session = Session(persistence: persistence, owner: owner, leaseMicros: lease)
        do {
            if let action = record.pendingReadModelAction {
                if let readModel = persistence.readModel {
                    switch action {
                    case .reset: try await readModel.reset()
                    case .delete: try await readModel.delete()
                    }
                }
                record = try await session.change { record in
                    record.pendingReadModelAction = nil
                    if action == .delete {
                        record.state = nil
                        record.streamPositions = [:]
                        record.globalPosition = nil
                    }
                    return ProjectionChange(record)
                }
            }
            loadLocal(from: record)
            // A command written while nothing ran is obeyed first; after a reset the run goes on.
            if try await obey(Command(record.status), session, keepRunning: true) { return }
            if let readModel = persistence.readModel, try await !readModel.isInitialized() {
                try await readModel.initialize()
            }
            try await loop(session, keepRunning: keepRunning)
        } catch {
            await session.releaseAfterFailure()
            throw error
        }
    }

    /// Catches up, then follows (with `keepRunning`) until stopped; obeys commands; releases the lease.
    private func loop(_ session: Session, keepRunning: Bool) async throws {
        let store = setup.store
        let options = setup.options
        var lastLeaseWrite = ContinuousClock.now
        while true {
            let generation = store.appendNotifier.generation
            let stopGeneration = core.wakeUp.generation
            var command: Command?
            do {
                command = try await pass(persisting: session, settling: !keepRunning)
            } catch where Task.isCancelled {
                // Cancelled: what was processed (up to the event before the one in hand) is saved below.
                command = .stop
            }
            if command != nil || core.stopRequested { lastLeaseWrite = .now }
            if command == nil, !core.stopRequested, keepRunning {
                let wait = min(store.pollInterval, options.idleCheckInterval)
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { await store.appendNotifier.wait(after: generation, timeout: wait) }
                    group.addTask { await self.core.wakeUp.wait(after: stopGeneration, timeout: wait) }
                    await group.next()
                    group.cancelAll()
                }
                if ContinuousClock.now - lastLeaseWrite >= options.idleCheckInterval {
                    command = Command(try await session.renew())
                    lastLeaseWrite = .now
                }
            }
            if core.stopRequested || Task.isCancelled { command = .stop }
            if try await obey(command, session, keepRunning: keepRunning) { return }
            if !keepRunning {
                // A command that came after the last save is obeyed before the lease goes.
                if try await obey(Command(try await session.renew()), session, keepRunning: false) { return }
                try await session.release(status: .idle, saving: try progress())
                return
            }
        }
    }

    /// Carries out a command. - Returns: `true` when the run ends.
    private func obey(_ command: Command?, _ session: Session, keepRunning: Bool) async throws -> Bool {
        switch command {
        case .stop:
            if let readModel = session.persistence.readModel { try await readModel.persist() }
            try await session.release(status: .idle, saving: try progress())
            return true
        case let .delete(withEmittedEvents):
            try await delete(session, withEmittedEvents: withEmittedEvents)
            return true
        case .reset:
            try await reset(session)
            if keepRunning { return false }
            try await session.release(status: .idle)
            return true
        case nil:
            return false
        }
    }

    /// Processes events until caught up (or stopped, or a command is found at a save). With `settling`, the
    /// pass also waits for events committed before it began that the store still holds back; a live run
    /// needs no such wait, its next pass reads them.
    /// - Returns: the command found at the last save, if any.
    private func pass(persisting session: Session?, settling: Bool) async throws -> Command? {
        let store = setup.store
        let options = setup.options
        let evaluator = try matcher.map { matcher throws(EventStoreError) in try MatcherEvaluator(matcher) }
        var unsaved = 0
        var lastSave = ContinuousClock.now
        let head = settling ? try await store.headPosition() : nil
        let settleDeadline = ContinuousClock.now + .seconds(10)
        var settled = false
        let renewEvery = options.lockTimeout / 3
        func save() async throws -> Command? {
            guard let session else { return nil }
            if let readModel = session.persistence.readModel { try await readModel.persist() }
            let status = try await session.save(try progress())
            unsaved = 0
            lastSave = .now
            return Command(status)
        }
        while true {
            let checkpoint = local.withLock { $0.checkpoint }
            let page = try await store.readAll(after: checkpoint, of: source.target, limit: options.readBatchSize)
            for event in page {
                var state = local.withLock { $0.state }
                if evaluator?.matches(event.message, position: event.position) ?? true,
                    let handler = handler(for: event.message.messageName)
                {
                    core.streamName = event.streamName
                    state = try await handler(state, event, context)
                }
                local.withLock { local in
                    local.state = state
                    local.positions[event.streamName.rawValue] = event.position
                    local.checkpoint = event.globalPosition
                }
                unsaved += 1
                if unsaved >= options.persistBlockSize, let command = try await save() { return command }
                if core.stopRequested { return nil }
            }
            if session != nil, ContinuousClock.now - lastSave >= renewEvery, let command = try await save() {
                return command
            }
            if page.count < options.readBatchSize {
                // Caught up with what can be read. Events committed before the pass began may still be
                // held back (on PostgreSQL, behind a transaction that began earlier and is still open):
                // wait a little for them, so that a pass ends at least at the head it started from. The
                // read after the store says they are readable is the pass's last.
                guard let head, !settled, local.withLock({ $0.checkpoint }) < head, ContinuousClock.now < settleDeadline
                else { break }
                if Task.isCancelled || core.stopRequested { break }
                settled = try await store.readableHead() > head
                if !settled { try? await Task.sleep(for: .milliseconds(5)) }
            }
        }
        if unsaved > 0 { return try await save() }
        return nil
    }

    private func handler(for messageName: String) -> ProjectionHandler<State, Context>.Body? {
        switch handlers {
        case let .any(body): return body
        case let .byName(list): return list.first(where: { $0.messageName == messageName })?.body
        }
    }

    // MARK: Commands

    /// Starts over: the read model is reset, the state is the initial one, positions are cleared, an emitting
    /// projection's own stream is deleted.
    private func reset(_ session: Session) async throws {
        if let readModel = session.persistence.readModel { try await readModel.reset() }
        let fresh = Local(state: makeState(context), running: true)
        local.withLock { $0 = fresh }
        let stateJSON = try encode(fresh.state)
        let ownStream = session.persistence.kind == .projection ? try StreamName(session.persistence.name) : nil
        _ = try await session.change { record in
            record.state = stateJSON
            record.streamPositions = [:]
            record.globalPosition = nil
            record.status = .running
            return ProjectionChange(record, deleteStream: ownStream)
        }
    }

    /// Deletes the projection's row (and, when asked, its own stream or its read model), and stops.
    private func delete(_ session: Session, withEmittedEvents: Bool) async throws {
        if withEmittedEvents, let readModel = session.persistence.readModel { try await readModel.delete() }
        let ownStream =
            withEmittedEvents && session.persistence.kind == .projection ? try StreamName(session.persistence.name) : nil
        _ = try await session.change(deleting: true) { _ in ProjectionChange((), deleteStream: ownStream) }
        local.withLock { $0 = Local(state: makeState(context), running: true) }
    }

    /// Takes state and positions from a saved row (keeping the initial state when the row has none).
    private func loadLocal(from record: ProjectionRecord) {
        let decoded = record.state.flatMap { try? JSONDecoder().decode(State.self, from: Data($0.utf8)) }
        let initial = decoded == nil ? makeState(context) : nil
        local.withLock { local in
            local.state = decoded ?? initial ?? local.state
            local.positions = record.streamPositions
            local.checkpoint = record.globalPosition ?? .start
        }
    }

    private func progress() throws -> SavedProgress {
        let local = local.withLock { $0 }
        return SavedProgress(
            state: try encode(local.state), positions: local.positions,
            checkpoint: local.checkpoint == .start ? nil : local.checkpoint)
    }

    private func encode(_ state: State) throws -> String {
        String(decoding: try JSONEncoder().encode(state), as: UTF8.self)
    }

    // MARK: Local resets (no runner)

    /// Forgets this runner's state and positions (a query's next run starts over). For persistent projections
    /// use ``ProjectionManager/resetProjection(_:)``, which also clears the saved row.
    public func resetLocally() {
        let state = makeState(context)
        local.withLock { local in
            local.state = state
            local.positions = [:]
            local.checkpoint = .start
        }
    }
}

/// One run's hold on a projection's row: every write checks that the lease is still this run's, and
/// renews it.
private struct Session: Sendable {
    let persistence: ProjectionPersistence
    let owner: String
    let leaseMicros: Int64

    /// Edits the row while this run holds its lease (deleting it afterwards when asked).
    func change<R: Sendable>(
        deleting: Bool = false, _ edit: @escaping @Sendable (inout ProjectionRecord) throws -> ProjectionChange<R>
    ) async throws -> R {
        let owner = owner
        let name = persistence.name
        let lease = leaseMicros
        return try await persistence.store.changeProjection(named: name) { row in
            guard var record = row, record.leaseOwner == owner else {
                throw EventStoreError(
                    code: .projectionLeaseLost,
                    reason: "projection \"\(name)\" was taken over by another runner after this one's lease expired",
                    projectionName: name)
            }
            record.lockedUntil = Timestamp.microseconds(Date()) + lease
            let change = try edit(&record)
            row = deleting ? nil : record
            return change
        }
    }

    /// Renews the lease. - Returns: the row's status (a command, when one was written).
    func renew() async throws -> ProjectionStatus {
        try await change { ProjectionChange($0.status) }
    }

    /// Saves state and positions (renewing the lease). - Returns: the row's status.
    func save(_ saved: SavedProgress) async throws -> ProjectionStatus {
        try await change { record in
            record.state = saved.state
            record.streamPositions = saved.positions
            record.globalPosition = saved.checkpoint
            return ProjectionChange(record.status)
        }
    }

    /// Saves (when given progress) and gives the lease up, leaving `status`.
    func release(status: ProjectionStatus, saving saved: SavedProgress? = nil) async throws {
        try await change { record in
            if let saved {
                record.state = saved.state
                record.streamPositions = saved.positions
                record.globalPosition = saved.checkpoint
            }
            record.status = status
            record.lockedUntil = nil
            record.leaseOwner = nil
            return ProjectionChange(())
        }
    }

    /// After a failure: gives the lease up without saving; a command waiting in the row stays for the next
    /// runner. Best effort: when even this fails, the lease expires by itself.
    func releaseAfterFailure() async {
        _ = try? await change { record in
            if record.status == .running { record.status = .idle }
            record.lockedUntil = nil
            record.leaseOwner = nil
            return ProjectionChange(())
        }
    }
}

/// What a save writes.
struct SavedProgress: Sendable {
    let state: String
    let positions: [String: Int]
    let checkpoint: GlobalPosition?
}
