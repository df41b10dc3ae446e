import EventStore
import EventStoreSQLite
import EventStoreTestSupport
import Foundation
import Testing

/// Resident memory of this process, from /proc (Linux); `nil` elsewhere.
func residentBytes() -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// Ends the child process of an exit test, reporting `message` as a failure: it is written to standard error
/// after a marker that `recordChildFailures` looks for in the parent. The child exits 0 so that the parent gets what
/// it wrote (a failed exit condition gives the parent no output); a crash still fails the condition.
func failChild(_ message: String) -> Never {
    FileHandle.standardError.write(Data((childFailureMarker + message + "\n").utf8))
    exit(0)
}

let childFailureMarker = "child test failed: "

/// Records the failures that a child reported with `failChild`.
func recordChildFailures(_ result: ExitTest.Result?, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let result else { return }  // the exit condition failed, and that is recorded already
    let output = String(decoding: result.standardErrorContent, as: UTF8.self)
    for line in output.split(separator: "\n") where line.hasPrefix(childFailureMarker) {
        Issue.record("\(line.dropFirst(childFailureMarker.count))", sourceLocation: sourceLocation)
    }
}

// A million events written and read back in a debug build: 2.5 minutes on a quiet two-core machine, more
// than 5 when it also builds and runs other suites. Each test measures in a child process of its own (an exit
// test), where no other test allocates: Swift Testing runs suites side by side in one process, and in CI the
// writing of the million events moved the other test's measure past its bound.
@Suite("SQLite memory", .watchdog(.seconds(900)))
struct SQLiteMemoryTests {
    /// Events in the long stream: `EVENTSTORE_LONG_STREAM_EVENTS`, 1,000,000 by default.
    static let eventCount = ProcessInfo.processInfo.environment["EVENTSTORE_LONG_STREAM_EVENTS"].flatMap(Int.init) ?? 1_000_000

    @Test(.enabled(if: residentBytes() != nil, "reads /proc/self/statm"))
    func aLongStreamLoadsInBoundedMemory() async throws {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            try await SQLiteMemoryTests.loadALongStream()
        }
        recordChildFailures(result)
    }

    static func loadALongStream() async throws {
        try await withTemporaryDatabase { path in
            var configuration = SQLiteConfiguration(path: path)
            configuration.synchronous = .off  // setting up, not measuring durability
            let store = try await SQLiteEventStore(configuration: configuration)
            try await store.create("long-1")
            let batch = 10_000
            let payload: Payload = ["filler": .string(String(repeating: "x", count: 150))]
            var version = 0
            while version < eventCount {
                let size = min(batch, eventCount - version)
                let events = (0..<size).map { _ in EventMessage(messageName: "Tick", payload: payload, metadata: ["k": 1]) }
                try await store.append(events, to: "long-1", expectedVersion: .exact(version))
                version += size
            }
            let before = residentBytes() ?? 0
            var peak = before
            var count = 0
            var last = 0
            for try await event in try await store.load("long-1") {
                count += 1
                if event.position != last + 1 { failChild("event \(event.position) followed \(last)") }
                last = event.position
                if count % 50_000 == 0 { peak = max(peak, residentBytes() ?? 0) }
            }
            if count != eventCount { failChild("loaded \(count) of \(eventCount) events") }
            // One page of 1,000 events is about 0.5 MiB; the stream itself is hundreds of MiB.
            let growth = peak - before
            if growth >= 64 * 1024 * 1024 { failChild("resident memory grew by \(growth / 1024 / 1024) MiB while loading") }
        }
    }

    /// A consumer that sleeps while 100,000 events are appended still gets every one, in order, read in
    /// pages: memory does not grow with what it has not consumed.
    @Test(.enabled(if: residentBytes() != nil, "reads /proc/self/statm"))
    func aSleepingSubscriberGetsEveryEventInBoundedMemory() async throws {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            try await SQLiteMemoryTests.consumeAfterSleeping()
        }
        recordChildFailures(result)
    }

    static func consumeAfterSleeping() async throws {
        try await withTemporaryDatabase { path in
            var configuration = SQLiteConfiguration(path: path)
            configuration.synchronous = .off
            let store = try await SQLiteEventStore(configuration: configuration)
            try await store.create("pressure-1")
            var iterator = try await store.subscribe(to: .stream("pressure-1"), readBatchSize: 500).makeAsyncIterator()
            try await store.append([EventMessage(messageName: "First")], to: "pressure-1")
            if try await iterator.next()?.position != 1 { failChild("the first event did not arrive first") }
            let payload: Payload = ["filler": .string(String(repeating: "x", count: 150))]
            for _ in 0..<100 {
                try await store.append((0..<1_000).map { _ in EventMessage(messageName: "Tick", payload: payload) }, to: "pressure-1")
            }
            let before = residentBytes() ?? 0
            var peak = before
            var expected = 2
            while expected <= 100_001, let event = try await iterator.next() {
                if event.position != expected { break }
                expected += 1
                if expected % 10_000 == 0 { peak = max(peak, residentBytes() ?? 0) }
            }
            if expected != 100_002 { failChild("stopped at position \(expected)") }
            if peak - before >= 64 * 1024 * 1024 { failChild("resident memory grew by \((peak - before) / 1024 / 1024) MiB") }
        }
    }
}
