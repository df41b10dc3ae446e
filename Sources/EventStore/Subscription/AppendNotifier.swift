import Synchronization

/// Tells readers of the global order that new events may have been committed, without busy polling.
///
/// Stores call ``signal()`` after each commit they make (and on wake-ups from other processes, such as
/// PostgreSQL's `NOTIFY`); readers note the ``generation`` before they read and, finding nothing new,
/// wait with ``wait(after:timeout:clock:)``: a commit between their read and their wait is never missed.
@_spi(Backend) public final class AppendNotifier: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// How many signals there have been.
    public var generation: UInt64 { state.withLock { $0.generation } }

    /// Wakes every waiter.
    public func signal() {
        let waiters = state.withLock { state in
            state.generation &+= 1
            let waiters = state.waiters
            state.waiters.removeAll()
            return waiters
        }
        for waiter in waiters.values { waiter.resume() }
    }

    /// Returns when a signal comes after `generation`, when `timeout` has passed on `clock`, or when the task
    /// is cancelled, whichever is first.
    public func wait<C: Clock<Duration>>(after generation: UInt64, timeout: Duration, clock: C = ContinuousClock()) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForSignal(after: generation) }
            group.addTask { try? await clock.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForSignal(after generation: UInt64) async {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiter &+= 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.generation != generation || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }
}
