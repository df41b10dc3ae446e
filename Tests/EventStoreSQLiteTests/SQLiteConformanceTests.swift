import EventStore
import EventStoreConformance
import EventStoreSQLite
import EventStoreTestSupport
import Foundation
import Testing

/// A fresh database file per test, removed afterwards.
func withTemporaryDatabase<T>(_ body: (String) async throws -> T) async throws -> T {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("eventstore-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try await body(directory.appendingPathComponent("events.sqlite").path)
}

@Suite("SQLite store conformance", .watchdog())
struct SQLiteConformanceTests {
    /// Cases run at once. Each store opens a file and its write-ahead log on several connections: all the
    /// cases together held over 1,000 descriptors, and past about 1,300 in the test process Foundation's
    /// `Process.run()` crashes (see `ProcessLaunch`).
    static let limit = ConcurrencyLimit(16)

    @Test(arguments: EventStoreConformance.cases)
    func conformance(_ testCase: ConformanceCase) async throws {
        Watchdog.step("case \(testCase)")
        try await testCase.run { settings, body in
            try await Self.limit.run {
                try await withTemporaryDatabase { path in
                    var configuration = SQLiteConfiguration(path: path)
                    configuration.readBatchSize = settings.readBatchSize
                    try await body(try await SQLiteEventStore(configuration: configuration))
                }
            }
        }
    }
}

/// The model check (random operation sequences against the in-memory store) on one SQLite file.
@Suite("SQLite model check", .watchdog())
struct SQLiteModelCheckTests {
    @Test(arguments: 0..<ModelCheckChunks.count)
    func randomSequencesBehaveAsTheReference(_ chunk: Int) async throws {
        try await withTemporaryDatabase { path in
            let store = try await SQLiteEventStore(path: path)
            try await ModelCheck.run(
                on: store, seeds: ModelCheckChunks.seeds(chunk, sequences: ModelCheck.sequences, first: ModelCheck.firstSeed))
            await store.close()
        }
    }
}
