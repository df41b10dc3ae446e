import Synchronization

/// A clock that moves only when a test moves it: code that sleeps on it wakes when ``advance(by:)`` reaches its
/// deadline, so a test of timeouts, idle checks and back-off advances time instead of sleeping.
///
/// Sleepers are resumed in the call to ``advance(by:)``; a test that must know the code under test is asleep
/// before it advances waits with ``sleepers(atLeast:)``. A cancelled sleeper wakes at once with
/// `CancellationError`, as on the system clocks.
public final class TestClock: Clock, Sendable {
    /// A point on the test clock: how long after its start.
    public struct Instant: InstantProtocol, CustomStringConvertible {
        /// The time since the clock started.
        public var offset: Duration

        /// The instant `offset` after the clock's start.
        public init(offset: Duration) { self.offset = offset }

        /// The instant `duration` later.
        public func advanced(by duration: Duration) -> Self { Self(offset: offset + duration) }
        /// The time from this instant to `other`.
        public func duration(to other: Self) -> Duration { other.offset - offset }
        public static func < (lhs: Self, rhs: Self) -> Bool { lhs.offset < rhs.offset }
        public var description: String { "\(offset)" }
    }

    private struct Sleeper {
        let deadline: Instant
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct Watcher {
        let count: Int
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var now = Instant(offset: .zero)
        var sleepers: [UInt64: Sleeper] = [:]
        var nextID: UInt64 = 0
        var watchers: [UInt64: Watcher] = [:]

        mutating func takeID() -> UInt64 {
            nextID &+= 1
            return nextID
        }

        /// Takes out the watchers whose count of sleepers is reached.
        mutating func satisfiedWatchers() -> [Watcher] {
            let done = watchers.filter { $0.value.count <= sleepers.count }
            for id in done.keys { watchers.removeValue(forKey: id) }
            return Array(done.values)
        }
    }

    private let state = Mutex(State())

    /// A clock at zero, with nobody asleep.
    public init() {}

    /// Where the clock stands: the sum of every ``advance(by:)`` so far.
    public var now: Instant { state.withLock { $0.now } }

    /// Zero: the clock moves by exactly what a test advances it.
    public var minimumResolution: Duration { .zero }

    /// How many sleepers wait now.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// Sleeps until ``advance(by:)`` reaches `deadline` (returns at once when it is reached already).
    /// - Throws: `CancellationError` when the task is cancelled first.
    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        let id = state.withLock { $0.takeID() }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Outcome { case wait([Watcher]), wake, cancel }
                let outcome = state.withLock { state -> Outcome in
                    if Task.isCancelled { return .cancel }
                    if deadline <= state.now { return .wake }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return .wait(state.satisfiedWatchers())
                }
                switch outcome {
                case let .wait(watchers): for watcher in watchers { watcher.continuation.resume() }
                case .wake: continuation.resume()
                case .cancel: continuation.resume(throwing: CancellationError())
                }
            }
        } onCancel: {
            let sleeper = state.withLock { $0.sleepers.removeValue(forKey: id) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves the clock forward by `duration` and wakes every sleeper whose deadline it reaches.
    public func advance(by duration: Duration) {
        precondition(duration >= .zero, "a test clock does not go back")
        let woken = state.withLock { state -> [Sleeper] in
            state.now = state.now.advanced(by: duration)
            let now = state.now
            let due = state.sleepers.filter { $0.value.deadline <= now }
            for id in due.keys { state.sleepers.removeValue(forKey: id) }
            return due.values.sorted { $0.deadline < $1.deadline }
        }
        for sleeper in woken { sleeper.continuation.resume() }
    }

    /// Returns once at least `count` sleepers wait: what a test calls before ``advance(by:)`` to be sure the
    /// code under test sleeps already (with `within`, so that it fails rather than hangs when it never does).
    /// Returns early when the task is cancelled.
    public func sleepers(atLeast count: Int) async {
        let id = state.withLock { $0.takeID() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state -> Bool in
                    if state.sleepers.count >= count || Task.isCancelled { return true }
                    state.watchers[id] = Watcher(count: count, continuation: continuation)
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            let watcher = state.withLock { $0.watchers.removeValue(forKey: id) }
            watcher?.continuation.resume()
        }
    }
}
