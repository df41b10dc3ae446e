#if MySQL
import EventStore
import EventStoreConformance
@testable import EventStoreMySQL
import EventStoreSQL
import EventStoreTestSupport
import Foundation
import Testing

/// A read model in a table of the store's database, on a MariaDB connection of its own.
final class MySQLUsersReadModel: UsersTable {
    private let worker: BlockingWorker<MariaDBConnection>
    /// A quoted name the test made (letters, digits and _ only).
    private let table: String
    private let operations = OperationStack<UserOperation>()

    init(configuration: MySQLConfiguration, table: String) {
        let settings = MariaDBConnection.Settings(
            host: configuration.host, port: configuration.port, username: configuration.username,
            password: configuration.password, database: configuration.database, connectTimeoutSeconds: 10)
        worker = BlockingWorker(label: "tests.readmodel", open: { try MariaDBConnection(settings) }, isBroken: \.isBroken)
        self.table = "`\(table)`"
    }

    func initialize() async throws {
        let table = self.table
        try await worker.run { _ = try $0.query("CREATE TABLE \(unsafeSQL: table) (id VARBINARY(150) PRIMARY KEY, name TEXT NOT NULL)") }
    }

    func isInitialized() async throws -> Bool {
        let table = self.table
        return try await worker.run { c in
            var found = false
            let name = String(table.dropFirst().dropLast())
            _ = try c.query("SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = \(bind: name)") { _ in
                found = true
            }
            return found
        }
    }

    func reset() async throws {
        operations.clear()
        let table = self.table
        try await worker.run { _ = try $0.query("DELETE FROM \(unsafeSQL: table)") }
    }

    func delete() async throws {
        operations.clear()
        let table = self.table
        try await worker.run { _ = try $0.query("DROP TABLE \(unsafeSQL: table)") }
    }

    func stack(_ operation: UserOperation) { operations.push(operation) }

    func persist() async throws {
        let pending = operations.drain()
        let table = self.table
        try await worker.run { c in
            try c.transaction {
                for case let .upsert(id, name) in pending {
                    _ = try c.query(
                        "INSERT INTO \(unsafeSQL: table) (id, name) VALUES (\(bind: id), \(bind: name)) ON DUPLICATE KEY UPDATE name = VALUES(name)")
                }
            }
        }
    }

    /// The table's rows, `nil` when it does not exist.
    func users() async throws -> [String: String]? {
        guard try await isInitialized() else { return nil }
        let table = self.table
        return try await worker.run { c in
            var users: [String: String] = [:]
            _ = try c.query("SELECT id, name FROM \(unsafeSQL: table)") { row in users[row[0] ?? ""] = row[1] ?? "" }
            return users
        }
    }
}

@Suite("MySQL/MariaDB projections", .enabled(if: MySQLTestServer.shouldRun, "\(MySQLTestServer.skipMessage)"), .watchdog())
struct MySQLProjectionTests {
    @Test func aReadModelInTheStoresDatabaseIsKeptResetAndDeleted() async throws {
        let configuration = try MySQLTestServer.configuration()
        let store = try await MySQLEventStore(configuration: configuration)
        let readModel = MySQLUsersReadModel(configuration: configuration, table: configuration.tablePrefix + "read_users")
        try await ReadModelScenario.run(store: store, readModel: readModel)
    }
}
#endif
