import EventStore
import EventStoreSQL
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// An event store in PostgreSQL, on PostgresNIO's connection pool.
///
/// The store works while ``run()`` runs (it runs the pool, as a swift-service-lifecycle `Service`), and
/// its schema must exist: ``migrate()`` creates or upgrades it. ``withStore(configuration:logger:_:)`` does
/// both around a closure:
/// ```swift
/// try await PostgresEventStore.withStore(configuration: try PostgresConfiguration(url: url), logger: logger) { store in
///     try await store.append(events, to: "user-1", expectedVersion: .exact(3))
/// }
/// ```
///
/// The global order is (writing transaction's id, sequence), and ``readAll(after:limit:)`` reads only what
/// every older transaction has finished with, so a transaction that commits late is never passed over;
/// writers to different streams commit in parallel. Each append is one transaction (a savepoint inside
/// ``transaction(_:)``); its events go in one statement.
public final class PostgresEventStore: ProjectionStore, SnapshotStore, Service {
    /// The configuration the store was made with.
    public let configuration: PostgresConfiguration
    private let client: PostgresClient
    private let deadline: PostgresCallDeadline
    private let operations: PostgresOperations
    private let logger: Logger
    /// Signalled after commits, this process's and (through `LISTEN`) every other's.
    public let appendNotifier: AppendNotifier
    /// Set for a transaction's store: its connection, and whether the transaction still runs.
    private let transaction: TransactionConnection?

    private final class TransactionConnection: Sendable {
        let connection: PostgresConnection
        let gate = AsyncGate()
        private let open = Atomic<Bool>(true)
        init(_ connection: PostgresConnection) { self.connection = connection }
        var isOpen: Bool { open.load(ordering: .acquiring) }
        func close() { open.store(false, ordering: .releasing) }
    }

    /// A store for the configured server. Nothing connects until ``run()`` runs.
    /// - Throws: `invalidArgument` for a bad schema or table prefix.
    public init(configuration: PostgresConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        self.operations = PostgresOperations(
            tables: try PostgresTables(schema: configuration.schema, prefix: configuration.tablePrefix), logger: logger)
        self.client = PostgresClient(configuration: try configuration.clientConfiguration(), backgroundLogger: logger)
        self.deadline = PostgresCallDeadline(
            connectTimeout: configuration.connectTimeout, queryTimeout: configuration.queryTimeout)
        self.transaction = nil
        self.appendNotifier = AppendNotifier()
    }

    private init(transactionOf store: PostgresEventStore, connection: PostgresConnection) {
        configuration = store.configuration
        logger = store.logger
        operations = store.operations
        client = store.client
        deadline = store.deadline
        transaction = TransactionConnection(connection)
        appendNotifier = store.appendNotifier
    }

