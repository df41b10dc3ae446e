import Dispatch
import EventStore
import Synchronization

/// A connection of a blocking C client (SQLite, libmariadb) with a serial queue of its own: every call of
/// the client runs there, one job at a time, never on Swift's cooperative thread pool.
///
/// The connection is opened on the queue by `open`, at the first job (or at once with
/// ``opened(label:open:isBroken:)``), and opened again before the next job when `isBroken` says the last
/// one broke it. After ``close()`` the connection is released (its `deinit` closes it) and every job fails
/// with `backend` without touching it.
///
/// A job whose caller is cancelled can be interrupted (see ``Cancellation``) when the connection armed the
/// worker's ``BlockingInterrupter`` with a call that ends what it is doing from another thread
/// (`mariadb_cancel`); the connection is not used again after an interruption.
/// - Important: `Connection` is used on the queue only; jobs must not keep it.
package final class BlockingWorker<Connection>: @unchecked Sendable {
    /// What a job does when its caller is cancelled.
    package enum Cancellation: Sendable {
        /// It runs to its end (a migration).
        case runsToEnd
        /// It is interrupted at once, and the caller gets `CancellationError` without waiting for it (a read:
        /// it has nothing to report). A job not yet started never starts.
        case interruptsAtOnce
        /// It has `grace` to end; past it, it is interrupted, and the caller gets what it then throws wrapped
        /// in ``JobInterrupted`` (a write: its caller learns whether it committed).
        case interruptsAfter(Duration)
    }

    private let queue: DispatchQueue
    private let open: @Sendable (BlockingInterrupter) throws -> Connection
    private let isBroken: @Sendable (Connection) -> Bool
    private let interrupter = BlockingInterrupter()
    private let jobs = Atomic<UInt64>(0)
    // Touched only on `queue`.
    private var connection: Connection?
    private var isClosed = false

    /// A worker that opens its connection at its first job; `open` may arm the interrupter it is given.
    package init(
        label: String, open: @escaping @Sendable (BlockingInterrupter) throws -> Connection,
        isBroken: @escaping @Sendable (Connection) -> Bool = { _ in false }
    ) {
        self.queue = DispatchQueue(label: label)
        self.open = open
        self.isBroken = isBroken
    }

    /// A worker that opens its connection at its first job, and cannot interrupt it.
    package convenience init(
        label: String, open: @escaping @Sendable () throws -> Connection,
        isBroken: @escaping @Sendable (Connection) -> Bool = { _ in false }
    ) {
        self.init(label: label, open: { _ in try open() }, isBroken: isBroken)
    }

    /// A worker whose connection is opened now, so that opening errors reach the caller.
    package static func opened(
        label: String, open: @escaping @Sendable () throws -> Connection,
        isBroken: @escaping @Sendable (Connection) -> Bool = { _ in false }
    ) async throws -> BlockingWorker {
        let worker = BlockingWorker(label: label, open: open, isBroken: isBroken)
        try await worker.run { _ in }
        return worker
    }

    /// Runs `body` with the connection on the worker's queue and returns its result.
    /// - Parameters:
    ///   - cancellation: what a cancellation of the caller does to the job (it runs to its end by default).
    ///   - deadline: how long `body` may run once the connection is open (opening it has a deadline of the
    ///     client's own, as libpq's `connect_timeout`); past it, the job is interrupted (for a client whose
    ///     calls have no deadline of their own, as libpq's). None by default.
    /// - Throws: what `open` or `body` throws (wrapped in ``JobInterrupted`` when the job was interrupted);
    ///   `CancellationError` for a job interrupted at once; `backend` after ``close()``.
    package func run<T: Sendable>(
        cancellation: Cancellation = .runsToEnd, deadline: Duration? = nil, _ body: @escaping @Sendable (Connection) throws -> T
    ) async throws -> T {
        let job = jobs.add(1, ordering: .relaxed).newValue
        let outcome = Outcome<T>()
        let interrupter = self.interrupter
        queue.async {
            self.interrupter.begin(job)
            // A job given up before it started does nothing (one given up from now on is interrupted).
            if case .interruptsAtOnce = cancellation, outcome.isResolved {
                _ = self.interrupter.end(job)
                return
            }
            let result = Result { () throws -> T in
                let connection = try self.connectionForJob()
                let timer = deadline.map { deadline in
                    Task {
                        try await Task.sleep(for: deadline)
                        if !outcome.isResolved { interrupter.interrupt(job, pastDeadline: true) }
                    }
                }
                defer { timer?.cancel() }
                return try body(connection)
            }
            if let interruption = self.interrupter.end(job) {
                // The connection was cut under the job, maybe after its last call: it is not used again.
                self.connection = nil
                outcome.resolve(result.mapError { JobInterrupted(underlying: $0, pastDeadline: interruption.pastDeadline) })
            } else {
                outcome.resolve(result)
            }
        }
        return try await withTaskCancellationHandler {
            try await outcome.value()
        } onCancel: {
            switch cancellation {
            case .runsToEnd:
                break
            case .interruptsAtOnce:
                outcome.resolve(.failure(CancellationError()))
                interrupter.interrupt(job)
            case let .interruptsAfter(grace):
                Task {
                    // Slept in a task of its own: the cancelled caller's sleep would return at once.
                    try? await Task.sleep(for: grace)
                    if !outcome.isResolved { interrupter.interrupt(job) }
                }
            }
        }
    }

    /// Releases the connection after the jobs already queued; later jobs fail.
    package func close() async {
        await withCheckedContinuation { continuation in
            queue.async {
                self.isClosed = true
                self.connection = nil
                continuation.resume()
            }
        }
    }

    /// On `queue`: the open connection, opened (again) when there is none or the last one broke.
    private func connectionForJob() throws -> Connection {
        if isClosed { throw EventStoreError.backend("the store was closed") }
        if let connection, !isBroken(connection) { return connection }
        connection = nil
        let opened = try open(interrupter)
        connection = opened
        return opened
    }
}

