/// What a projection run decides, as a value: fed the outcome of each step (a page handled, a save done with
/// the row's status, a wait ended), it says what the runner does next.
///
/// It does no I/O and reads no clock: ``ProjectionRunner`` reads pages, calls handlers, writes the row and
/// waits, and hands every result back as an input. Times come in as `Duration`s since any origin the caller
/// chooses, the same for every input of one run. Feeding an input the current state does not expect is a
/// programming error and traps.
///
/// The decisions it owns:
/// - A pass reads pages until it is caught up, saving every ``Configuration/persistBlockSize`` events, after
///   a page when ``Configuration/renewalInterval`` has passed since the pass began or last saved (the lease
///   must not expire under a slow pass), and at the end when anything is unsaved. A command found at a save
///   ends the pass.
/// - A settling pass (a query's, or that of a run without `keepRunning`) first notes the head and, once
///   caught up, waits for events committed before it that the store still holds back (up to
///   ``Configuration/settleTimeout``).
/// - A live run waits for events between passes and renews its lease when ``Configuration/idleCheckInterval``
///   has passed since it last checked, obeying the command it finds.
/// - Commands: stop saves progress and releases the lease as idle; delete ends the run; reset starts over
///   and goes on when the run keeps running (and always at the start of a run), else releases the lease.
///   A stop request or cancellation turns whatever came at the end of a pass into a stop.
/// - Without `keepRunning`: one settling pass, then a last renewal to catch a command written after the
///   last save, then the lease is released as idle with the progress saved.
/// - A failure while a persistent run is cancelled during a pass is a stop (what was processed is saved);
///   any other failure ends the run.
struct ProjectionRunnerStateMachine: Sendable {
    /// The numbers a run goes by, taken from ``ProjectionOptions`` and the store.
    struct Configuration: Sendable, Hashable {
        /// `false` for a query: nothing is saved, no lease is held, and the run is one settling pass.
        var persistent: Bool
        /// `true` to follow new events after catching up; `false` for one pass.
        var keepRunning: Bool
        /// Save after this many events.
        var persistBlockSize: Int
        /// The most events one read returns: a shorter page means caught up.
        var readBatchSize: Int
        /// During a pass, save (renewing the lease) after a page when this long has passed since the pass
        /// began or last saved: a third of the lock timeout.
        var renewalInterval: Duration
        /// While idle, renew the lease (and read commands) when this long has passed since the last check.
        var idleCheckInterval: Duration
        /// The longest one wait for events lasts: the store's poll interval or the idle check interval,
        /// whichever is shorter.
        var idleWait: Duration
        /// How long a settling pass waits, at most, for events held back below the head it started from.
        var settleTimeout: Duration = .seconds(10)
        /// How long a settling pass sleeps before it asks again whether the held-back events are readable.
        var settleRetryDelay: Duration = .milliseconds(5)

        /// A persistent run's configuration, or a query's (`persistent: false`, which always makes one pass).
        init(options: ProjectionOptions, pollInterval: Duration, persistent: Bool, keepRunning: Bool) {
            self.persistent = persistent
            self.keepRunning = persistent ? keepRunning : false
            persistBlockSize = options.persistBlockSize
            readBatchSize = options.readBatchSize
            renewalInterval = options.lockTimeout / 3
            idleCheckInterval = options.idleCheckInterval
            idleWait = min(pollInterval, options.idleCheckInterval)
        }
    }

    /// A command a runner found in its row.
    enum Command: Sendable, Hashable {
        /// Stop, saving progress.
        case stop
        /// Start over.
        case reset
        /// Delete the row, and the emitted events or read model when asked.
        case delete(withEmittedEvents: Bool)

        /// The command a row's status asks for; `nil` for `running` and `idle`.
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

