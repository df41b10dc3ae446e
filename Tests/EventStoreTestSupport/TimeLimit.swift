import Foundation

/// A wait that ran past its limit (see ``within(_:_:_:)``).
public struct TimeLimitExceeded: Error, CustomStringConvertible {
    public let what: String
    public let limit: Duration
    public var description: String { "\(what) did not happen within \(limit)" }
}

/// Runs `body` and returns its result, or throws ``TimeLimitExceeded`` after `limit`: for a test that waits
/// for something to happen and must fail, not hang, when it does not. `body` must end when cancelled
/// (the ``Watchdog`` is there for code that does not). Names the wait as the watchdog's step.
public func within<T: Sendable>(
    _ limit: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    Watchdog.step(what)
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw TimeLimitExceeded(what: what, limit: limit)
        }
        return value
    }
}
