import EventStore
import EventStorePostgres
import EventStoreTestSupport
import Foundation
import Logging
import Testing

/// The throwaway PostgreSQL server of `scripts/test` (see ``TestDatabaseServer``).
enum PostgresTestServer {
    static let server = TestDatabaseServer(variable: "EVENTSTORE_POSTGRES_URL", what: "a PostgreSQL database")
    static let url = server.url
    static let isCI = TestDatabaseServer.isCI
    static let shouldRun = server.shouldRun
    static let skipMessage = server.skipMessage

    static let logger: Logger = {
        var logger = Logger(label: "eventstore.tests.postgres")
        logger.logLevel = .warning
        return logger
    }()

    /// A configuration for a store of its own: tables with a fresh prefix in the test database.
    static func configuration(readBatchSize: Int = 100, prefix: String? = nil, libpq: Bool = true) throws -> PostgresConfiguration {
        var configuration = try PostgresConfiguration(url: try server.requiredURL())
        configuration.tablePrefix = prefix ?? uniquePrefix()
        configuration.readBatchSize = readBatchSize
        configuration.poolSize = 8
        configuration.readsThroughLibpq = libpq
        return configuration
    }

    static func uniquePrefix() -> String { TestDatabaseServer.uniquePrefix() }

    /// Stores of the conformance suites open at once: each opens up to a few connections on PostgreSQL's
    /// pool and its reader's, and the test server takes 500 in all.
    static let storeLimit = ConcurrencyLimit(32)

    /// `psql` on the test database.
    static func shell() throws -> SQLShell { SQLShell.postgres(try server.requiredURL()) }

    /// The delete races on the tables of `prefix`, with a trigger that makes each insert statement sleep.
    static func deleteRace(prefix: String) throws -> DeleteRace {
        DeleteRace(
            shell: try shell(),
            slowInserts: """
                CREATE FUNCTION "\(prefix)slow"() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN PERFORM pg_sleep(5); RETURN NULL; END$$;
                CREATE TRIGGER "\(prefix)slow" BEFORE INSERT ON "\(prefix)events" FOR EACH STATEMENT EXECUTE FUNCTION "\(prefix)slow"()
                """,
            sleepingInserts: """
                SELECT count(*) FROM pg_stat_activity
                WHERE wait_event = 'PgSleep' AND query LIKE '%\(prefix)event%' AND pid <> pg_backend_pid()
                """,
            orphans: """
                SELECT count(*) FROM "\(prefix)events" e LEFT JOIN "\(prefix)event_streams" s ON s.id = e.stream_id WHERE s.id IS NULL
                """,
            events: "SELECT count(*) FROM \"\(prefix)events\"",
            deleteStreamRow: { "DELETE FROM \"\(prefix)event_streams\" WHERE name = '\($0)'" })
    }

    /// Runs `body` with a migrated store on fresh tables.
    static func withStore<T: Sendable>(
        readBatchSize: Int = 100, prefix: String? = nil, libpq: Bool = true, _ body: @Sendable (PostgresEventStore) async throws -> T
    ) async throws -> T {
        try await PostgresEventStore.withStore(
            configuration: try configuration(readBatchSize: readBatchSize, prefix: prefix, libpq: libpq), logger: logger, body)
    }
}