    /// What the runner does next. Each names the input that reports its outcome; ``stop``, ``delete(withEmittedEvents:)``,
    /// ``release(_:saving:)`` and ``finish`` end the run.
    enum Action: Sendable, Hashable {
        /// Note the append and stop signals' generations (a wait after this pass returns at once for what
        /// comes from now on), then ``passStarted(at:)``.
        case startPass
        /// Read the store's head position, then ``headRead(_:at:)``.
        case readHead
        /// Read the next page after the global position processed last and handle its events as for ``handleEvents``.
        case readPage
        /// Handle the page's remaining events, calling ``eventHandled()`` after each and acting on what it
        /// returns; when none is left, ``pageProcessed(count:position:at:)``.
        case handleEvents
        /// Persist the read model and save state and positions (renewing the lease), then
        /// ``saved(status:at:)``.
        case save
        /// Read the store's readable head, then ``readableHeadRead(_:)``.
        case readReadableHead
        /// Sleep this long, then ``settleWaitEnded()``.
        case settleWait(Duration)
        /// Wait for an append or a stop request, this long at most, then ``waitEnded(at:)``.
        case waitForEvents(Duration)
        /// Renew the lease, then ``leaseRenewed(status:at:)``.
        case renewLease
        /// Initialize the read model when it is not yet, then ``readModelInitialized(at:)``.
        case initializeReadModel
        /// Reset (read model, state, positions, own stream), then ``resetDone()``.
        case reset
        /// Persist the read model and release the lease as idle, saving progress. The run ends.
        case stop
        /// Delete the row (with its emitted events or read model when asked). The run ends.
        case delete(withEmittedEvents: Bool)
        /// Release the lease leaving this status, saving progress when asked. The run ends.
        case release(ProjectionStatus, saving: Bool)
        /// A query's pass is over. The run ends.
        case finish
    }

    /// Why a save is in flight, and so what comes after it.
    enum SaveReason: Sendable, Hashable {
        /// The block was full in the middle of a page.
        case block
        /// The renewal interval passed; the page of `count` events that ended at `position` is then
        /// looked at as if no save had come.
        case renewal(count: Int, position: ProjectionPosition)
        /// The pass is over, with events unsaved.
        case end
    }

    /// Where a pass is.
    enum PassStep: Sendable, Hashable {
        /// ``Action/readHead`` is out.
        case readingHead
        /// A page is read or its events handled.
        case reading
        /// ``Action/save`` is out.
        case saving(SaveReason)
        /// ``Action/readReadableHead`` is out.
        case readingReadableHead
        /// ``Action/settleWait(_:)`` is out.
        case settleWaiting
    }

    /// One pass's bookkeeping.
    struct Pass: Sendable, Hashable {
        var step: PassStep
        /// Events handled since the last save.
        var unsaved = 0
        /// When the pass began or last saved.
        var savedAt: Duration
        /// A settling pass's head, once read.
        var head: ProjectionPosition?
        /// When a settling pass stops waiting for held-back events.
        var settleDeadline: Duration?
        /// The readable head passed ``head``: the next page is the pass's last.
        var settled = false
    }

    /// What follows a reset.
    enum AfterReset: Sendable, Hashable {
        /// At the start of a run: the read model is initialized and the run goes on.
        case initializeReadModel
        /// A live run goes on from the start.
        case startPass
        /// A run without `keepRunning` releases its lease as idle.
        case release
    }

    /// Where a run is.
    enum State: Sendable, Hashable {
        /// Nothing has happened yet.
        case initial
        /// ``Action/initializeReadModel`` is out.
        case initializingReadModel
        /// ``Action/startPass`` is out.
        case startingPass
        /// A pass is on, at its step.
        case passing(Pass)
        /// A live run waits for events.
        case waiting
        /// A live run renews its lease after waiting.
        case renewingIdle
        /// A run without `keepRunning` renews its lease once more before it releases it.
        case renewingLast
        /// ``Action/reset`` is out; what follows it.
        case resetting(then: AfterReset)
        /// The run has ended (or is ending with the last action given).
        case finished
    }

    /// The numbers this run goes by.
    let configuration: Configuration
    /// Where the run is.
    private(set) var state: State = .initial
    /// A stop was requested (by ``ProjectionRunner/stop()`` or a handler's context).
    private(set) var isStopRequested = false
    /// The running task was cancelled.
    private(set) var isCancelled = false
    /// When a live run last wrote its lease outside a pass's saves: the idle check counts from here.
    private(set) var leaseCheckedAt: Duration = .zero

    /// A run that has not started.
    init(configuration: Configuration) {
        self.configuration = configuration
    }

    // MARK: Signals

    /// Notes a stop request: it is obeyed after the current event, or at the end of the pass or wait.
    mutating func stopRequested() { isStopRequested = true }

    /// Notes that the running task was cancelled: the run stops, saving progress, at the end of the pass.
    mutating func cancelled() { isCancelled = true }

    // MARK: Starting

    /// A query's run begins. - Returns: ``Action/startPass``.
    mutating func started() -> Action {
        precondition(state == .initial && !configuration.persistent, "started() is a query's first input")
        return startPass()
    }

