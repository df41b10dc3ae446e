#if MySQL
@_spi(Backend) import EventStore
// Re-exported: the store's methods are those of its base class, `SQLEventStore`.
@_exported import EventStoreSQL
import Logging

/// An event store in MySQL or MariaDB, through the C client library libmariadb.
///
/// A small pool of connections, each with a dispatch queue of its own (libmariadb blocks; its calls never
/// run on Swift's cooperative pool). Every append is one transaction that first locks one row of
/// `event_store_lock`, so global positions are handed out in commit order; a page of the global order is
/// bounded by the head a statement before it saw, so a reader never passes over a late commit. Inside
/// `transaction(_:)` each operation runs in a savepoint of the
/// transaction's one connection.
///
/// ```swift
/// let store = try await MySQLEventStore(configuration: try MySQLConfiguration(url: "mariadb://app:secret@127.0.0.1/events"))
/// ```
public final class MySQLEventStore: SQLEventStore, @unchecked Sendable {
    /// The settings the store was opened with: its server, pool, deadlines and table prefix.
    public let configuration: MySQLConfiguration
    /// The schema version of the database.
    public let schemaVersion: Int

    /// The tables (bare names) a store with `prefix` keeps, for tools that drop them (the benchmark).
    package static func tableNames(prefix: String) throws(EventStoreError) -> [String] {
        let names = try MySQLTables(prefix: prefix).names
        return try names.all.map(\.name) + MySQLTables.ownTables.map { suffix throws(EventStoreError) in try names.named(suffix).name }
    }

    /// Connects, and creates or upgrades the schema.
    /// - Throws: `invalidArgument` for a bad table prefix; `backend` when the server cannot be reached or its
    ///   schema is newer than this build.
    /// - Parameters:
    ///   - configuration: the server, the pool, the deadlines and the table prefix.
    ///   - logger: where the store logs.
    ///   - telemetry: where it records metrics and spans (`EventStoreTelemetry`): the process's own by default.
    public init(
        configuration: MySQLConfiguration, logger: Logger = Logger(label: "eventstore"),
        telemetry: EventStoreTelemetry = EventStoreTelemetry()
    ) async throws {
        let connections = try MySQLConnections(configuration: configuration)
        let schemaVersion = try await connections.migrate()
        self.configuration = configuration
        self.schemaVersion = schemaVersion
        super.init(
            driver: BlockingDriver(connections), instruments: StoreInstruments(backend: "mysql", logger: logger, telemetry: telemetry)
        ) { store, context in
            MySQLEventStore(configuration: configuration, schemaVersion: schemaVersion, transactionOf: store, context: context)
        }
    }

    private init(configuration: MySQLConfiguration, schemaVersion: Int, transactionOf store: SQLEventStore, context: TransactionContext) {
        self.configuration = configuration
        self.schemaVersion = schemaVersion
        super.init(transactionOf: store, context: context)
    }
}

/// The server's connections: a pool of workers; a transaction holds one for its whole run.
struct MySQLConnections: BlockingSQLConnections {
    let operations: MySQLOperations
    let readBatchSize: Int
    let appendNotifier = AppendNotifier()
    private let pool: WorkerPool<MariaDBConnection>

    /// A transaction's worker.
    /// A store transaction: its worker, and the connection its `START TRANSACTION` ran on.
    struct Transaction: Sendable {
        let worker: BlockingWorker<MariaDBConnection>
        let connection: UInt64

        /// Runs `job` on the transaction's connection; fails when the worker lost it (a server restart, a
        /// `KILL`, a cancelled call) and would run the job on a fresh connection outside the transaction,
        /// where it would commit on its own while the transaction's earlier writes were rolled back.
        func run<T: Sendable>(
            _ cancellation: BlockingWorker<MariaDBConnection>.Cancellation, _ job: @escaping @Sendable (MariaDBConnection) throws -> T
        ) async throws -> T {
            let expected = connection
            return try await MySQLConnections.run(worker, cancellation) { connection in
                guard connection.serial == expected, !connection.isBroken else {
                    throw EventStoreError.backend(
                        "the connection of this transaction was lost, so the server rolled the transaction back")
                }
                return try job(connection)
            }
        }
    }

    init(configuration: MySQLConfiguration) throws {
        let settings = MariaDBConnection.Settings(
            host: configuration.host, port: configuration.port, username: configuration.username,
            password: configuration.password, database: configuration.database,
            connectTimeoutSeconds: MariaDBConnection.Settings.wholeSeconds(configuration.connectTimeout),
            queryTimeoutSeconds: MariaDBConnection.Settings.wholeSeconds(configuration.queryTimeout))
        operations = MySQLOperations(
            tables: try MySQLTables(prefix: configuration.tablePrefix), statementSeconds: settings.queryTimeoutSeconds,
            migrationTimeout: configuration.migrationTimeout)
        pool = WorkerPool(
            (0..<max(1, configuration.poolSize)).map {
                BlockingWorker(
                    label: "eventstore.mariadb.\($0)", open: { try MariaDBConnection(settings, interrupter: $0) },
                    isBroken: \.isBroken)
            },
            waitLimit: configuration.connectTimeout)
        readBatchSize = configuration.readBatchSize
    }

