import EventStore
import EventStoreConformance
import EventStorePostgres
import EventStoreTestSupport
import Testing

@Suite("PostgreSQL store conformance", .enabled(if: PostgresTestServer.shouldRun, "\(PostgresTestServer.skipMessage)"), .watchdog())
struct PostgresConformanceTests {
    @Test(arguments: EventStoreConformance.cases)
    func conformance(_ testCase: ConformanceCase) async throws {
        Watchdog.step("case \(testCase)")
        try await testCase.run { settings, body in
            try await PostgresTestServer.storeLimit.run {
                try await PostgresTestServer.withStore(readBatchSize: settings.readBatchSize) { store in try await body(store) }
            }
        }
    }
}

/// The same cases with every read through PostgresNIO: the path of a machine without libpq (and of reads in a
/// transaction), which must behave as the libpq reader does.
@Suite("PostgreSQL store conformance, reads through PostgresNIO", .enabled(if: PostgresTestServer.shouldRun, "\(PostgresTestServer.skipMessage)"), .watchdog())
struct PostgresNIOReaderConformanceTests {
    @Test(arguments: EventStoreConformance.cases)
    func conformance(_ testCase: ConformanceCase) async throws {
        Watchdog.step("case \(testCase)")
        try await testCase.run { settings, body in
            try await PostgresTestServer.storeLimit.run {
                try await PostgresTestServer.withStore(readBatchSize: settings.readBatchSize, libpq: false) { store in try await body(store) }
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
