import EventStoreTestSupport
import Foundation
import Testing

// A million events written and read back in a debug build: 2.5 minutes on a quiet two-core machine, more
// than 5 when it also builds and runs other suites. Each check runs in a process of its own
// (`sqlite-test-writer memory`, Tests/SQLiteTestWriter/MemoryChecks.swift), where no other test allocates:
// Swift Testing runs suites side by side in one process, and in CI one test's million-event write moved the
// other's resident-memory measure past its bound. (Exit tests would give a process too, but the parent's
// wait for one held a thread of the cooperative pool for the child's whole run, and other suites' timed
// waits failed.)
@Suite("SQLite memory", .enabled(if: FileManager.default.fileExists(atPath: "/proc/self/statm"), "reads /proc/self/statm"), .watchdog(.seconds(900)))
struct SQLiteMemoryTests {
    /// Events in the long stream: `EVENTSTORE_LONG_STREAM_EVENTS`, 1,000,000 by default.
    static let eventCount = ProcessInfo.processInfo.environment["EVENTSTORE_LONG_STREAM_EVENTS"].flatMap(Int.init) ?? 1_000_000

    /// Runs `sqlite-test-writer memory CHECK` on a fresh database and records what it reports failing.
    static func check(_ check: String, count: Int) async throws {
        try await withTemporaryDatabase { path in
            let log = URL(fileURLWithPath: path + ".stderr")
            Watchdog.step("memory check \(check) of \(count) events")
            let process = try EventStoreProcess.start(
                ["memory", check, path, String(count)], program: EventStoreProcess.testWriter, stderrFile: log)
            await EventStoreProcess.waitForExit(process)
            let report = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            #expect(process.terminationStatus == 0, "\(report)")
        }
    }

    /// A long stream loads in order in bounded memory.
    @Test func aLongStreamLoadsInBoundedMemory() async throws {
        try await Self.check("load", count: Self.eventCount)
    }

    /// A consumer that sleeps while 100,000 events are appended still gets every one, in order, in bounded
    /// memory.
    @Test func aSleepingSubscriberGetsEveryEventInBoundedMemory() async throws {
        try await Self.check("subscribe", count: 100_000)
    }
}
