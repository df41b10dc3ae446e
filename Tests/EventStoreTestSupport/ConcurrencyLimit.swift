/// At most `limit` bodies at once, the others waiting in order (suspended, never blocking a thread): for the
/// conformance suites, whose cases Swift Testing starts all at once, each with a store of its own that opens
/// its own connections, more together than a test server's `max_connections`.
/// - Important: a body must not wait for a second permit of the same limit (it could wait for ever).
public actor ConcurrencyLimit {
    private let limit: Int
    private var running = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init(_ limit: Int) {
        precondition(limit > 0, "a limit of at least one")
        self.limit = limit
    }

    /// Runs `body` once fewer than `limit` others run. A test's watchdog clock stops while it waits for its
    /// turn and starts again from its turn (``Watchdog/stopClock()``): Swift Testing starts every case at
    /// once, so the last in the queue waits for nearly the whole suite, which its own limit is not for. The
    /// queue cannot hang unseen: each body that holds a permit is watched.
    public func run<T: Sendable>(_ body: @Sendable () async throws -> T) async rethrows -> T {
        if running < limit {
            running += 1
        } else {
            Watchdog.stopClock()
            await withCheckedContinuation { waiters.append($0) }
            Watchdog.restartClock()
        }
        defer { release() }
        return try await body()
    }

    private func release() {
        if waiters.isEmpty {
            running -= 1
        } else {
            waiters.removeFirst().resume()
        }
    }
}
