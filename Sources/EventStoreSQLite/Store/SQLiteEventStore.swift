import Dispatch
import EventStore
import EventStoreSQL
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
public final class SQLiteEventStore: ProjectionStore, SnapshotStore {
    /// The configuration the store was opened with.
    public let configuration: SQLiteConfiguration
    /// The schema version of the database.
    public let schemaVersion: Int

    private let shared: Shared
    /// For a transaction's store: whether its transaction still runs. `nil` for the top-level store.
    private let transactionOpen: TransactionFlag?

    private final class TransactionFlag: Sendable {
        private let open = Atomic<Bool>(true)
        var isOpen: Bool { open.load(ordering: .acquiring) }
        func close() { open.store(false, ordering: .releasing) }
    }

    private final class Shared: Sendable {
        let operations: SQLiteOperations
        let writer: SQLiteWorker
        let readers: [SQLiteWorker]
        let nextReader = Atomic<Int>(0)
        let writeGate = AsyncGate()
        let notifier = AppendNotifier()

        init(operations: SQLiteOperations, writer: SQLiteWorker, readers: [SQLiteWorker]) {
            self.operations = operations
            self.writer = writer
            self.readers = readers
        }

        var reader: SQLiteWorker {
            readers[nextReader.wrappingAdd(1, ordering: .relaxed).oldValue % readers.count]
        }
    }

    /// Opens (creating when missing) the database at `path` with the default configuration.
    public convenience init(path: String) async throws {
        try await self.init(configuration: SQLiteConfiguration(path: path))
    }

    /// Opens (creating when missing) the database and creates or upgrades its schema.
    /// - Throws: `invalidArgument` for a bad table prefix; `backend` when the file cannot be opened or its
    ///   schema is newer than this build; `busy` when another process holds the write lock too long.
    public init(configuration: SQLiteConfiguration) async throws {
        let tables = try SQLiteTables(prefix: configuration.tablePrefix)
        let operations = SQLiteOperations(tables: tables)
        let timeout = Int32(clamping: configuration.busyTimeout.components.seconds * 1000
            + configuration.busyTimeout.components.attoseconds / 1_000_000_000_000_000)
        let path = configuration.path
        let writer = try await SQLiteWorker.opened(label: "eventstore.sqlite.writer") {
            let connection = try SQLiteConnection(path: path, readOnly: false, busyTimeoutMilliseconds: timeout)
            try connection.execute("PRAGMA journal_mode = WAL")
            try connection.execute("PRAGMA synchronous = \(configuration.synchronous.rawValue)")
            return connection
        }
        do {
            schemaVersion = try await writer.run { try operations.migrate($0) }
        } catch let error as SQLiteError {
            throw error.storeError
        }
        var readers: [SQLiteWorker] = []
        for index in 0..<max(1, configuration.readerCount) {
            readers.append(
                try await SQLiteWorker.opened(label: "eventstore.sqlite.reader\(index)") {
                    let connection = try SQLiteConnection(path: path, readOnly: false, busyTimeoutMilliseconds: timeout)
                    try connection.execute("PRAGMA query_only = ON")
                    return connection
                })
        }
        self.configuration = configuration
        self.shared = Shared(operations: operations, writer: writer, readers: readers)
        self.transactionOpen = nil
    }

    private init(transactionOf store: SQLiteEventStore) {
        configuration = store.configuration
        schemaVersion = store.schemaVersion
        shared = store.shared
        transactionOpen = TransactionFlag()
    }

    /// Closes the file's connections once the calls they run are done; every later call fails with
    /// `backend`. (Dropping the last reference to the store closes them too.)
    public func close() async {
        await shared.writer.close()
        for reader in shared.readers { await reader.close() }
    }

    // MARK: Running work

    private var operations: SQLiteOperations { shared.operations }