    /// Creates or upgrades the schema. - Returns: its version.
    func migrate() async throws -> Int {
        let operations = self.operations
        return try await pool.withWorker { try await Self.run($0, .runsToEnd) { try operations.migrate($0) } }
    }

    /// The bounded poll for other processes' appends. 100 ms.
    var pollInterval: Duration { .milliseconds(100) }

    func write<T: Sendable>(_ transaction: Transaction?, _ job: @escaping @Sendable (MariaDBConnection) throws -> T)
        async throws -> T
    {
        if let transaction {
            return try await transaction.run(Self.writing) { connection in try connection.savepoint { try job(connection) } }
        }
        // A write whose caller is cancelled still gets its connection and has the grace to finish (as on
        // PostgreSQL): a projection that is cancelled saves what it processed. Reads give up waiting for a
        // connection when cancelled. (Waiting through cancellation instead of in a task of its own saves two
        // thread switches a write.)
        return try await pool.withWorker(waitsThroughCancellation: true) { worker in
            try await Self.run(worker, Self.writing) { connection in try connection.transaction { try job(connection) } }
        }
    }

    /// At the top level the job's one call opens and commits its own transaction (the append procedure): a
    /// connection that breaks or times out during it leaves the outcome unknown, as one during a COMMIT.
    func selfCommittingWrite<T: Sendable>(
        _ transaction: Transaction?, _ job: @escaping @Sendable (MariaDBConnection, _ commitsItself: Bool) throws -> T
    ) async throws -> T {
        if transaction != nil { return try await write(transaction) { try job($0, false) } }
        return try await pool.withWorker(waitsThroughCancellation: true) { worker in
            try await Self.run(worker, Self.writing) { connection in
                do {
                    return try job(connection, true)
                } catch var error as MariaDBError where error.isConnectionError {
                    error.duringCommit = true
                    throw error
                }
            }
        }
    }

    func read<T: Sendable>(_ transaction: Transaction?, _ job: @escaping @Sendable (MariaDBConnection) throws -> T)
        async throws -> T
    {
        if let transaction { return try await transaction.run(.interruptsAtOnce, job) }
        return try await pool.withWorker { try await Self.run($0, .interruptsAtOnce, job) }
    }

    func withTransaction<T: Sendable>(_ body: (Transaction) async throws -> T) async throws -> T {
        try await pool.withWorker { worker in
            let connection = try await Self.run(worker, .interruptsAtOnce) { connection in
                try connection.execute("START TRANSACTION")
                return connection.serial
            }
            let transaction = Transaction(worker: worker, connection: connection)
            do {
                let result = try await body(transaction)
                try await transaction.run(Self.writing) { try $0.commit() }
                return result
            } catch {
                _ = try? await transaction.run(.runsToEnd) { try $0.execute("ROLLBACK") }
                throw error
            }
        }
    }

    /// Closes the connections once the calls they run are done. Calls waiting for a connection, and every
    /// later call, fail with `backend`.
    func close() async {
        await pool.shutDown()
    }

    /// A write whose caller is cancelled: its connection is cut (`mariadb_cancel`) after the grace.
    private static let writing = BlockingWorker<MariaDBConnection>.Cancellation.interruptsAfter(WriteCancellation.grace)

    /// Runs `job` on `worker`, with MariaDB's errors as the store's.
    fileprivate static func run<T: Sendable>(
        _ worker: BlockingWorker<MariaDBConnection>, _ cancellation: BlockingWorker<MariaDBConnection>.Cancellation,
        _ job: @escaping @Sendable (MariaDBConnection) throws -> T
    ) async throws -> T {
        do {
            return try await worker.run(cancellation: cancellation, job)
        } catch let error as MariaDBError {
            throw error.storeError
        } catch let interrupted as JobInterrupted {
            // The job's connection was cut because its caller was cancelled. Only a COMMIT in flight may
            // have committed; a transaction cut before it was rolled back by the server.
            guard let error = interrupted.underlying as? MariaDBError else { throw interrupted.underlying }
            if error.duringCommit, error.isConnectionError {
                throw EventStoreError.backend(
                    "the call was cancelled while MySQL/MariaDB committed a write: its connection was cut, and the write may or "
                        + "may not have committed (outcome unknown: read before retrying)", underlying: error)
            }
            if error.isConnectionError { throw CancellationError() }
            throw error.storeError
        }
    }
}
#endif
