import EventStore
import EventStoreConformance
import EventStorePostgres
import EventStoreTestSupport
import Testing

/// How a conformance run reads: through libpq (the default), or through PostgresNIO, the path of a machine
/// without libpq and of reads in a transaction, which must behave the same.
enum PostgresReads: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case libpq, postgresNIO

    var testDescription: String { rawValue }
}

@Suite("PostgreSQL store conformance", .enabled(if: PostgresTestServer.shouldRun, "\(PostgresTestServer.skipMessage)"), .watchdog())
struct PostgresConformanceTests {
    @Test(arguments: EventStoreConformance.cases, PostgresReads.allCases)
    func conformance(_ testCase: ConformanceCase, reads: PostgresReads) async throws {
        Watchdog.step("case \(testCase), reads through \(reads)")
        try await testCase.run { settings, body in
            try await PostgresTestServer.storeLimit.run {
                try await PostgresTestServer.withStore(readBatchSize: settings.readBatchSize, libpq: reads == .libpq) { store in
                    try await body(store)
                }
            }
        }
    }
}

/// The model check (random operation sequences against the in-memory store) on one store's tables.
@Suite("PostgreSQL model check", .enabled(if: PostgresTestServer.shouldRun, "\(PostgresTestServer.skipMessage)"), .watchdog())
struct PostgresModelCheckTests {
    @Test(arguments: 0..<ModelCheckChunks.count)
    func randomSequencesBehaveAsTheReference(_ chunk: Int) async throws {
        try await PostgresTestServer.withStore { store in
            try await ModelCheck.run(
                on: store, seeds: ModelCheckChunks.seeds(chunk, sequences: ModelCheck.sequences, first: ModelCheck.firstSeed))
        }
    }
}
