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
    static func configuration(readBatchSize: Int = 100, prefix: String? = nil) throws -> PostgresConfiguration {
        var configuration = try PostgresConfiguration(url: try server.requiredURL())
        configuration.tablePrefix = prefix ?? uniquePrefix()
        configuration.readBatchSize = readBatchSize
        configuration.poolSize = 8
        return configuration
    }

    static func uniquePrefix() -> String { TestDatabaseServer.uniquePrefix() }

    /// Runs `body` with a migrated store on fresh tables.
    static func withStore<T: Sendable>(
        readBatchSize: Int = 100, prefix: String? = nil, _ body: @Sendable (PostgresEventStore) async throws -> T
    ) async throws -> T {
        try await PostgresEventStore.withStore(
            configuration: try configuration(readBatchSize: readBatchSize, prefix: prefix), logger: logger, body)
    }
}