/// What a job threw after its connection was cut under it because its caller was cancelled (see
/// ``BlockingWorker/Cancellation/interruptsAfter(_:)``): the backend tells from `underlying` whether the
/// job may have committed.
package struct JobInterrupted: Error {
    package let underlying: any Error
    /// Whether the job ran past its deadline (rather than its caller being cancelled).
    package var pastDeadline = false
}

/// Ends what a worker's connection is doing, from another thread: the connection arms it with a call that
/// does so (`mariadb_cancel`) once it has a handle, and disarms it before it frees the handle. An
/// interruption reaches only the job it was asked for, even one that is still opening its connection.
package final class BlockingInterrupter: Sendable {
    private struct State {
        var action: (@Sendable () -> Void)?
        var job: UInt64?
        var interrupted = false
        var pastDeadline = false
    }

    /// How a job was interrupted.
    fileprivate struct Interruption {
        let pastDeadline: Bool
    }

    private let state = Mutex(State())

    /// Sets the call that interrupts the connection; runs it at once when the job now running was
    /// interrupted before the connection could be.
    package func arm(_ action: @escaping @Sendable () -> Void) {
        state.withLock { state in
            state.action = action
            if state.job != nil, state.interrupted { action() }
        }
    }

    /// Whether the job now running has been interrupted.
    package var isInterrupted: Bool { state.withLock { $0.job != nil && $0.interrupted } }

    /// Removes the call; once this returns it is not running and will not run.
    package func disarm() {
        state.withLock { $0.action = nil }
    }

    fileprivate func begin(_ job: UInt64) {
        state.withLock { state in
            state.job = job
            state.interrupted = false
            state.pastDeadline = false
        }
    }

    /// - Returns: how the job was interrupted; nil when it was not.
    fileprivate func end(_ job: UInt64) -> Interruption? {
        state.withLock { state in
            state.job = nil
            return state.interrupted ? Interruption(pastDeadline: state.pastDeadline) : nil
        }
    }

    /// Interrupts `job` if it is running. The call runs under the lock, so the connection cannot be freed
    /// while it runs.
    fileprivate func interrupt(_ job: UInt64, pastDeadline: Bool = false) {
        state.withLock { state in
            guard state.job == job, !state.interrupted else { return }
            state.interrupted = true
            state.pastDeadline = pastDeadline
            state.action?()
        }
    }
}
