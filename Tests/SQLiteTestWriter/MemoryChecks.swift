import EventStore
import EventStoreSQLite
import Foundation

/// Resident memory checks of the SQLite store, each run in this process alone (`sqlite-test-writer memory`):
/// measured in the test process, the other suites' allocations moved them (a million events written by
/// one test took another's measure past its bound in CI).
enum MemoryChecks {
    /// Ends the process with `message` as the failure.
    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(1)
    }

    /// Resident memory of this process, from /proc.
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { fail("cannot read /proc/self/statm") }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { fail("cannot read /proc/self/statm") }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    static func store(_ path: String) async throws -> SQLiteEventStore {
        var configuration = SQLiteConfiguration(path: path)
        configuration.synchronous = .off  // setting up, not measuring durability
        return try await SQLiteEventStore(configuration: configuration)
    }

    static let payload: Payload = ["filler": .string(String(repeating: "x", count: 150))]

    /// A stream of `count` events loads in order, with resident memory growing less than 64 MiB (a page of
    /// 1,000 events is about 0.5 MiB; the stream is hundreds of MiB).
    static func loadALongStream(path: String, count: Int) async throws {
        let store = try await store(path)
        try await store.create("long-1")
        var version = 0
        while version < count {
            let size = min(10_000, count - version)
            let events = (0..<size).map { _ in EventMessage(messageName: "Tick", payload: payload, metadata: ["k": 1]) }
            try await store.append(events, to: "long-1", expectedVersion: .exact(version))
            version += size
        }
        let before = residentBytes()
        var peak = before
        var loaded = 0
        for try await event in try await store.load("long-1") {
            loaded += 1
            if event.position != loaded { fail("event \(event.position) came as number \(loaded)") }
            if loaded % 50_000 == 0 { peak = max(peak, residentBytes()) }
        }
        if loaded != count { fail("loaded \(loaded) of \(count) events") }
        if peak - before >= 64 * 1024 * 1024 { fail("resident memory grew by \((peak - before) / 1024 / 1024) MiB while loading") }
    }

    /// A consumer that sleeps while `count` events are appended still gets every one, in order, read in
    /// pages: memory does not grow with what it has not consumed.
    static func consumeAfterSleeping(path: String, count: Int) async throws {
        let store = try await store(path)
        try await store.create("pressure-1")
        var iterator = try await store.subscribe(to: .stream("pressure-1"), readBatchSize: 500).makeAsyncIterator()
        try await store.append([EventMessage(messageName: "First")], to: "pressure-1")
        if try await iterator.next()?.position != 1 { fail("the first event did not arrive first") }
        for start in stride(from: 0, to: count, by: 1_000) {
            try await store.append(
                (start..<min(start + 1_000, count)).map { _ in EventMessage(messageName: "Tick", payload: payload) }, to: "pressure-1")
        }
        let before = residentBytes()
        var peak = before
        var expected = 2
        while expected <= count + 1, let event = try await iterator.next() {
            if event.position != expected { break }
            expected += 1
            if expected % 10_000 == 0 { peak = max(peak, residentBytes()) }
        }
        if expected != count + 2 { fail("stopped at position \(expected)") }
        if peak - before >= 64 * 1024 * 1024 { fail("resident memory grew by \((peak - before) / 1024 / 1024) MiB") }
    }
}
