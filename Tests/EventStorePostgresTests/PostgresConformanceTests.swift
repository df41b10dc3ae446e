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
            try await PostgresTestServer.withStore(readBatchSize: settings.readBatchSize) { store in try await body(store) }
        }
    }
}
