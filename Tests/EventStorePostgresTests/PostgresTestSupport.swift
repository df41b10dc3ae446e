import EventStore
import EventStorePostgres
import Foundation
import Logging
import Testing

/// The throwaway server `scripts/test` starts. Without it the tests skip, except in CI (`CI=true`), where a
/// missing server is a failure.
enum PostgresTestServer {
    static let environment = ProcessInfo.processInfo.environment
    static let url = environment["EVENTSTORE_POSTGRES_URL"]
    static let isCI = environment["CI"] == "true"
    static let shouldRun = url != nil || isCI
    static let skipMessage = "set EVENTSTORE_POSTGRES_URL to a PostgreSQL database (scripts/test starts one) to run these"

    static let logger: Logger = {
        var logger = Logger(label: "eventstore.tests.postgres")
        logger.logLevel = .warning
        return logger
    }()

    /// A configuration for a store of its own: tables with a fresh prefix in the test database.
    static func configuration(loadBatchSize: Int = 100, prefix: String? = nil) throws -> PostgresConfiguration {
        let url = try #require(url, "CI=true but EVENTSTORE_POSTGRES_URL is not set: the PostgreSQL server did not start")
        var configuration = try PostgresConfiguration(url: url)
        configuration.tablePrefix = prefix ?? uniquePrefix()
        configuration.loadBatchSize = loadBatchSize
        configuration.poolSize = 8
        return configuration
    }

    static func uniquePrefix() -> String {
        "t" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased() + "_"
    }

    /// Runs `body` with a migrated store on fresh tables.
    static func withStore<T: Sendable>(
        loadBatchSize: Int = 100, prefix: String? = nil, _ body: @Sendable (PostgresEventStore) async throws -> T
    ) async throws -> T {
        try await PostgresEventStore.withStore(
            configuration: try configuration(loadBatchSize: loadBatchSize, prefix: prefix), logger: logger, body)
    }
}
