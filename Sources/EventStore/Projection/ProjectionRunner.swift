import Foundation
import Logging
import Synchronization
import Tracing

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
        /// Where the run is in the store's order: the position after the last event processed.
        var position: ProjectionPosition
        var running = false
    }

    private typealias Machine = ProjectionRunnerStateMachine

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
        self.local = Mutex(Local(state: makeState(context), position: setup.store.projectionFeed.start))
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
    ///
    /// `clock` times the run's waits: for new events, between lease renewals and idle checks, and for events a
    /// settling pass waits for. The lease's expiry written to the row stays on the wall clock every runner
    /// shares, whatever `clock` is. `logger` (the store's by default) hears of a lease taken over from a runner
    /// whose lease expired, and of a lease lost to another runner. Each page of events the run handles is a
    /// span, `eventstore projection page`.
    /// - Throws: `invalidArgument` for bad options, sources or handlers; `projectionRunning` when another
    ///   runner holds the lease (or this one runs already); `projectionLeaseLost` when the lease expired
    ///   and another runner took over; whatever a handler throws.
    public func run(keepRunning: Bool = true, clock: some Clock<Duration> = ContinuousClock(), logger: Logger? = nil)
        async throws
    {
        var logger = logger ?? setup.store.logger
        if let name = setup.persistence?.name { logger[metadataKey: "eventstore.projection"] = .string(name) }
        // Other failures reach the caller, who decides what they mean: they are not logged here as well.
        do {
            try await runLogging(keepRunning: keepRunning, clock: clock, logger: logger)
        } catch let error as EventStoreError where error.code == .projectionLeaseLost {
            logger.warning("the projection stopped: \(error.reason)")
            throw error
        }
    }

    private func runLogging(keepRunning: Bool, clock: some Clock<Duration>, logger: Logger) async throws {
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
        let clock = AnyClock(clock)
        let configuration = Machine.Configuration(
            options: setup.options, pollInterval: setup.store.projectionFeed.base.pollInterval, persistent: setup.persistence != nil,
            keepRunning: keepRunning)
        guard let persistence = setup.persistence else {
            var machine = Machine(configuration: configuration)
            let first = machine.started()
            try await drive(machine, from: first, session: nil, clock: clock)
            return
        }
        try await runPersistent(persistence, configuration, clock: clock, logger: logger)
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

    private func runPersistent(
        _ persistence: ProjectionPersistence, _ configuration: Machine.Configuration, clock: AnyClock, logger: Logger
    ) async throws {
        let owner = UUID().uuidString
        let lease = setup.options.lockTimeout.microseconds
        let name = persistence.name
        let kind = persistence.kind
        let target = source.target
        var (record, expired) = try await persistence.store.changeProjection(named: name) { row in
            let now = Timestamp.microseconds(Date())
            var record = row ?? ProjectionRecord(name: name, kind: kind)
            if record.isLeased(at: now) {
                throw EventStoreError(
                    code: .projectionRunning, reason: "projection \"\(name)\" is already running in another runner",
                    projectionName: name)
            }
            // A lease another runner held and did not give up: it crashed, hung or lost its database.
            let expired = record.leaseOwner.map { ($0, record.lockedUntil) }
            record.kind = kind
            record.source = target
            record.leaseOwner = owner
            record.lockedUntil = now + lease
            if record.status == .idle { record.status = .running }
            row = record
            return ProjectionChange((record, expired))
        }
        if let (previous, until) = expired {
            logger.notice(
                "took the projection over from runner \(previous), whose lease expired",
                metadata: [
                    "eventstore.lease_expired_at": .string(until.map { "\(Date(timeIntervalSince1970: Double($0) / 1_000_000))" } ?? "-"),
                    "eventstore.position": .string(record.position?.description ?? "start"),
                ])
        }
        let session = Session(persistence: persistence, owner: owner, leaseMicros: lease)
        // Every emit and linkTo first checks that this run still holds the lease.
        core.setWriteGuard { _ = try await session.renew() }
        defer { core.setWriteGuard(nil) }
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
                        record.position = nil
                    }
                    return ProjectionChange(record)
                }
            }
            loadLocal(from: record)
            var machine = Machine(configuration: configuration)
            let first = machine.leaseAcquired(status: record.status)
            try await drive(machine, from: first, session: session, clock: clock)
        } catch {
            await session.releaseAfterFailure()
            throw error
        }
    }

    /// Carries out what `machine` decides, from `first` on, and feeds it each outcome, until the run ends.
    /// Every I/O of a run is here; before each input the machine learns of a stop request or cancellation.
    /// - Throws: what an action threw, when the machine ends the run with it.
    private func drive(_ machine: Machine, from first: Machine.Action, session: Session?, clock: AnyClock) async throws {
        let feed = setup.store.projectionFeed.base
        let evaluator = try matcher.map { matcher throws(EventStoreError) in try MatcherEvaluator(matcher) }
        var machine = machine
        var page: [RecordedEvent] = []
        /// The position after each event of `page`.
        var positions: [ProjectionPosition] = []
        /// How far the read of `page` looked: the runner's position once the page is handled.
        var readThrough = feed.start
        var next = 0
        var generations: (append: AppendMark, stop: UInt64) = (AppendMark(generations: []), 0)
        let leaseRenewalInterval = setup.options.lockTimeout / 2
        var lastRenewal = clock.now.offset

        func now() -> Duration { clock.now.offset }
        func observe() {
            if core.stopRequested { machine.stopRequested() }
            if Task.isCancelled { machine.cancelled() }
        }
        func held() -> Session {
            guard let session else { preconditionFailure("a query holds no lease") }
            return session
        }
        func handleEvents() async throws -> Machine.Action {
            while next < page.count {
                let event = page[next]
                next += 1
                var state = local.withLock { $0.state }
                if evaluator?.matches(event.message, position: event.position) ?? true,
                    let handler = handler(for: event.message.messageName)
                {
                    core.begin(event)
                    state = try await handler(state, event, context)
                }
                local.withLock { local in
                    local.state = state
                    local.positions[event.streamName.rawValue] = event.position
                    local.position = positions[next - 1]
                }
                observe()
                if let action = machine.eventHandled() { return action }
                // A long block renews the lease by time too, not only when it is saved.
                if let session, now() - lastRenewal >= leaseRenewalInterval {
                    _ = try await session.renew()
                    lastRenewal = now()
                }
            }
            let position = local.withLock { local in
                local.position = local.position.joined(with: readThrough)
                return local.position
            }
            observe()
            return machine.pageProcessed(count: page.count, position: position, at: now())
        }

        var action = first
        while true {
            do {
                switch action {
                case .startPass:
                    generations = (feed.appendMark(), core.wakeUp.generation)
                    action = machine.passStarted(at: now())
                case .readHead:
                    let head = try await feed.head()
                    observe()
                    action = machine.headRead(head, at: now())
                case .readPage:
                    let position = local.withLock { $0.position }
                    action = try await withSpan("eventstore projection page", ofKind: .consumer) { span in
                        if let name = setup.persistence?.name { span.attributes["eventstore.projection"] = name }
                        span.attributes["eventstore.position"] = "\(position)"
                        let read = try await feed.page(after: position, of: source.target, limit: machine.configuration.readBatchSize)
                        (page, positions, readThrough) = (read.events, read.positions, read.readThrough)
                        span.attributes["eventstore.events"] = page.count
                        next = 0
                        return try await handleEvents()
                    }
                case .handleEvents:
                    action = try await handleEvents()
                case .save:
                    let session = held()
                    if let readModel = session.persistence.readModel {
                        // Never persist after the lease is gone: a runner that took over owns the read model.
                        _ = try await session.renew()
                        try await readModel.persist()
                    }
                    let status = try await session.save(try progress())
                    lastRenewal = now()
                    observe()
                    action = machine.saved(status: status, at: now())
                case .readReadableHead:
                    let readable = try await feed.readableHead()
                    observe()
                    action = machine.readableHeadRead(readable)
                case let .settleWait(delay):
                    try? await clock.sleep(for: delay)
                    observe()
                    action = machine.settleWaitEnded()
                case let .waitForEvents(timeout):
                    let (append, stop) = generations
                    await withTaskGroup(of: Void.self) { group in
                        group.addTask { await feed.waitForAppends(after: append, timeout: timeout, clock: clock) }
                        group.addTask { await self.core.wakeUp.wait(after: stop, timeout: timeout, clock: clock) }
                        await group.next()
                        group.cancelAll()
                    }
                    observe()
                    action = machine.waitEnded(at: now())
                case .renewLease:
                    let status = try await held().renew()
                    lastRenewal = now()
                    observe()
                    action = machine.leaseRenewed(status: status, at: now())
                case .initializeReadModel:
                    if let readModel = held().persistence.readModel, try await !readModel.isInitialized() {
                        try await readModel.initialize()
                    }
                    observe()
                    action = machine.readModelInitialized(at: now())
                case .reset:
                    try await reset(held())
                    observe()
                    action = machine.resetDone()
                case .stop:
                    let session = held()
                    if let readModel = session.persistence.readModel {
                        _ = try await session.renew()
                        try await readModel.persist()
                    }
                    try await session.release(status: .idle, saving: try progress())
                    return
                case let .delete(withEmittedEvents):
                    try await delete(held(), withEmittedEvents: withEmittedEvents)
                    return
                case let .release(status, saving):
                    try await held().release(status: status, saving: saving ? try progress() : nil)
                    return
                case .finish:
                    return
                }
            } catch {
                observe()
                guard let instead = machine.failed() else { throw error }
                action = instead
            }
        }
    }

    private func handler(for messageName: String) -> ProjectionHandler<State, Context>.Body? {
        switch handlers {
        case let .any(body): return body
        case let .byName(list): return list.first(where: { $0.messageName == messageName })?.body
        }
    }

    // MARK: Commands

    /// Starts over: the read model is reset, the state is the initial one, positions are cleared, the streams
    /// an emitting projection created and alone wrote to are deleted.
    private func reset(_ session: Session) async throws {
        if let readModel = session.persistence.readModel { try await readModel.reset() }
        let fresh = Local(state: makeState(context), position: setup.store.projectionFeed.start, running: true)
        local.withLock { $0 = fresh }
        let stateJSON = try encode(fresh.state)
        _ = try await session.change { record in
            record.state = stateJSON
            record.streamPositions = [:]
            record.position = nil
            record.status = .running
            return ProjectionChange(record)
        }
        // After the positions are cleared: a crash in between replays, and the replay's writes are skipped
        // where they are still stored (their ids are the same).
        if session.persistence.kind == .projection {
            try await Emitter.deleteCreatedStreams(of: session.persistence.name, in: setup.store)
        }
    }

    /// Deletes the projection's row (and, when asked, the streams it created or its read model), and stops.
    private func delete(_ session: Session, withEmittedEvents: Bool) async throws {
        if withEmittedEvents, let readModel = session.persistence.readModel { try await readModel.delete() }
        _ = try await session.change(deleting: true) { _ in ProjectionChange(()) }
        if withEmittedEvents, session.persistence.kind == .projection {
            try await Emitter.deleteCreatedStreams(of: session.persistence.name, in: setup.store)
        }
        local.withLock { $0 = Local(state: makeState(context), position: setup.store.projectionFeed.start, running: true) }
    }

    /// Takes state and positions from a saved row (keeping the initial state when the row has none).
    private func loadLocal(from record: ProjectionRecord) {
        let decoded = record.state.flatMap { try? JSONDecoder().decode(State.self, from: Data($0.utf8)) }
        let initial = decoded == nil ? makeState(context) : nil
        local.withLock { local in
            local.state = decoded ?? initial ?? local.state
            local.positions = record.streamPositions
            local.position = record.position ?? setup.store.projectionFeed.start
        }
    }

    private func progress() throws -> SavedProgress {
        let local = local.withLock { $0 }
        return SavedProgress(
            state: try encode(local.state), positions: local.positions,
            position: local.position.isStart ? nil : local.position)
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
            local.position = setup.store.projectionFeed.start
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
            record.position = saved.position
            return ProjectionChange(record.status)
        }
    }

    /// Saves (when given progress) and gives the lease up, leaving `status`.
    func release(status: ProjectionStatus, saving saved: SavedProgress? = nil) async throws {
        try await change { record in
            if let saved {
                record.state = saved.state
                record.streamPositions = saved.positions
                record.position = saved.position
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
    let position: ProjectionPosition?
}