    /// A persistent run holds the lease; `status` is the row's. A command waiting there is obeyed first, and
    /// after a reset the run goes on (even without `keepRunning`).
    mutating func leaseAcquired(status: ProjectionStatus) -> Action {
        precondition(
            state == .initial && configuration.persistent, "leaseAcquired(status:) is a persistent run's first input")
        if let action = obey(Command(status), afterReset: .initializeReadModel) { return action }
        state = .initializingReadModel
        return .initializeReadModel
    }

    /// The read model is ready: the idle check counts from `now`, and the first pass starts.
    mutating func readModelInitialized(at now: Duration) -> Action {
        precondition(state == .initializingReadModel, "no read model initialization is out in \(state)")
        leaseCheckedAt = now
        return startPass()
    }

    // MARK: A pass

    /// The runner noted the signals' generations at `now`. - Returns: ``Action/readHead`` for a settling pass,
    /// else ``Action/readPage``.
    mutating func passStarted(at now: Duration) -> Action {
        precondition(state == .startingPass, "no pass is starting in \(state)")
        if !configuration.persistent || !configuration.keepRunning {
            state = .passing(Pass(step: .readingHead, savedAt: now))
            return .readHead
        }
        state = .passing(Pass(step: .reading, savedAt: now))
        return .readPage
    }

    /// A settling pass read the head it must reach; it waits for held-back events until `now` plus the
    /// settle timeout.
    mutating func headRead(_ head: ProjectionPosition, at now: Duration) -> Action {
        var pass = pass(in: .readingHead)
        pass.head = head
        pass.settleDeadline = now + configuration.settleTimeout
        pass.step = .reading
        state = .passing(pass)
        return .readPage
    }

    /// An event was handled (its position is now the runner's). - Returns: `nil` to go on with the page's next
    /// event (or ``pageProcessed(count:position:at:)`` after the last); ``Action/save`` when the block is
    /// full; the end of the pass when a stop was requested.
    mutating func eventHandled() -> Action? {
        var pass = pass(in: .reading)
        pass.unsaved += 1
        if configuration.persistent, pass.unsaved >= configuration.persistBlockSize {
            pass.step = .saving(.block)
            state = .passing(pass)
            return .save
        }
        state = .passing(pass)
        if isStopRequested { return passEnded(nil, at: nil) }
        return nil
    }

    /// Every event of a page of `count` was handled, the last at `position` (the position from
    /// before for an empty page), at `now`.
    mutating func pageProcessed(count: Int, position: ProjectionPosition, at now: Duration) -> Action {
        var pass = pass(in: .reading)
        if configuration.persistent, now - pass.savedAt >= configuration.renewalInterval {
            pass.step = .saving(.renewal(count: count, position: position))
            state = .passing(pass)
            return .save
        }
        return afterPage(pass, count: count, position: position, at: now)
    }

    /// A save ended at `now`; `status` is the row's. A command there ends the pass.
    mutating func saved(status: ProjectionStatus, at now: Duration) -> Action {
        guard case var .passing(pass) = state, case let .saving(reason) = pass.step else {
            preconditionFailure("no save is out in \(state)")
        }
        pass.unsaved = 0
        pass.savedAt = now
        pass.step = .reading
        state = .passing(pass)
        if let command = Command(status) { return passEnded(command, at: now) }
        switch reason {
        case .block:
            if isStopRequested { return passEnded(nil, at: now) }
            return .handleEvents
        case let .renewal(count, position):
            return afterPage(pass, count: count, position: position, at: now)
        case .end:
            return passEnded(nil, at: now)
        }
    }

    /// A settling pass read the readable head: once it is past the pass's head, the next page is the last.
    mutating func readableHeadRead(_ readable: ProjectionPosition) -> Action {
        var pass = pass(in: .readingReadableHead)
        pass.settled = pass.head.map { readable.isPast($0) } ?? true
        pass.step = pass.settled ? .reading : .settleWaiting
        state = .passing(pass)
        return pass.settled ? .readPage : .settleWait(configuration.settleRetryDelay)
    }

    /// A settling pass slept. - Returns: ``Action/readPage``.
    mutating func settleWaitEnded() -> Action {
        var pass = pass(in: .settleWaiting)
        pass.step = .reading
        state = .passing(pass)
        return .readPage
    }

    // MARK: Between passes

    /// A live run's wait for events ended at `now`: the lease is renewed when the idle check is due.
    mutating func waitEnded(at now: Duration) -> Action {
        precondition(state == .waiting, "no wait is out in \(state)")
        if now - leaseCheckedAt >= configuration.idleCheckInterval {
            state = .renewingIdle
            return .renewLease
        }
        return afterWait(nil)
    }

