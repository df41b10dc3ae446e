import EventStore
import Synchronization

/// A fixed set of ``BlockingWorker``s that callers take one at a time: a caller without a free worker
/// waits, suspended (never blocking a thread), in the order it came.
///
/// A wait ends when a worker comes free, when the waiting task is cancelled (`CancellationError`), when it
/// has waited `waitLimit` (`backend`) or when the pool shuts down (`backend`). ``shutDown()`` also closes
/// every worker once its jobs are done.
package final class WorkerPool<Connection>: Sendable {
    private struct State {
        var idle: [Int]
        var waiters: [(id: UInt64, continuation: CheckedContinuation<Int, any Error>)] = []
        /// Waits given up before they were queued (a timer that fired first), with their errors.
        var givenUp: [UInt64: any Error] = [:]
        var nextWaiter: UInt64 = 0
        var isShutDown = false
    }

    private let workers: [BlockingWorker<Connection>]
    private let state: Mutex<State>
    private let waitLimit: Duration?

    /// A pool of `workers` (at least one); a caller waits at most `waitLimit` for one (for ever when nil).
    package init(_ workers: [BlockingWorker<Connection>], waitLimit: Duration? = nil) {
        precondition(!workers.isEmpty, "a pool needs a worker")
        self.workers = workers
        self.waitLimit = waitLimit
        self.state = Mutex(State(idle: Array(workers.indices.reversed())))
    }

    /// Runs `body` with a worker of its own, given back when `body` ends.
    /// - Parameter waitsThroughCancellation: when true, a cancelled caller still waits for its worker (a
    ///   write that must run to its end); when false it stops waiting with `CancellationError`.
    /// - Throws: `CancellationError` when cancelled while waiting for a worker (unless it waits through
    ///   cancellation); `backend` after waiting the pool's `waitLimit` or once the pool is shut down; what
    ///   `body` throws.
    package func withWorker<T: Sendable>(
        waitsThroughCancellation: Bool = false, _ body: (BlockingWorker<Connection>) async throws -> T
    ) async throws -> T {
        let index = try await acquire(cancellable: !waitsThroughCancellation)
        defer { release(index) }
        return try await body(workers[index])
    }

    /// Fails every waiting and later caller, and closes the workers after the jobs they run.
    package func shutDown() async {
        let waiters = state.withLock { state in
            state.isShutDown = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.continuation.resume(throwing: Self.shutDownError) }
        for worker in workers { await worker.close() }
    }

    /// How many callers wait for a worker.
    package var waitingCount: Int { state.withLock { $0.waiters.count } }

    private static var shutDownError: EventStoreError { .backend("the store was closed") }

    private func acquire(cancellable: Bool) async throws -> Int {
        let id = try nextWaiterID()
        let timer = waitLimit.map { limit in
            Task {
                guard (try? await Task.sleep(for: limit)) != nil else { return }
                giveUp(
                    id,
                    with: EventStoreError.backend(
                        "no connection within \(limit): every pooled connection is busy, or the server is slow to answer"))
            }
        }
        defer {
            timer?.cancel()
            _ = state.withLock { $0.givenUp.removeValue(forKey: id) }
        }
        guard cancellable else { return try await wait(id, cancellable: false) }
        return try await withTaskCancellationHandler {
            try await wait(id, cancellable: true)
        } onCancel: {
            giveUp(id, with: CancellationError())
        }
    }

    /// Ends the wait of `id` with `error`: at once when it is queued, when it comes otherwise (unless it
    /// has its worker by then).
    private func giveUp(_ id: UInt64, with error: any Error) {
        let waiter = state.withLock { state -> CheckedContinuation<Int, any Error>? in
            guard let position = state.waiters.firstIndex(where: { $0.id == id }) else {
                state.givenUp[id] = error
                return nil
            }
            return state.waiters.remove(at: position).continuation
        }
        waiter?.resume(throwing: error)
    }

    private func nextWaiterID() throws -> UInt64 {
        try state.withLock { state -> UInt64 in
            if state.isShutDown { throw Self.shutDownError }
            state.nextWaiter &+= 1
            return state.nextWaiter
        }
    }

    /// Takes an idle worker, or queues `id` for the next one given back.
    private func wait(_ id: UInt64, cancellable: Bool) async throws -> Int {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int, any Error>) in
            let now = state.withLock { state -> Result<Int, any Error>? in
                if state.isShutDown { return .failure(Self.shutDownError) }
                if let error = state.givenUp.removeValue(forKey: id) { return .failure(error) }
                if cancellable, Task.isCancelled { return .failure(CancellationError()) }
                if state.waiters.isEmpty, let index = state.idle.popLast() { return .success(index) }
                state.waiters.append((id, continuation))
                return nil
            }
            if let now { continuation.resume(with: now) }
        }
    }

    private func release(_ index: Int) {
        let waiter = state.withLock { state -> CheckedContinuation<Int, any Error>? in
            if !state.waiters.isEmpty { return state.waiters.removeFirst().continuation }
            state.idle.append(index)
            return nil
        }
        waiter?.resume(returning: index)
    }
}
