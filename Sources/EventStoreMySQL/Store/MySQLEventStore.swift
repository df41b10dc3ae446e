#if MySQL
import EventStore
import EventStoreSQL
import Synchronization

/// An event store in MySQL or MariaDB, through the C client library libmariadb.
///
/// A small pool of connections, each with a dispatch queue of its own (libmariadb blocks; its calls never
/// run on Swift's cooperative pool). Every append is one transaction that first locks one row of
/// `event_store_lock`, so global positions are handed out in commit order and a reader of the global order
/// never passes over a late commit. Inside ``transaction(_:)`` each operation runs in a savepoint of the
/// transaction's one connection.
///
/// ```swift
/// let store = try await MySQLEventStore(configuration: try MySQLConfiguration(url: "mariadb://app:secret@127.0.0.1/events"))
/// ```
public final class MySQLEventStore: ProjectionStore, SnapshotStore {
    public let configuration: MySQLConfiguration
    /// The schema version of the database.
    public let schemaVersion: Int
    private let pool: WorkerPool<MariaDBConnection>
    private let operations: MySQLOperations
    private let transaction: TransactionWorker?
    /// Signalled after this process's commits; other processes' appends are found by a short poll.
    public let appendNotifier: AppendNotifier

    private final class TransactionWorker: Sendable {
        let worker: BlockingWorker<MariaDBConnection>
        let gate = AsyncGate()
        private let open = Atomic<Bool>(true)
        init(_ worker: BlockingWorker<MariaDBConnection>) { self.worker = worker }
        var isOpen: Bool { open.load(ordering: .acquiring) }
        func close() { open.store(false, ordering: .releasing) }
    }

    /// Connects, and creates or upgrades the schema.
    /// - Throws: `invalidArgument` for a bad table prefix; `backend` when the server cannot be reached or its
    ///   schema is newer than this build.
    public init(configuration: MySQLConfiguration) async throws {
        let settings = MariaDBConnection.Settings(
            host: configuration.host, port: configuration.port, username: configuration.username,
            password: configuration.password, database: configuration.database,
            connectTimeoutSeconds: UInt32(clamping: configuration.connectTimeoutSeconds))
        let operations = MySQLOperations(tables: try MySQLTables(prefix: configuration.tablePrefix))
        let pool = WorkerPool(
            (0..<max(1, configuration.poolSize)).map {
                BlockingWorker(label: "eventstore.mariadb.\($0)", open: { try MariaDBConnection(settings) }, isBroken: \.isBroken)
            })
        self.configuration = configuration
        self.operations = operations
        self.pool = pool
        self.transaction = nil
        self.appendNotifier = AppendNotifier()
        self.schemaVersion = try await Self.run(pool) { try operations.migrate($0) }
    }

    private init(transactionOf store: MySQLEventStore, worker: BlockingWorker<MariaDBConnection>) {
        configuration = store.configuration
        schemaVersion = store.schemaVersion
        pool = store.pool
        operations = store.operations
        transaction = TransactionWorker(worker)
        appendNotifier = store.appendNotifier
    }

    // MARK: Running work

    private static func run<T: Sendable>(
        _ pool: WorkerPool<MariaDBConnection>, _ body: @escaping @Sendable (MariaDBConnection) throws -> T
    ) async throws -> T {
        try await pool.withWorker { try await run($0, body) }
    }

    private static func run<T: Sendable>(_ worker: BlockingWorker<MariaDBConnection>, _ body: @escaping @Sendable (MariaDBConnection) throws -> T)
        async throws -> T
    {
        do {
            return try await worker.run(body)
        } catch let error as MariaDBError {
            throw error.storeError
        }
    }

    private func write<T: Sendable>(_ body: @escaping @Sendable (MariaDBConnection) throws -> T) async throws -> T {
        if let transaction {
            return try await inTransaction(transaction) { connection in try connection.savepoint { try body(connection) } }
        }
        try TransactionScope.checkOutsideTransaction(of: ObjectIdentifier(pool))
        // A write runs to its end even when the caller's task is cancelled (as on PostgreSQL): a projection
        // that is cancelled saves what it processed. Reads give up waiting for a connection when cancelled.
        let pool = self.pool
        let result = try await Task {
            try await Self.run(pool) { connection in try connection.transaction { try body(connection) } }
        }.value
        appendNotifier.signal()
        return result
    }