    /// The lease was renewed at `now`; `status` is the row's, a command when one was written.
    mutating func leaseRenewed(status: ProjectionStatus, at now: Duration) -> Action {
        switch state {
        case .renewingIdle:
            leaseCheckedAt = now
            return afterWait(Command(status))
        case .renewingLast:
            // A command that came after the last save is obeyed before the lease goes; stop requests no
            // longer matter, the run ends anyway.
            if let action = obey(Command(status), afterReset: .release) { return action }
            state = .finished
            return .release(.idle, saving: true)
        default:
            preconditionFailure("no renewal is out in \(state)")
        }
    }

    /// A reset is done.
    mutating func resetDone() -> Action {
        guard case let .resetting(next) = state else { preconditionFailure("no reset is out in \(state)") }
        switch next {
        case .initializeReadModel:
            state = .initializingReadModel
            return .initializeReadModel
        case .startPass:
            return startPass()
        case .release:
            state = .finished
            return .release(.idle, saving: false)
        }
    }

    /// The last action failed. - Returns: what to do instead (a stop, when a persistent run was cancelled
    /// during a pass), or `nil` when the run ends with the error (a persistent run then gives its lease up
    /// without saving).
    mutating func failed() -> Action? {
        if configuration.persistent, isCancelled, case .passing = state {
            // Cancelled: what was processed (up to the event before the one in hand) is saved.
            return passEnded(.stop, at: nil)
        }
        state = .finished
        return nil
    }

    // MARK: Helpers

    private mutating func startPass() -> Action {
        state = .startingPass
        return .startPass
    }

    private func pass(in step: PassStep) -> Pass {
        guard case let .passing(pass) = state, pass.step == step else {
            preconditionFailure("expected a pass at \(step), not \(state)")
        }
        return pass
    }

    /// After a page (and its renewal save, if any): read on, wait for held-back events, or end the pass.
    private mutating func afterPage(_ pass: Pass, count: Int, position: ProjectionPosition, at now: Duration) -> Action {
        var pass = pass
        pass.step = .reading
        if count >= configuration.readBatchSize {
            state = .passing(pass)
            return .readPage
        }
        // Caught up with what can be read. Events committed before a settling pass began may still be held
        // back (on PostgreSQL, behind a transaction that began earlier and is still open): wait a little for
        // them, so that the pass ends at least at the head it started from.
        if let head = pass.head, let deadline = pass.settleDeadline, !pass.settled, !position.isAtOrAfter(head), now < deadline,
            !isCancelled, !isStopRequested
        {
            pass.step = .readingReadableHead
            state = .passing(pass)
            return .readReadableHead
        }
        if configuration.persistent, pass.unsaved > 0 {
            pass.step = .saving(.end)
            state = .passing(pass)
            return .save
        }
        state = .passing(pass)
        return passEnded(nil, at: now)
    }

    /// A pass is over with `command` (found at its last save, or `.stop` on cancellation); `now` is when,
    /// `nil` only where the run ends anyway.
    private mutating func passEnded(_ command: Command?, at now: Duration?) -> Action {
        guard configuration.persistent else {
            state = .finished
            return .finish
        }
        if command != nil || isStopRequested, let now { leaseCheckedAt = now }
        if command == nil, !isStopRequested, configuration.keepRunning {
            state = .waiting
            return .waitForEvents(configuration.idleWait)
        }
        return afterWait(command)
    }

    /// After a pass and, for a live run, its wait: obeys `command` (a stop when one was requested or the task
    /// cancelled), else starts the next pass or, without `keepRunning`, the last renewal.
    private mutating func afterWait(_ command: Command?) -> Action {
        let command = isStopRequested || isCancelled ? .stop : command
        let keepRunning = configuration.keepRunning
        if let action = obey(command, afterReset: keepRunning ? .startPass : .release) { return action }
        if keepRunning { return startPass() }
        state = .renewingLast
        return .renewLease
    }

    /// The action a command asks for, `nil` for none.
    private mutating func obey(_ command: Command?, afterReset: AfterReset) -> Action? {
        switch command {
        case .stop:
            state = .finished
            return .stop
        case let .delete(withEmittedEvents):
            state = .finished
            return .delete(withEmittedEvents: withEmittedEvents)
        case .reset:
            state = .resetting(then: afterReset)
            return .reset
        case nil:
            return nil
        }
    }
}
