import Foundation
import Synchronization

/// Ends the test process when a test runs past its time limit, naming the test and the step it was at.
///
/// Swift Testing's `.timeLimit` cancels a test's task, which cannot stop code that ignores cancellation (a
/// query on a dead socket, a blocked thread, a continuation nobody resumes). The watchdog does not ask: one
/// plain thread, outside Swift's cooperative pool, checks every running test's deadline and, past it, writes
/// the test's name, its current step and how long it ran to standard error, and ends the process with
/// ``exitCode``. A stalled test run therefore fails within its limit instead of hanging CI.
///
/// Tests get a watchdog from the ``WatchdogTrait`` (`@Suite(.watchdog())`); helpers that wait name what they
/// wait for with ``step(_:)``.
public final class Watchdog: Sendable {
    /// The exit status of a test process the watchdog ended.
    public static let exitCode: Int32 = 124

    /// The watchdog of the running test (the innermost one when several apply).
    @TaskLocal public static var current: Watchdog?

    /// What is watched: the test's name, for the report.
    public let name: String
    /// The time the test may take.
    public let limit: Duration
    private let parent: Watchdog?
    /// When the clock started; nil while it is stopped (``stopClock()``).
    private let started: Mutex<ContinuousClock.Instant?>
    private let currentStep = Mutex<String>("starting")

    private init(name: String, limit: Duration, parent: Watchdog?) {
        self.name = name
        self.limit = limit
        self.parent = parent
        self.started = Mutex(.now)
    }

    /// The step the test is at, as last named by ``step(_:)``.
    public var stepDescription: String { currentStep.withLock { $0 } }

    /// Whether steps are also written to standard error (`EVENTSTORE_TRACE_STEPS` set).
    private static let traceSteps = ProcessInfo.processInfo.environment["EVENTSTORE_TRACE_STEPS"] != nil

    /// Names what the running test does now ("restart the server", "wait for 6 events"), so that a report
    /// says where it stalled. Does nothing outside a watched test.
    public static func step(_ description: String) {
        if traceSteps { FileHandle.standardError.write(Data("\(Date()) step: \(description)\n".utf8)) }
        var watchdog = current
        while let each = watchdog {
            each.currentStep.withLock { $0 = description }
            watchdog = each.parent
        }
    }

    /// Runs `body` under a watchdog: when it has not returned after `limit` (times the
    /// `EVENTSTORE_TEST_TIME_SCALE` setting, for slow machines), the process ends with ``exitCode``.
    public static func run<T>(
        _ name: String, limit: Duration, isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> T
    ) async rethrows -> T {
        let watchdog = Watchdog(name: name, limit: limit * timeScale, parent: current)
        Monitor.shared.watch(watchdog)
        defer { Monitor.shared.release(watchdog) }
        return try await $current.withValue(watchdog) { try await body() }
    }

    /// Stops the running test's clock until ``restartClock()``: for a test that waits for its turn (a
    /// ``ConcurrencyLimit``'s permit) behind others, which are watched themselves; its limit is for its own
    /// work, not for the queue's. Does nothing outside a watched test.
    public static func stopClock() { setClock(nil) }

    /// Starts the running test's clock again, from now. Does nothing outside a watched test.
    public static func restartClock() { setClock(.now) }

    private static func setClock(_ instant: ContinuousClock.Instant?) {
        var watchdog = current
        while let each = watchdog {
            each.started.withLock { $0 = instant }
            watchdog = each.parent
        }
    }

    /// `EVENTSTORE_TEST_TIME_SCALE`: a factor for every limit (1 by default).
    static let timeScale: Double = {
        guard let text = ProcessInfo.processInfo.environment["EVENTSTORE_TEST_TIME_SCALE"], let scale = Double(text),
            scale > 0
        else { return 1 }
        return scale
    }()

    /// When the test runs out of time; nil while its clock is stopped.
    fileprivate var deadline: ContinuousClock.Instant? { started.withLock { $0 }.map { $0 + limit } }

    fileprivate func report(at now: ContinuousClock.Instant) -> String {
        "watchdog: \(name) ran past its time limit of \(limit) (\(started.withLock { $0 }.map { now - $0 } ?? .zero) so far) at step \"\(stepDescription)\""
    }

    /// The thread that checks deadlines: a plain thread, so that a blocked cooperative pool cannot stop it.
    private final class Monitor: Sendable {
        static let shared = Monitor()
        private let watched = Mutex<[ObjectIdentifier: Watchdog]>([:])

        private init() {
            let thread = Thread { [self] in
                while true {
                    usleep(100_000)
                    check()
                }
            }
            thread.name = "eventstore-test-watchdog"
            thread.start()
        }

        func watch(_ watchdog: Watchdog) { watched.withLock { $0[ObjectIdentifier(watchdog)] = watchdog } }
        func release(_ watchdog: Watchdog) { _ = watched.withLock { $0.removeValue(forKey: ObjectIdentifier(watchdog)) } }

        private func check() {
            let now = ContinuousClock.now
            let running = watched.withLock { Array($0.values) }
            let late = running.compactMap { watchdog in watchdog.deadline.flatMap { $0 <= now ? (watchdog, $0) : nil } }
            guard let expired = late.min(by: { $0.1 < $1.1 })?.0 else { return }
            var lines = [expired.report(at: now)]
            let others = running.filter { $0 !== expired }.map { "  still running: \($0.name) at step \"\($0.stepDescription)\"" }
            lines.append(contentsOf: others.sorted())
            lines.append("watchdog: ending the test process with status \(Watchdog.exitCode)")
            let text = lines.joined(separator: "\n") + "\n"
            text.utf8CString.withUnsafeBufferPointer { buffer in
                _ = write(STDERR_FILENO, buffer.baseAddress, buffer.count - 1)
            }
            _exit(Watchdog.exitCode)
        }
    }
}