    private func read<T: Sendable>(_ body: @escaping @Sendable (MariaDBConnection) throws -> T) async throws -> T {
        if let transaction { return try await inTransaction(transaction, body) }
        return try await Self.run(pool, body)
    }

    private func inTransaction<T: Sendable>(
        _ transaction: TransactionWorker, _ body: @escaping @Sendable (MariaDBConnection) throws -> T
    ) async throws -> T {
        guard transaction.isOpen else { throw Self.closedError }
        await transaction.gate.acquire()
        do {
            guard transaction.isOpen else { throw Self.closedError }
            let result = try await Self.run(transaction.worker, body)
            await transaction.gate.release()
            return result
        } catch {
            await transaction.gate.release()
            throw error
        }
    }

    private static let closedError = EventStoreError(
        code: .transactionClosed, reason: "this transaction's store was used after its transaction ended")

    // MARK: EventStore

    @discardableResult
    public func create(_ stream: StreamName, metadata: Metadata, events: [EventMessage]) async throws -> AppendResult {
        let operations = self.operations
        return try await write { try operations.create($0, stream, metadata: metadata, events: events) }
    }

    @discardableResult
    public func append(_ events: [EventMessage], to stream: StreamName, expectedVersion: ExpectedVersion) async throws
        -> AppendResult
    {
        let operations = self.operations
        return try await write { try operations.append($0, events, to: stream, expectedVersion: expectedVersion) }
    }

    public func load(_ stream: StreamName, from: Int, count: Int?, matching: MetadataMatcher?) async throws
        -> RecordedEventSequence
    {
        try await sequence(stream, direction: .forward, from: from, count: count, matching: matching)
    }

    public func loadReverse(_ stream: StreamName, from: Int?, count: Int?, matching: MetadataMatcher?) async throws
        -> RecordedEventSequence
    {
        try await sequence(stream, direction: .backward, from: from, count: count, matching: matching)
    }

    private func sequence(
        _ stream: StreamName, direction: RecordedEventSequence.Direction, from: Int?, count: Int?, matching: MetadataMatcher?
    ) async throws -> RecordedEventSequence {
        try StoreValidation.load(from: from, count: count)
        if let matching { _ = try MatcherEvaluator(matching) }
        let operations = self.operations
        guard let row = try await read({ try operations.stream($0, stream) }) else {
            throw EventStoreError.streamNotFound(stream)
        }
        return RecordedEventSequence(
            direction: direction, start: min(from ?? Int.max, Int(Int64.max)), count: count, pageSize: configuration.loadBatchSize
        ) { [self] bound, limit in
            try await read {
                try operations.page(
                    $0, streamID: row.id, stream: stream, direction: direction, matching: matching, bound: bound, limit: limit)
            }
        }
    }

    public func delete(_ stream: StreamName) async throws {
        let operations = self.operations
        try await write { try operations.delete($0, stream) }
    }

    public func hasStream(_ stream: StreamName) async throws -> Bool {
        let operations = self.operations
        return try await read { try operations.stream($0, stream) != nil }
    }

    public func streamMetadata(of stream: StreamName) async throws -> Metadata {
        let operations = self.operations
        return try await read { try operations.metadata($0, of: stream) }
    }

    public func updateStreamMetadata(_ metadata: Metadata, of stream: StreamName) async throws {
        let operations = self.operations
        try await write { try operations.updateMetadata($0, metadata, of: stream) }
    }

    public func streamNames(_ filter: NameFilter, matching: MetadataMatcher?, limit: Int, offset: Int) async throws
        -> [StreamName]
    {
        try StoreValidation.listing(filter, matching: matching, limit: limit, offset: offset)
        let operations = self.operations
        return try await read { try operations.streamNames($0, filter, matching: matching, limit: limit, offset: offset) }
    }

