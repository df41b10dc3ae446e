import EventStore
import EventStorePostgres
import EventStoreTestSupport
import Foundation
import Synchronization
import Testing

@Suite("PostgreSQL global order", .enabled(if: PostgresTestServer.shouldRun, "\(PostgresTestServer.skipMessage)"), .watchdog())
struct PostgresGlobalOrderTests {
    @Test func aTailingReaderSeesEveryCommittedEventOnceAndNoRolledBackOne() async throws {
        try await PostgresTestServer.withStore { store in try await GlobalOrderStress.run(store) }
    }

    /// Writers to different streams commit in parallel here: readers hold back what a transaction still
    /// open may yet write below.
    @Test func manyTailingReadersOfManyWritersSeeEveryCommittedEventOnce() async throws {
        try await PostgresTestServer.withStore { store in
            try await GlobalOrderStress.run(store, writers: 16, readers: 6, eventsPerWriter: GlobalOrderStress.eventsPerWriter / 2)
        }
    }
}
