/// Any clock that counts in `Duration`, as one concrete type: what subscriptions and projection runners keep
/// to time their waits, so that neither needs a generic parameter for it.
///
/// Its instants are offsets from the moment it was made, and sleeping until one sleeps on the wrapped clock
/// until the matching instant of that clock: a test clock that is advanced by hand wakes the sleepers here
/// just as it wakes its own.
struct AnyClock: Clock {
    /// A point in time: how long after the clock was made.
    struct Instant: InstantProtocol {
        /// The time since the clock was made.
        var offset: Duration

        /// The instant `offset` after the clock was made.
        init(offset: Duration) { self.offset = offset }

        /// The instant `duration` later.
        func advanced(by duration: Duration) -> Self { Self(offset: offset + duration) }

        /// The time from this instant to `other` (negative when `other` is earlier).
        func duration(to other: Self) -> Duration { other.offset - offset }

        static func < (lhs: Self, rhs: Self) -> Bool { lhs.offset < rhs.offset }
    }

    private let elapsed: @Sendable () -> Duration
    private let sleeper: @Sendable (Duration, Duration?) async throws -> Void

    /// The wrapped clock's resolution.
    let minimumResolution: Duration

    /// Wraps `clock`; the instant it reads now is this clock's zero.
    init<C: Clock<Duration>>(_ clock: C) {
        let origin = clock.now
        elapsed = { origin.duration(to: clock.now) }
        sleeper = { offset, tolerance in try await clock.sleep(until: origin.advanced(by: offset), tolerance: tolerance) }
        minimumResolution = clock.minimumResolution
    }

    /// The time since the clock was made, read on the wrapped clock.
    var now: Instant { Instant(offset: elapsed()) }

    /// Sleeps on the wrapped clock until `deadline`. - Throws: `CancellationError` when the task is
    /// cancelled first.
    func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        try await sleeper(deadline.offset, tolerance)
    }
}
