import EventStore
import EventStoreBackends
import EventStorePostgres
import EventStoreSQLite
import Foundation
import Logging

#if MySQL
import EventStoreMySQL
#endif

/// A backend the benchmark can measure: a store from the registry and a raw baseline on the same database.
protocol BenchmarkBackend: StoreBackend {
    /// A raw baseline on tables of its own named with `prefix`; its `close()` also drops the store's tables of
    /// that prefix.
    func rawBaseline(prefix: String, logger: Logger) async throws -> any RawBaseline
}

extension MemoryBackend: BenchmarkBackend {
    func rawBaseline(prefix: String, logger: Logger) async throws -> any RawBaseline { MemoryRaw() }
}

extension SQLiteBackend: BenchmarkBackend {
    func rawBaseline(prefix: String, logger: Logger) async throws -> any RawBaseline {
        try await SQLiteRaw(
            path: configuration.path, prefix: prefix, storeTables: try SQLiteEventStore.tableNames(prefix: prefix))
    }
}

extension PostgresBackend: BenchmarkBackend {
    func rawBaseline(prefix: String, logger: Logger) async throws -> any RawBaseline {
        if configuration.schema != nil {
            // The baseline's tables, and the store's it drops, are in the connection's search path.
            throw EventStoreError.invalidArgument("the benchmark runs in the connection's search path: leave out ?schema=")
        }
        // On a cluster, the baseline writes and reads on the primary.
        var primary = configuration
        if configuration.hosts.count > 1 {
            primary.hosts = [try await PostgresEventStore.primary(of: configuration, logger: logger)]
            primary.readsFromStandbys = false
        }
        return try await PostgresRaw(
            configuration: try primary.clientConfiguration(),
            libpq: primary.readsThroughLibpq ? primary.libpqConnectionString : nil, prefix: prefix,
            storeTables: try PostgresEventStore.tableNames(prefix: prefix),
            storeFunction: try PostgresEventStore.appendFunctionName(prefix: prefix), logger: logger)
    }
}

#if MySQL
extension MySQLBackend: BenchmarkBackend {
    func rawBaseline(prefix: String, logger: Logger) async throws -> any RawBaseline {
        try await MySQLRaw(
            host: configuration.host, port: configuration.port, username: configuration.username,
            password: configuration.password, database: configuration.database, prefix: prefix,
            storeTables: try MySQLEventStore.tableNames(prefix: prefix))
    }
}
#endif

/// One backend under test: fresh tables for each workload, and a raw baseline beside them.
struct BenchTarget: Sendable {
    let backend: any BenchmarkBackend
    let run = String(UUID().uuidString.prefix(6)).lowercased()

    /// The backend's name in results: `postgres-cluster` for several PostgreSQL hosts, `postgres-standbys`
    /// when it also reads from the standbys.
    var name: String {
        if let postgres = backend as? PostgresBackend, postgres.configuration.hosts.count > 1 {
            return postgres.configuration.readsFromStandbys ? "postgres-standbys" : "postgres-cluster"
        }
        return type(of: backend).name
    }

    /// - Throws: `invalidArgument` for a URL no backend reads, or a backend without a raw baseline.
    init(url: String) throws {
        let backend = try StoreBackends.backend(for: url)
        guard let measurable = backend as? any BenchmarkBackend else {
            throw EventStoreError.invalidArgument("the benchmark has no raw baseline for \(type(of: backend).name)")
        }
        self.backend = measurable
    }

    static let logger: Logger = {
        var logger = Logger(label: "eventstore.bench")
        logger.logLevel = .warning
        return logger
    }()

    /// Runs `body` with a new store and a raw baseline on tables of their own, dropped afterwards.
    func withStore<T: Sendable>(
        _ label: String, _ body: @Sendable (any GlobalOrderEventStore & ProjectionStore, any RawBaseline) async throws -> T
    ) async throws -> T {
        let prefix = "b\(run)_\(label)_"
        let raw = try await backend.rawBaseline(prefix: prefix, logger: Self.logger)
        let result = try await withCleanup {
            try await backend.withStore(tablePrefix: prefix, logger: Self.logger) { store in try await body(store, raw) }
        } cleanup: {
            try await raw.close()
        }
        return result
    }
}
