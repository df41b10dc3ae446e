import EventStore
import EventStoreConformance
import EventStorePostgres
import EventStoreTestSupport
import Foundation
import PostgresNIO
import Testing

/// A read model in a table of the store's database, written on the store's own connections.
final class PostgresUsersReadModel: UsersTable {
    private let store: PostgresEventStore
    /// A quoted name the test made (letters, digits and _ only).
    private let table: String
    private let operations = OperationStack<UserOperation>()

    init(store: PostgresEventStore, table: String) {
        self.store = store
        self.table = "\"\(table)\""
    }

    func initialize() async throws {
        let table = self.table
        try await store.withConnection { c in
            _ = try await c.query("CREATE TABLE \(unescaped: table) (id text PRIMARY KEY, name text NOT NULL)", logger: PostgresTestServer.logger)
        }
    }

    func isInitialized() async throws -> Bool {
        let table = self.table
        return try await store.withConnection { c in
            for try await exists in try await c.query("SELECT to_regclass(\(table)) IS NOT NULL", logger: PostgresTestServer.logger)
                .decode(Bool.self)
            {
                return exists
            }
            return false
        }
    }

    func reset() async throws {
        operations.clear()
        let table = self.table
        try await store.withConnection { c in
            _ = try await c.query("DELETE FROM \(unescaped: table)", logger: PostgresTestServer.logger)
        }
    }

    func delete() async throws {
        operations.clear()
        let table = self.table
        try await store.withConnection { c in
            _ = try await c.query("DROP TABLE \(unescaped: table)", logger: PostgresTestServer.logger)
        }
    }

    func stack(_ operation: UserOperation) { operations.push(operation) }

    func persist() async throws {
        let pending = operations.drain()
        let table = self.table
        try await store.withConnection { c in
            let logger = PostgresTestServer.logger
            _ = try await c.query("BEGIN", logger: logger)
            for case let .upsert(id, name) in pending {
                _ = try await c.query(
                    "INSERT INTO \(unescaped: table) (id, name) VALUES (\(id), \(name)) ON CONFLICT (id) DO UPDATE SET name = excluded.name",
                    logger: logger)
            }
            _ = try await c.query("COMMIT", logger: logger)
        }
    }

    /// The table's rows, `nil` when it does not exist.
    func users() async throws -> [String: String]? {
        guard try await isInitialized() else { return nil }
        let table = self.table
        return try await store.withConnection { c in
            var users: [String: String] = [:]
            for try await (id, name) in try await c.query("SELECT id, name FROM \(unescaped: table)", logger: PostgresTestServer.logger)
                .decode((String, String).self)
            {
                users[id] = name
            }
            return users
        }
    }
}

@Suite("PostgreSQL projections", .enabled(if: PostgresTestServer.shouldRun, "\(PostgresTestServer.skipMessage)"), .watchdog())
struct PostgresProjectionTests {
    @Test func aReadModelInTheStoresDatabaseIsKeptResetAndDeleted() async throws {
        try await PostgresTestServer.withStore { store in
            let name = PostgresTestServer.uniquePrefix() + "read_users"
            try await ReadModelScenario.run(store: store, readModel: PostgresUsersReadModel(store: store, table: name))
        }
    }
}