    /// Runs the connection pool, and a listener that turns other processes' `NOTIFY`s into wake-ups, until
    /// the task is cancelled.
    public func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.client.run() }
            group.addTask { await self.listenForAppends() }
        }
    }

    /// Follows the append channel; reconnects with back-off when the connection is lost.
    private func listenForAppends() async {
        var delay: Duration = .milliseconds(100)
        while !Task.isCancelled {
            do {
                for try await _ in notifications() {
                    appendNotifier.signal()
                    delay = .milliseconds(100)
                }
            } catch {
                logger.debug("append listener lost its connection: \(error)")
            }
            appendNotifier.signal()
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(5))
        }
    }

    /// Runs `body` with a store whose pool runs and whose schema is migrated, then stops the pool.
    public static func withStore<T: Sendable>(
        configuration: PostgresConfiguration, logger: Logger, _ body: @Sendable (PostgresEventStore) async throws -> T
    ) async throws -> T {
        let store = try PostgresEventStore(configuration: configuration, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await store.run() }
            defer { group.cancelAll() }
            try await store.migrate()
            return try await body(store)
        }
    }

    /// Creates or upgrades the schema; safe when several processes start at once. Not bound by
    /// ``PostgresConfiguration/queryTimeout``: building an index on a large table takes as long as it takes.
    /// - Returns: the schema version.
    @discardableResult
    public func migrate() async throws -> Int {
        let operations = self.operations
        return try await onConnection(.write, timed: false) { connection in
            try await Self.inTransaction(connection, self.logger) { try await operations.migrate($0) }
        }
    }

    // MARK: Running work

    /// Runs `body` on a pooled connection, under the connect timeout and (when `timed`) the query deadline
    /// (see ``PostgresConfiguration/queryTimeout``).
    private func onConnection<T: Sendable>(
        _ kind: PostgresCallDeadline.Kind, timed: Bool = true, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        do {
            return try await deadline.withConnection(of: client, kind, timed: timed, body)
        } catch where PostgresFailure.isDriverError(error) {
            throw EventStoreError.backend("PostgreSQL failed", underlying: PostgresFailure(error))
        }
    }

    private static func inTransaction<T>(_ c: PostgresConnection, _ logger: Logger, _ body: (PostgresConnection) async throws -> T)
        async throws -> T
    {
        try await c.query("BEGIN", logger: logger)
        do {
            let result = try await body(c)
            try await c.query("COMMIT", logger: logger)
            return result
        } catch {
            _ = try? await c.query("ROLLBACK", logger: logger)
            throw error
        }
    }

    /// A write: its own transaction at the top level, a savepoint inside a transaction.
    private func write<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        if let transaction {
            return try await inTransactionConnection(transaction, .write) { c in
                try await c.query("SAVEPOINT es_operation", logger: self.logger)
                do {
                    let result = try await body(c)
                    try await c.query("RELEASE SAVEPOINT es_operation", logger: self.logger)
                    return result
                } catch {
                    _ = try? await c.query("ROLLBACK TO SAVEPOINT es_operation", logger: self.logger)
                    _ = try? await c.query("RELEASE SAVEPOINT es_operation", logger: self.logger)
                    throw error
                }
            }
        }
        try TransactionScope.checkOutsideTransaction(of: ObjectIdentifier(client))
        // A write runs to its end (or its deadline) even when the caller's task is cancelled: a cancelled
        // ROLLBACK or COMMIT would give the pool back a connection inside an open transaction.
        let result = try await Task {
            try await self.onConnection(.write) { c in try await Self.inTransaction(c, self.logger, body) }
        }.value
        appendNotifier.signal()
        return result
    }

    /// A read: any pooled connection at the top level, the transaction's connection inside one.
    private func read<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        if let transaction { return try await inTransactionConnection(transaction, .read, body) }
        return try await onConnection(.read, body)
    }

    /// Runs `body` on a transaction's connection, one call at a time, under the query deadline.
    private func inTransactionConnection<T: Sendable>(
        _ transaction: TransactionConnection, _ kind: PostgresCallDeadline.Kind,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        guard transaction.isOpen else { throw Self.closedError }
        await transaction.gate.acquire()
        do {
            guard transaction.isOpen else { throw Self.closedError }
            let result = try await deadline.run(on: transaction.connection, kind, body)
            await transaction.gate.release()
            return result
        } catch where PostgresFailure.isDriverError(error) {
            await transaction.gate.release()
            throw EventStoreError.backend("PostgreSQL failed", underlying: PostgresFailure(error))
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
        return try await write { try await operations.create($0, stream, metadata: metadata, events: events) }
    }

    @discardableResult
    public func append(_ events: [EventMessage], to stream: StreamName, expectedVersion: ExpectedVersion) async throws
        -> AppendResult
    {
        let operations = self.operations
        return try await write { try await operations.append($0, events, to: stream, expectedVersion: expectedVersion) }
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
        guard let id = try await read({ try await operations.stream($0, stream) }) else {
            throw EventStoreError.streamNotFound(stream)
        }
        return RecordedEventSequence(
            direction: direction, start: min(from ?? Int.max, Int(Int64.max)), count: count, pageSize: configuration.loadBatchSize
        ) { [self] bound, limit in
            try await read {
                try await operations.page(
                    $0, streamID: id, stream: stream, direction: direction, matching: matching, bound: bound, limit: limit)
            }
        }
    }

    public func delete(_ stream: StreamName) async throws {
        let operations = self.operations
        try await write { try await operations.delete($0, stream) }
    }

    public func hasStream(_ stream: StreamName) async throws -> Bool {
        let operations = self.operations
        return try await read { try await operations.stream($0, stream) != nil }
    }

    public func streamMetadata(of stream: StreamName) async throws -> Metadata {
        let operations = self.operations
        return try await read { try await operations.metadata($0, of: stream) }
    }

    public func updateStreamMetadata(_ metadata: Metadata, of stream: StreamName) async throws {
        let operations = self.operations
        try await write { try await operations.updateMetadata($0, metadata, of: stream) }
    }

    public func streamNames(_ filter: NameFilter, matching: MetadataMatcher?, limit: Int, offset: Int) async throws
        -> [StreamName]
    {
        try StoreValidation.listing(filter, matching: matching, limit: limit, offset: offset)
        let operations = self.operations
        return try await read { try await operations.streamNames($0, filter, matching: matching, limit: limit, offset: offset) }
    }

    public func categoryNames(_ filter: NameFilter, limit: Int, offset: Int) async throws -> [String] {
        try StoreValidation.listing(filter, limit: limit, offset: offset)
        let operations = self.operations
        return try await read { try await operations.categoryNames($0, filter, limit: limit, offset: offset) }
    }

    @discardableResult
    public func transaction<T: Sendable>(_ body: @Sendable (any EventStore) async throws -> T) async throws -> T {
        if transaction != nil {
            throw EventStoreError(code: .nestedTransaction, reason: "a transaction cannot be started inside another one")
        }
        try TransactionScope.checkCanBegin()
        let deadline = self.deadline
        let logger = self.logger
        // The connection is held for the whole closure, which runs in this task; each statement on it
        // (BEGIN, the closure's calls, COMMIT) is bound by the query deadline on its own.
        let result: T
        do {
            result = try await deadline.withHeldConnection(of: client) { connection in
                try await deadline.run(on: connection, .read) { try await $0.query("BEGIN", logger: logger) }
                let result: T
                do {
                    let store = PostgresEventStore(transactionOf: self, connection: connection)
                    defer { store.transaction?.close() }
                    result = try await TransactionScope.run(in: ObjectIdentifier(self.client)) { try await body(store) }
                } catch {
                    _ = try? await deadline.run(on: connection, .read) { try await $0.query("ROLLBACK", logger: logger) }
                    throw error
                }
                try await deadline.run(on: connection, .write) { try await $0.query("COMMIT", logger: logger) }
                return result
            }
        } catch where PostgresFailure.isDriverError(error) {
            throw EventStoreError.backend("PostgreSQL failed", underlying: PostgresFailure(error))
        }
        appendNotifier.signal()
        return result
    }

    // MARK: Connections

    /// Runs `body` on a connection of the store's pool: for read models and other tables kept in the same
    /// database. Inside a transaction's store, the transaction's connection. `body` is bound by
    /// ``PostgresConfiguration/queryTimeout`` as the store's own calls are: past it the connection is closed
    /// and the call fails with `backend`.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T)
        async throws -> T
    {
        try await read(body)
    }

    // MARK: Projections

    public func projectionRecord(named name: String) async throws -> ProjectionRecord? {
        let operations = self.operations
        return try await read { try await operations.projectionRecord($0, named: name) }
    }

    public func projectionNames(_ filter: NameFilter, limit: Int, offset: Int) async throws -> [String] {
        try StoreValidation.listing(filter, limit: limit, offset: offset)
        let operations = self.operations
        return try await read { try await operations.projectionNames($0, filter, limit: limit, offset: offset) }
    }

    public func changeProjection<Result: Sendable>(
        named name: String, _ change: @escaping @Sendable (inout ProjectionRecord?) throws -> ProjectionChange<Result>
    ) async throws -> Result {
        let operations = self.operations
        return try await ProjectionSQL.retryingRaces {
            try await write { try await operations.changeProjection($0, named: name, change) }
        }
    }

    // MARK: Snapshots

    public func snapshot(ofType aggregateType: String, id aggregateID: String) async throws -> Snapshot? {
        let operations = self.operations
        return try await read { try await operations.snapshot($0, type: aggregateType, id: aggregateID) }
    }

    public func save(_ snapshots: [Snapshot]) async throws {
        let operations = self.operations
        try await write { try await operations.save($0, snapshots) }
    }

    public func removeAll(ofType aggregateType: String) async throws {
        let operations = self.operations
        try await write { try await operations.removeSnapshots($0, type: aggregateType) }
    }

    // MARK: Global order

    /// How long a live reader waits for a `NOTIFY` before it reads anyway (poolers may drop notifications). 1 s.
    public var pollInterval: Duration { .seconds(1) }

    /// Events of `target` after `position`, in global order, at most `limit` of them. Never passes over an
    /// event that commits late (see the type's discussion); a long-running transaction anywhere in the
    /// database delays, but never loses, what readers see.
    public func readAll(after position: GlobalPosition, of target: SubscriptionTarget = .all, limit: Int) async throws
        -> [RecordedEvent]
    {
        if limit < 1 { throw EventStoreError.invalidArgument("limit must be 1 or more, not \(limit)") }
        let operations = self.operations
        return try await read { try await operations.readAll($0, after: position, of: target, limit: limit) }
    }

    public func headPosition() async throws -> GlobalPosition {
        let operations = self.operations
        return try await read { try await operations.headPosition($0) }
    }

    public func readableHead() async throws -> GlobalPosition {
        let operations = self.operations
        return try await read { try await operations.readableHead($0) }
    }

    public func checkpoint(named name: String) async throws -> GlobalPosition? {
        let operations = self.operations
        return try await read { try await operations.checkpoint($0, named: name) }
    }

    public func saveCheckpoint(_ position: GlobalPosition, named name: String) async throws {
        let operations = self.operations
        try await write { try await operations.saveCheckpoint($0, position, named: name) }
    }

    /// Wake-ups after appends commit: the last global position of each append, as other connections
    /// (and processes) commit them, through `LISTEN`/`NOTIFY`. Ends when the task is cancelled or the
    /// connection fails; a consumer should treat a wake-up as "read from where you are", since
    /// notifications can be coalesced or lost with a connection. The first element, ``GlobalPosition/start``,
    /// says that the listener is in place: appends committed after it are signalled.
    public func notifications() -> AsyncThrowingStream<GlobalPosition, any Error> {
        let channel = operations.tables.channel
        let client = self.client
        let deadline = self.deadline
        let logger = self.logger
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    try await deadline.withConnection(of: client, .read, timed: false) { connection in
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            group.addTask {
                                try await connection.listen(on: channel) { notifications in
                                    continuation.yield(GlobalPosition.start)
                                    for try await notification in notifications {
                                        if let position = GlobalPosition(notification.payload) {
                                            continuation.yield(position)
                                        }
                                    }
                                }
                            }
                            group.addTask {
                                // A connection that only listens hears nothing when its server stops answering:
                                // ask it something now and then, under the query deadline. When that fails (or
                                // the listener is cancelled) the connection is closed, which ends the listen.
                                do {
                                    while true {
                                        try await Task.sleep(for: Self.listenerCheckInterval)
                                        try await deadline.run(on: connection, .read) { try await $0.query("SELECT 1", logger: logger) }
                                    }
                                } catch {
                                    // Ends the sequence now: the listen itself may never return on a
                                    // connection that closed under it.
                                    continuation.finish(throwing: error)
                                    connection.close().whenComplete { _ in }
                                    throw error
                                }
                            }
                            try await group.next()
                            group.cancelAll()
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// How often the listening connection is asked whether its server still answers: 5 seconds.
    static let listenerCheckInterval: Duration = .seconds(5)
}

/// A PostgreSQL or driver error, with the SQLSTATE and the server's message when there are.
public struct PostgresFailure: Error, Sendable, CustomStringConvertible {
    public let sqlState: String?
    public let message: String
    init(_ error: any Error) {
        if let error = error as? PSQLError {
            sqlState = error.sqlState
            message = error.serverInfo?[.message] ?? "\(error.code)"
        } else {
            sqlState = nil
            message = String(describing: error)
        }
    }

    public var description: String { sqlState.map { "\($0): \(message)" } ?? message }

    /// Errors of the server, the driver or the network, as opposed to those of the caller's own code.
    static func isDriverError(_ error: any Error) -> Bool {
        error is PSQLError || error is PostgresDecodingError || error is ChannelError || error is IOError
            || error is PostgresError
    }
}