    public func categoryNames(_ filter: NameFilter, limit: Int, offset: Int) async throws -> [String] {
        try StoreValidation.listing(filter, limit: limit, offset: offset)
        let operations = self.operations
        return try await read { try operations.categoryNames($0, filter, limit: limit, offset: offset) }
    }

    @discardableResult
    public func transaction<T: Sendable>(_ body: @Sendable (any EventStore) async throws -> T) async throws -> T {
        if transaction != nil {
            throw EventStoreError(code: .nestedTransaction, reason: "a transaction cannot be started inside another one")
        }
        try TransactionScope.checkCanBegin()
        let result = try await withoutActuallyEscaping(body) { body in
            try await pool.withWorker { worker in
                try await Self.run(worker) { try $0.execute("START TRANSACTION") }
                let store = MySQLEventStore(transactionOf: self, worker: worker)
                do {
                    let result = try await TransactionScope.run(in: ObjectIdentifier(pool)) { try await body(store) }
                    store.transaction?.close()
                    try await Self.run(worker) { try $0.execute("COMMIT") }
                    return result
                } catch {
                    store.transaction?.close()
                    _ = try? await Self.run(worker) { try $0.execute("ROLLBACK") }
                    throw error
                }
            }
        }
        appendNotifier.signal()
        return result
    }

    /// Closes the store's connections once the calls they run are done. Calls waiting for a connection, and
    /// every later call, fail with `backend`.
    public func close() async {
        await pool.shutDown()
    }

    // MARK: Snapshots

    public func snapshot(ofType aggregateType: String, id aggregateID: String) async throws -> Snapshot? {
        let operations = self.operations
        return try await read { try operations.snapshot($0, type: aggregateType, id: aggregateID) }
    }

    public func save(_ snapshots: [Snapshot]) async throws {
        let operations = self.operations
        try await write { try operations.save($0, snapshots) }
    }

    public func removeAll(ofType aggregateType: String) async throws {
        let operations = self.operations
        try await write { try operations.removeSnapshots($0, type: aggregateType) }
    }

    // MARK: Projections

    public func projectionRecord(named name: String) async throws -> ProjectionRecord? {
        let operations = self.operations
        return try await read { try operations.projectionRecord($0, named: name) }
    }

    public func projectionNames(_ filter: NameFilter, limit: Int, offset: Int) async throws -> [String] {
        try StoreValidation.listing(filter, limit: limit, offset: offset)
        let operations = self.operations
        return try await read { try operations.projectionNames($0, filter, limit: limit, offset: offset) }
    }

    public func changeProjection<Result: Sendable>(
        named name: String, _ change: @escaping @Sendable (inout ProjectionRecord?) throws -> ProjectionChange<Result>
    ) async throws -> Result {
        let operations = self.operations
        return try await ProjectionSQL.retryingRaces {
            try await write { try operations.changeProjection($0, named: name, change) }
        }
    }

    // MARK: Global order

    /// The bounded poll for other processes' appends. 100 ms.
    public var pollInterval: Duration { .milliseconds(100) }

    /// Events of `target` after `position`, in global order, at most `limit` of them; never passes over an
    /// event that commits late (see the type's discussion).
    public func readAll(after position: GlobalPosition, of target: SubscriptionTarget = .all, limit: Int) async throws
        -> [RecordedEvent]
    {
        if limit < 1 { throw EventStoreError.invalidArgument("limit must be 1 or more, not \(limit)") }
        let operations = self.operations
        return try await read { try operations.readAll($0, after: position, of: target, limit: limit) }
    }

    public func headPosition() async throws -> GlobalPosition {
        let operations = self.operations
        return try await read { try operations.headPosition($0) }
    }

    public func checkpoint(named name: String) async throws -> GlobalPosition? {
        let operations = self.operations
        return try await read { try operations.checkpoint($0, named: name) }
    }

    public func saveCheckpoint(_ position: GlobalPosition, named name: String) async throws {
        let operations = self.operations
        try await write { try operations.saveCheckpoint($0, position, named: name) }
    }
}
#endif
