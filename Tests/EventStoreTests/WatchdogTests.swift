import EventStoreTestSupport
import Foundation
import Testing

@Suite("Watchdog", .watchdog())
struct WatchdogTests {
    /// A test that waits for ever on something that ignores cancellation is ended, and the report names it
    /// and the step it was at.
    @Test func aTestWaitingForEverIsEndedWithItsNameAndStep() async throws {
        let result = await #expect(processExitsWith: .exitCode(Watchdog.exitCode), observing: [\.standardErrorContent]) {
            await Watchdog.run("Watchdog self-test/waitsForEver()", limit: .seconds(1)) {
                Watchdog.step("waiting on a continuation nobody resumes")
                await withUnsafeContinuation { (_: UnsafeContinuation<Void, Never>) in }
            }
        }
        let report = String(decoding: try #require(result).standardErrorContent, as: UTF8.self)
        #expect(report.contains("watchdog: Watchdog self-test/waitsForEver() ran past its time limit of 1.0 seconds"))
        #expect(report.contains("at step \"waiting on a continuation nobody resumes\""))
    }

    /// The watchdog is not on Swift's cooperative pool: a test that blocks the pool's threads is ended too.
    @Test func aTestBlockingTheCooperativePoolIsEnded() async throws {
        let result = await #expect(processExitsWith: .exitCode(Watchdog.exitCode), observing: [\.standardErrorContent]) {
            await Watchdog.run("Watchdog self-test/blocksThreads()", limit: .seconds(1)) {
                Watchdog.step("blocking every cooperative thread")
                await withTaskGroup(of: Void.self) { group in
                    for _ in 0..<(ProcessInfo.processInfo.activeProcessorCount + 1) {
                        group.addTask { sleep(3600) }
                    }
                }
            }
        }
        let report = String(decoding: try #require(result).standardErrorContent, as: UTF8.self)
        #expect(report.contains("Watchdog self-test/blocksThreads()"))
        #expect(report.contains("at step \"blocking every cooperative thread\""))
    }

    /// A test that finishes in time leaves the process running and its watchdog released.
    @Test func aTestThatFinishesInTimeIsLeftAlone() async throws {
        await #expect(processExitsWith: .success) {
            await Watchdog.run("quick", limit: .milliseconds(200)) { Watchdog.step("returning at once") }
            try? await Task.sleep(for: .milliseconds(600))
        }
    }

    /// A test's clock starts again when it gets its turn in a ``ConcurrencyLimit``: the wait behind others
    /// (2 s here) does not count against its limit (1 s), its own work does.
    @Test func aTestIsTimedFromItsTurnInAConcurrencyLimit() async throws {
        await #expect(processExitsWith: .success) {
            let limit = ConcurrencyLimit(1)
            async let first: Void = Watchdog.run("first", limit: .seconds(5)) {
                await limit.run { try? await Task.sleep(for: .seconds(2)) }
            }
            try? await Task.sleep(for: .milliseconds(200))
            await Watchdog.run("second", limit: .seconds(1)) {
                await limit.run { try? await Task.sleep(for: .milliseconds(300)) }
            }
            await first
        }
        let result = await #expect(processExitsWith: .exitCode(Watchdog.exitCode), observing: [\.standardErrorContent]) {
            let limit = ConcurrencyLimit(1)
            async let first: Void = Watchdog.run("first", limit: .seconds(5)) {
                await limit.run { try? await Task.sleep(for: .seconds(2)) }
            }
            try? await Task.sleep(for: .milliseconds(200))
            await Watchdog.run("second", limit: .seconds(1)) {
                await limit.run {
                    Watchdog.step("waiting for ever after its turn")
                    await withUnsafeContinuation { (_: UnsafeContinuation<Void, Never>) in }
                }
            }
            await first
        }
        let report = String(decoding: try #require(result).standardErrorContent, as: UTF8.self)
        #expect(report.contains("watchdog: second ran past its time limit of 1.0 seconds"), "\(report)")
        #expect(report.contains("at step \"waiting for ever after its turn\""))
    }

    /// The trait names the running test, and steps name what it does.
    @Test func theTraitNamesTheTestAndItsSteps() throws {
        let watchdog = try #require(Watchdog.current)
        #expect(watchdog.name == "WatchdogTests/theTraitNamesTheTestAndItsSteps()")
        #expect(watchdog.limit == WatchdogTrait.defaultLimit)
        Watchdog.step("checking steps")
        #expect(watchdog.stepDescription == "checking steps")
    }

    /// Every suite and every test outside a suite runs under the watchdog, so none can hang the run.
    @Test func everyTestRunsUnderTheWatchdog() throws {
        let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        let files = try #require(FileManager.default.enumerator(atPath: tests.path)).compactMap { $0 as? String }
            .filter { $0.hasSuffix(".swift") && !$0.hasPrefix("EventStoreTestSupport") }
        var unwatched: [String] = []
        for file in files {
            let text = try String(contentsOf: tests.appendingPathComponent(file), encoding: .utf8)
            for line in text.split(separator: "\n") where line.hasPrefix("@Suite") || line.hasPrefix("@Test") {
                if !line.contains(".watchdog(") { unwatched.append("\(file): \(line)") }
            }
        }
        #expect(files.count > 10)
        #expect(unwatched == [])
    }
}
