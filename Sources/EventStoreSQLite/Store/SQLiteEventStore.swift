@_spi(Backend) import EventStore
// Re-exported: the store's methods are those of its base class, `SQLEventStore`.
@_exported import EventStoreSQL
import Logging
import Synchronization

/// An event store in an SQLite file: the embedded default.
///
/// One writer connection and a few readers, in WAL mode: loads run while an append commits. Every call
/// that touches SQLite runs on the connection's own dispatch queue, never on Swift's cooperative pool.
/// Several processes may use one file: writers wait for each other up to ``SQLiteConfiguration/busyTimeout``,
/// then fail with `busy`. Every append is one transaction: a crash leaves all of it or none of it.
///
/// ```swift
/// let store = try await SQLiteEventStore(path: "./eventstore.sqlite")
/// ```
public final class SQLiteEventStore: SQLEventStore, @unchecked Sendable {
    /// The configuration the store was opened with.
    public let configuration: SQLiteConfiguration
    /// The schema version of the database.
    public let schemaVersion: Int
    private let connections: SQLiteConnections

    /// The tables (bare names) a store with `prefix` keeps, for tools that drop them (the benchmark).
    package static func tableNames(prefix: String) throws(EventStoreError) -> [String] {
        try SQLiteTables(prefix: prefix).names.all.map(\.name)
    }

    /// Opens (creating when missing) the database at `path` with the default configuration.
    public convenience init(path: String) async throws {
        try await self.init(configuration: SQLiteConfiguration(path: path))
    }

    /// Opens (creating when missing) the database and creates or upgrades its schema.
    /// - Throws: `invalidArgument` for a bad table prefix; `backend` when the file cannot be opened or its
    ///   schema is newer than this build; `busy` when another process holds the write lock too long.
    /// - Parameters:
    ///   - configuration: the file, its pool and the table prefix.
    ///   - logger: where the store logs.
    ///   - telemetry: where it records metrics and spans (`EventStoreTelemetry`): the process's own by default.
    public init(
        configuration: SQLiteConfiguration, logger: Logger = Logger(label: "eventstore"),
        telemetry: EventStoreTelemetry = EventStoreTelemetry()
    ) async throws {
        let connections = try await SQLiteConnections(configuration: configuration)
        let schemaVersion = try await connections.migrate()
        self.configuration = configuration
        self.schemaVersion = schemaVersion
        self.connections = connections
        super.init(
            driver: BlockingDriver(connections), instruments: StoreInstruments(backend: "sqlite", logger: logger, telemetry: telemetry)
        ) { store, context in
            SQLiteEventStore(
                configuration: configuration, schemaVersion: schemaVersion, connections: connections, transactionOf: store,
                context: context)
        }
    }

    private init(
        configuration: SQLiteConfiguration, schemaVersion: Int, connections: SQLiteConnections, transactionOf store: SQLEventStore,
        context: TransactionContext
    ) {
        self.configuration = configuration
        self.schemaVersion = schemaVersion
        self.connections = connections
        super.init(transactionOf: store, context: context)
    }

    // MARK: Inspection

    /// The plan SQLite chooses for one page of a load of `stream` (id 0 when it does not exist), as
    /// `EXPLAIN QUERY PLAN` prints it (one detail per line). For the tests.
    package func _loadQueryPlan(_ stream: StreamName, matching: MetadataMatcher? = nil) async throws -> [String] {
        let operations = connections.operations
        return try await connections.read(nil) { connection in
            let id = try operations.stream(connection, stream)?.id ?? 0
            let query = operations.pageQuery(streamID: id, direction: .forward, matching: matching, retention: .none)
            var details: [String] = []
            try connection.query("EXPLAIN QUERY PLAN " + query.head + "\(bind: 1)" + query.tail + "\(bind: 10)") {
                details.append($0.text(3))
            }
            return details
        }
    }
}

/// The file's connections: one writer, behind the process's write gate, and WAL readers.
struct SQLiteConnections: BlockingSQLConnections {
    let operations: SQLiteOperations
    let writer: SQLiteWorker
    let readers: [SQLiteWorker]
    let readBatchSize: Int
    let appendNotifier = AppendNotifier()
    private let nextReader = Counter()
    private let writeGate = AsyncGate()
    private let beforeCommit: (@Sendable () -> Void)?

