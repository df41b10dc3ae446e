import Synchronization

/// A result that arrives once, from whichever side has it first (the work, a timer, a cancellation
/// handler), awaited by one caller. Later results are dropped.
package final class Outcome<T: Sendable>: Sendable {
    private struct State {
        var result: Result<T, any Error>?
        var waiter: CheckedContinuation<T, any Error>?
        var resolved = false
    }

    private let state = Mutex(State())

    package init() {}

    /// Whether a result was delivered (it may not have been awaited yet).
    package var isResolved: Bool { state.withLock { $0.resolved } }

    /// Delivers `result` unless one was delivered before.
    package func resolve(_ result: Result<T, any Error>) {
        let waiter = state.withLock { state -> CheckedContinuation<T, any Error>? in
            guard !state.resolved else { return nil }
            state.resolved = true
            guard let waiter = state.waiter else {
                state.result = result
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume(with: result)
    }

    /// Waits for the result.
    package func value() async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let ready = state.withLock { state -> Result<T, any Error>? in
                if let result = state.result { return result }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}