    /// Runs a write: in its own immediate transaction at the top level (holding the process's write gate),
    /// in a savepoint inside a transaction.
    private func write<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        let beforeCommit = configuration._beforeCommit
        guard let transactionOpen else {
            try TransactionScope.checkOutsideTransaction(of: ObjectIdentifier(shared))
            // A share of the gate: single writes queue on the writer one behind the other (it runs them in
            // turn), while a transaction holding the gate alone keeps them out of its connection.
            await shared.writeGate.acquireShared()
            do {
                let result = try await run(on: shared.writer) { connection in
                    try connection.immediateTransaction {
                        let result = try body(connection)
                        beforeCommit?()
                        return result
                    }
                }
                await shared.writeGate.releaseShared()
                shared.notifier.signal()
                return result
            } catch {
                await shared.writeGate.releaseShared()
                throw error
            }
        }
        guard transactionOpen.isOpen else { throw Self.closedError }
        return try await run(on: shared.writer) { connection in try connection.savepoint { try body(connection) } }
    }

    /// Runs a read: on a reader connection at the top level, on the writer inside a transaction (which
    /// must see its own writes).
    private func read<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        guard let transactionOpen else { return try await run(on: shared.reader, body) }
        guard transactionOpen.isOpen else { throw Self.closedError }
        return try await run(on: shared.writer, body)
    }

    private func run<T: Sendable>(on worker: SQLiteWorker, _ body: @escaping @Sendable (SQLiteConnection) throws -> T)
        async throws -> T
    {
        do {
            return try await worker.run(body)
        } catch let error as SQLiteError {
            throw error.storeError
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
        let query = operations.pageQuery(streamID: row.id, direction: direction, matching: matching)
        let start = from ?? Int.max
        return RecordedEventSequence(
            direction: direction, start: min(start, Int(Int64.max)), count: count, pageSize: configuration.loadBatchSize
        ) { [self] bound, limit in
            try await read { try operations.page($0, query, stream: stream, bound: bound, limit: limit) }
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
        if transactionOpen != nil {
            throw EventStoreError(code: .nestedTransaction, reason: "a transaction cannot be started inside another one")
        }
        try TransactionScope.checkCanBegin()
        await shared.writeGate.acquire()
        do {
            try await run(on: shared.writer) { try $0.execute("BEGIN IMMEDIATE") }
        } catch {
            await shared.writeGate.release()
            throw error
        }
        let transactionStore = SQLiteEventStore(transactionOf: self)
        do {
            let result = try await TransactionScope.run(in: ObjectIdentifier(shared)) { try await body(transactionStore) }
            transactionStore.transactionOpen?.close()
            try await run(on: shared.writer) { try $0.execute("COMMIT") }
            await shared.writeGate.release()
            shared.notifier.signal()
            return result
        } catch {
            transactionStore.transactionOpen?.close()
            _ = try? await run(on: shared.writer) { try $0.execute("ROLLBACK") }
            await shared.writeGate.release()
            throw error
        }
    }

    // MARK: Global order

    /// Signalled after this process's commits; other processes' appends are seen by polling.
    public var appendNotifier: AppendNotifier { shared.notifier }

    /// How often a live reader looks for other processes' appends. 250 ms.
    public var pollInterval: Duration { .milliseconds(250) }

    public func readAll(after position: GlobalPosition, of target: SubscriptionTarget, limit: Int) async throws
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
        return try await write { try operations.changeProjection($0, named: name, change) }
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

    // MARK: Inspection

    /// The plan SQLite chooses for one page of a load, as `EXPLAIN QUERY PLAN` prints it (one detail per
    /// line). For tests and diagnosis.
    public func _loadQueryPlan(_ stream: StreamName, matching: MetadataMatcher? = nil) async throws -> [String] {
        let operations = self.operations
        return try await read { connection in
            let query = operations.pageQuery(streamID: 1, direction: .forward, matching: matching)
            var details: [String] = []
            try connection.query("EXPLAIN QUERY PLAN " + query.head + "\(bind: 1)" + query.tail + "\(bind: 10)") {
                details.append($0.text(3))
            }
            return details
        }
    }
}