    private final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    /// A transaction holds the writer (and the write gate) alone.
    struct Transaction: Sendable {}

    init(configuration: SQLiteConfiguration) async throws {
        let tables = try SQLiteTables(prefix: configuration.tablePrefix)
        let timeout = Int32(clamping: configuration.busyTimeout.milliseconds)
        let path = configuration.path
        writer = try await Self.opened(label: "eventstore.sqlite.writer") {
            let connection = try SQLiteConnection(path: path, readOnly: false, busyTimeoutMilliseconds: timeout)
            try connection.execute("PRAGMA journal_mode = WAL")
            try connection.execute("PRAGMA synchronous = \(configuration.synchronous.rawValue)")
            return connection
        }
        var readers: [SQLiteWorker] = []
        for index in 0..<max(1, configuration.readerCount) {
            readers.append(
                try await Self.opened(label: "eventstore.sqlite.reader\(index)") {
                    let connection = try SQLiteConnection(path: path, readOnly: false, busyTimeoutMilliseconds: timeout)
                    try connection.execute("PRAGMA query_only = ON")
                    return connection
                })
        }
        self.readers = readers
        operations = SQLiteOperations(tables: tables)
        readBatchSize = configuration.readBatchSize
        beforeCommit = configuration._beforeCommit
    }

    /// A worker with its connection open; SQLite's errors as the store's.
    private static func opened(label: String, _ open: @escaping @Sendable () throws -> SQLiteConnection) async throws
        -> SQLiteWorker
    {
        do {
            return try await SQLiteWorker.opened(label: label, open: open)
        } catch let error as SQLiteError {
            throw error.storeError
        }
    }

    /// Creates or upgrades the schema. - Returns: its version.
    func migrate() async throws -> Int {
        let operations = self.operations
        return try await run(on: writer) { try operations.migrate($0) }
    }

    /// How often a live reader looks for other processes' appends. 250 ms.
    var pollInterval: Duration { .milliseconds(250) }

    private var reader: SQLiteWorker {
        readers[nextReader.value.wrappingAdd(1, ordering: .relaxed).oldValue % readers.count]
    }

    func write<T: Sendable>(_ transaction: Transaction?, _ job: @escaping @Sendable (SQLiteConnection) throws -> T)
        async throws -> T
    {
        if transaction != nil { return try await run(on: writer) { connection in try connection.savepoint { try job(connection) } } }
        // A share of the gate: single writes queue on the writer one behind the other (it runs them in
        // turn), while a transaction holding the gate alone keeps them out of its connection.
        let beforeCommit = self.beforeCommit
        await writeGate.acquireShared()
        do {
            let result = try await run(on: writer) { connection in
                try connection.immediateTransaction {
                    let result = try job(connection)
                    beforeCommit?()
                    return result
                }
            }
            await writeGate.releaseShared()
            return result
        } catch {
            await writeGate.releaseShared()
            throw error
        }
    }

    /// A read runs on a reader at the top level, on the writer inside a transaction (which must see its
    /// own writes).
    func read<T: Sendable>(_ transaction: Transaction?, _ job: @escaping @Sendable (SQLiteConnection) throws -> T)
        async throws -> T
    {
        try await run(on: transaction == nil ? reader : writer, job)
    }

    func withTransaction<T: Sendable>(_ body: (Transaction) async throws -> T) async throws -> T {
        await writeGate.acquire()
        do {
            try await run(on: writer) { try $0.execute("BEGIN IMMEDIATE") }
        } catch {
            await writeGate.release()
            throw error
        }
        do {
            let result = try await body(Transaction())
            try await run(on: writer) { try $0.execute("COMMIT") }
            await writeGate.release()
            return result
        } catch {
            _ = try? await run(on: writer) { try $0.execute("ROLLBACK") }
            await writeGate.release()
            throw error
        }
    }

    func close() async {
        await writer.close()
        for reader in readers { await reader.close() }
    }

    private func run<T: Sendable>(on worker: SQLiteWorker, _ job: @escaping @Sendable (SQLiteConnection) throws -> T)
        async throws -> T
    {
        do {
            return try await worker.run(job)
        } catch let error as SQLiteError {
            throw error.storeError
        }
    }
}
