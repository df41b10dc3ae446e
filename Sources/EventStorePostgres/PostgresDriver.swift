@_spi(Backend) import EventStore
import EventStoreSQL
import PostgresNIO

/// PostgreSQL under ``PostgresEventStore``: PostgresNIO's pool, every call under the deadlines of
/// ``PostgresCallDeadline``; a store transaction holds one connection.
final class PostgresDriver: SQLDriver {
    /// The server, or the nodes of a cluster and which of them is the primary.
    let nodes: PostgresNodes
    let deadline: PostgresCallDeadline
    let operations: PostgresOperations
    let logger: Logger
    let readBatchSize: Int
    /// The hot reads through libpq, when it is installed and not turned off.
    let reader: LibPQReader?
    /// Signalled after commits, this process's and (through `LISTEN`) every other's.
    let appendNotifier = AppendNotifier()

    /// A store transaction's connection.
    struct Transaction: Sendable {
        let connection: PostgresConnection
    }

    /// What a load's pages share.
    struct PageQuery: Sendable {
        let streamID: Int64
        let direction: RecordedEventSequence.Direction
        let matching: MetadataMatcher?
    }

    init(configuration: PostgresConfiguration, logger: Logger) throws {
        self.logger = logger
        self.operations = PostgresOperations(
            tables: try PostgresTables(schema: configuration.schema, prefix: configuration.tablePrefix), logger: logger)
        self.nodes = try PostgresNodes(configuration: configuration, logger: logger)
        self.deadline = PostgresCallDeadline(connectTimeout: configuration.connectTimeout, queryTimeout: configuration.queryTimeout)
        self.readBatchSize = configuration.readBatchSize
        self.reader = LibPQReader.make(configuration, logger: logger)
    }

    /// How long a live reader waits for a `NOTIFY` before it reads anyway (poolers may drop notifications). 1 s.
    var pollInterval: Duration { .seconds(1) }

    /// PostgresNIO's pool stops when ``PostgresEventStore/run()`` ends; the reader's connections close here.
    func close() async { await reader?.close() }

    func migrate() async throws -> Int {
        let operations = self.operations
        let logger = self.logger
        return try await onConnection(.write, timed: false) { connection in
            try await Self.inTransaction(connection, logger) { try await operations.migrate($0) }
        }
    }

    // MARK: Running calls

    /// Runs `body` on a pooled connection, under the connect timeout and (when `timed`) the query deadline.
    private func onConnection<T: Sendable>(
        _ kind: PostgresCallDeadline.Kind, timed: Bool = true, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await onPrimary { try await deadline.withConnection(of: $0, kind, timed: timed, body) }
    }

    /// Runs `body` with the primary's pool, reporting driver errors as `backend`; a `backend` failure makes
    /// the next call look for the primary again (``PostgresNodes``).
    func onPrimary<T>(_ body: (PostgresClient) async throws -> T) async throws -> T {
        try await Self.reportingDriverErrors {
            let client = try await nodes.primary()
            do {
                return try await Self.reportingDriverErrors { try await body(client) }
            } catch let error as EventStoreError where error.code == .backend {
                nodes.callFailed(on: client)
                throw error
            }
        }
    }

    /// Errors of the server, the driver or the network as `backend` errors of the store; a regular
    /// expression PostgreSQL cannot run (valid ICU syntax it does not have) as `invalidArgument`.
    private static func reportingDriverErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PSQLError where error.sqlState == "2201B" {
            throw EventStoreError.invalidArgument(
                "PostgreSQL cannot run this regular expression (\(error.serverInfo?[.message] ?? "invalid")): use the syntax every backend shares")
        } catch where PostgresFailure.isDriverError(error) {
            throw EventStoreError.backend("PostgreSQL failed", underlying: PostgresFailure(error))
        }
    }

    /// libpq's errors as ``reportingDriverErrors(_:)`` reports PostgresNIO's.
    private static func reportingLibPQErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as LibPQError where error.sqlState == "2201B" {
            throw EventStoreError.invalidArgument(
                "PostgreSQL cannot run this regular expression (\(error.message)): use the syntax every backend shares")
        } catch let error as LibPQError {
            throw EventStoreError.backend("PostgreSQL failed", underlying: error)
        }
    }

    /// Runs `body` on a transaction's connection under the query deadline.
    private func onTransaction<T: Sendable>(
        _ transaction: Transaction, _ kind: PostgresCallDeadline.Kind,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await Self.reportingDriverErrors { try await deadline.run(on: transaction.connection, kind, body) }
    }

    private static func inTransaction<T>(_ c: PostgresConnection, _ logger: Logger, _ body: (PostgresConnection) async throws -> T)
        async throws -> T
    {
        try await bracketed(c, logger, begin: "BEGIN", end: "COMMIT", undo: ["ROLLBACK"], body)
    }

    /// Runs `body` between the statements `begin` and `end` (a transaction or a savepoint); when it throws,
    /// runs `undo` (failures ignored) and rethrows.
    private static func bracketed<T>(
        _ c: PostgresConnection, _ logger: Logger, begin: String, end: String, undo: [String],
        _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await c.query(PostgresQuery(unsafeSQL: begin), logger: logger)
        do {
            let result = try await body(c)
            try await c.query(PostgresQuery(unsafeSQL: end), logger: logger)
            return result
        } catch {
            for statement in undo { _ = try? await c.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
            throw error
        }
    }

    private func held(_ handle: SQLTransactionHandle?) throws -> Transaction? {
        try handle.map { try driverValue($0, as: Transaction.self) }
    }

    /// A write: its own transaction at the top level, a savepoint inside a transaction.
    func write<T: Sendable>(_ handle: SQLTransactionHandle?, _ body: @escaping @Sendable (PostgresConnection) async throws -> T)
        async throws -> T
    {
        let logger = self.logger
        if let transaction = try held(handle) {
            return try await onTransaction(transaction, .write) { c in
                try await Self.bracketed(
                    c, logger, begin: "SAVEPOINT es_operation", end: "RELEASE SAVEPOINT es_operation",
                    undo: ["ROLLBACK TO SAVEPOINT es_operation", "RELEASE SAVEPOINT es_operation"], body)
            }
        }
        // A write whose caller is cancelled once it runs has a grace to finish and report its real outcome;
        // past it its connection is closed (never given back inside a transaction) and the outcome is
        // unknown (PostgresCallDeadline).
        return try await onConnection(.write) { c in try await Self.inTransaction(c, logger, body) }
    }

    /// A write that `body` makes in one statement: at the top level it runs outside a transaction block, so
    /// the server commits it as the statement ends, in the statement's round trip (a COMMIT past the query
    /// deadline is outcome unknown, as for every write); in a store transaction, in a savepoint as any
    /// write.
    /// - Important: `body` runs exactly one statement: a second would commit on its own.
    private func writeInOneStatement<T: Sendable>(
        _ handle: SQLTransactionHandle?, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        if handle != nil { return try await write(handle, body) }
        return try await onConnection(.write, body)
    }

    /// A read: any pooled connection at the top level, the transaction's connection inside one.
    func read<T: Sendable>(_ handle: SQLTransactionHandle?, _ body: @escaping @Sendable (PostgresConnection) async throws -> T)
        async throws -> T
    {
        if let transaction = try held(handle) {
            // In a savepoint: a read that fails (a regular expression PostgreSQL refuses) would otherwise
            // abort the whole transaction, and its later writes fail with 25P02.
            let logger = self.logger
            return try await onTransaction(transaction, .read) { c in
                try await Self.bracketed(
                    c, logger, begin: "SAVEPOINT es_read", end: "RELEASE SAVEPOINT es_read",
                    undo: ["ROLLBACK TO SAVEPOINT es_read", "RELEASE SAVEPOINT es_read"], body)
            }
        }
        return try await onConnection(.read, body)
    }

    func withTransaction<T: Sendable>(_ body: (SQLTransactionHandle) async throws -> T) async throws -> T {
        let deadline = self.deadline
        let logger = self.logger
        // The connection is held for the whole closure, which runs in this task; each statement on it
        // (BEGIN, the closure's calls, COMMIT) is bound by the query deadline on its own.
        return try await onPrimary { client in
            try await deadline.withHeldConnection(of: client) { connection in
                try await deadline.run(on: connection, .read) { try await $0.query("BEGIN", logger: logger) }
                let result: T
                do {
                    result = try await body(Transaction(connection: connection))
                } catch {
                    _ = try? await deadline.run(on: connection, .read) { try await $0.query("ROLLBACK", logger: logger) }
                    throw error
                }
                // A COMMIT whose caller is cancelled meanwhile has the write's grace to finish: a cancelled
                // COMMIT that closed the connection at once reported a failure for a transaction that may
                // have committed, which a caller then retried (review A7). Past the grace it reports that
                // the outcome is unknown.
                try await deadline.run(on: connection, .write) { try await $0.query("COMMIT", logger: logger) }
                return result
            }
        }
    }

    // MARK: Streams

    func create(_ transaction: SQLTransactionHandle?, _ stream: StreamName, metadata: Metadata, events: [EventMessage])
        async throws -> AppendResult
    {
        let operations = self.operations
        return try await writeInOneStatement(transaction) {
            try await operations.create($0, stream, metadata: metadata, events: events)
        }
    }

    func append(
        _ transaction: SQLTransactionHandle?, _ events: [EventMessage], to stream: StreamName, expectedVersion: ExpectedVersion
    ) async throws -> AppendResult {
        let operations = self.operations
        return try await writeInOneStatement(transaction) {
            try await operations.append($0, events, to: stream, expectedVersion: expectedVersion)
        }
    }

    func delete(_ transaction: SQLTransactionHandle?, _ stream: StreamName) async throws {
        let operations = self.operations
        try await write(transaction) { try await operations.delete($0, stream) }
    }

    func updateMetadata(_ transaction: SQLTransactionHandle?, _ metadata: Metadata, of stream: StreamName) async throws {
        let operations = self.operations
        try await write(transaction) { try await operations.updateMetadata($0, metadata, of: stream) }
    }

    func streamID(_ transaction: SQLTransactionHandle?, _ stream: StreamName) async throws -> Int64? {
        let operations = self.operations
        return try await read(transaction) { try await operations.stream($0, stream) }
    }

    func metadata(_ transaction: SQLTransactionHandle?, of stream: StreamName) async throws -> Metadata {
        let operations = self.operations
        return try await read(transaction) { try await operations.metadata($0, of: stream) }
    }

    func pageQuery(streamID: Int64, direction: RecordedEventSequence.Direction, matching: MetadataMatcher?) -> SQLPageQuery {
        PageQuery(streamID: streamID, direction: direction, matching: matching)
    }

    func page(_ transaction: SQLTransactionHandle?, _ query: SQLPageQuery, stream: StreamName, bound: Int, limit: Int)
        async throws -> [RecordedEvent]
    {
        let operations = self.operations
        let query = try driverValue(query, as: PageQuery.self)
        if transaction == nil, let reader {
            let sql = operations.pageQuery(
                streamID: query.streamID, direction: query.direction, matching: query.matching, bound: bound, limit: limit,
                columns: PostgresOperations.libpqColumns)
            if sql.passesThroughLibpq {
                return try await Self.reportingLibPQErrors { try await reader.read { try operations.page($0, sql, stream: stream) } }
            }
        }
        return try await read(transaction) {
            try await operations.page(
                $0, streamID: query.streamID, stream: stream, direction: query.direction, matching: query.matching, bound: bound,
                limit: limit)
        }
    }

    func streamNames(
        _ transaction: SQLTransactionHandle?, _ filter: NameFilter, matching: MetadataMatcher?, limit: Int, offset: Int
    ) async throws -> [StreamName] {
        let operations = self.operations
        return try await read(transaction) {
            try await operations.streamNames($0, filter, matching: matching, limit: limit, offset: offset)
        }
    }

    func categoryNames(_ transaction: SQLTransactionHandle?, _ filter: NameFilter, limit: Int, offset: Int) async throws
        -> [String]
    {
        let operations = self.operations
        return try await read(transaction) { try await operations.categoryNames($0, filter, limit: limit, offset: offset) }
    }

    // MARK: Global order

    func readAll(_ transaction: SQLTransactionHandle?, after position: GlobalPosition, of target: SubscriptionTarget, limit: Int)
        async throws -> (events: [RecordedEvent], readable: GlobalPosition?)
    {
        let operations = self.operations
        if transaction == nil, let reader {
            let sql = operations.readAllQuery(after: position, of: target, limit: limit, columns: PostgresOperations.libpqColumns)
            if sql.passesThroughLibpq {
                return try await Self.reportingLibPQErrors { try await reader.read { try operations.readAll($0, sql) } }
            }
        }
        return try await read(transaction) { try await operations.readAll($0, after: position, of: target, limit: limit) }
    }

    func eventCount(_ transaction: SQLTransactionHandle?, after position: GlobalPosition, of target: SubscriptionTarget, limit: Int)
        async throws -> Int
    {
        let operations = self.operations
        return try await read(transaction) { try await operations.eventCount($0, after: position, of: target, limit: limit) }
    }

    func headPosition(_ transaction: SQLTransactionHandle?) async throws -> GlobalPosition {
        let operations = self.operations
        return try await read(transaction) { try await operations.headPosition($0) }
    }

    func highestPosition(_ transaction: SQLTransactionHandle?) async throws -> GlobalPosition {
        let operations = self.operations
        return try await read(transaction) { try await operations.highestPosition($0) }
    }

    func readableHead(_ transaction: SQLTransactionHandle?) async throws -> GlobalPosition {
        let operations = self.operations
        return try await read(transaction) { try await operations.readableHead($0) }
    }

    func globalOrderBlockers(_ transaction: SQLTransactionHandle?) async throws -> [GlobalOrderBlocker] {
        let operations = self.operations
        return try await read(transaction) { try await operations.globalOrderBlockers($0) }
    }

    func checkpoint(_ transaction: SQLTransactionHandle?, named name: String) async throws -> GlobalPosition? {
        let operations = self.operations
        return try await read(transaction) { try await operations.checkpoint($0, named: name) }
    }

    func saveCheckpoint(_ transaction: SQLTransactionHandle?, _ position: GlobalPosition, named name: String) async throws {
        let operations = self.operations
        try await write(transaction) { try await operations.saveCheckpoint($0, position, named: name) }
    }

    // MARK: Projections and snapshots

    func projectionRecord(_ transaction: SQLTransactionHandle?, named name: String) async throws -> ProjectionRecord? {
        let operations = self.operations
        return try await read(transaction) { try await operations.projectionRecord($0, named: name) }
    }

    func projectionNames(_ transaction: SQLTransactionHandle?, _ filter: NameFilter, limit: Int, offset: Int) async throws
        -> [String]
    {
        let operations = self.operations
        return try await read(transaction) { try await operations.projectionNames($0, filter, limit: limit, offset: offset) }
    }

    func changeProjection<Result: Sendable>(
        _ transaction: SQLTransactionHandle?, named name: String,
        _ change: @escaping @Sendable (inout ProjectionRecord?) throws -> ProjectionChange<Result>
    ) async throws -> Result {
        let operations = self.operations
        return try await write(transaction) { try await operations.changeProjection($0, named: name, change) }
    }

    func snapshot(_ transaction: SQLTransactionHandle?, type: String, id: String) async throws -> Snapshot? {
        let operations = self.operations
        return try await read(transaction) { try await operations.snapshot($0, type: type, id: id) }
    }

    func save(_ transaction: SQLTransactionHandle?, _ snapshots: [Snapshot]) async throws {
        let operations = self.operations
        try await write(transaction) { try await operations.save($0, snapshots) }
    }

    func removeSnapshots(_ transaction: SQLTransactionHandle?, type: String) async throws {
        let operations = self.operations
        try await write(transaction) { try await operations.removeSnapshots($0, type: type) }
    }

    // MARK: Verification

    func orphanEventCount(_ transaction: SQLTransactionHandle?) async throws -> Int {
        let operations = self.operations
        let query = SQLIntegrityQueries.orphanEvents(events: operations.tables.events, streams: operations.tables.streams)
        return try await read(transaction) { c in
            for try await count in try await operations.run(c, query).decode(Int64.self) { return Int(count) }
            return 0
        }
    }

    func streamsWithWrongVersions(_ transaction: SQLTransactionHandle?) async throws -> [String] {
        let operations = self.operations
        let query = SQLIntegrityQueries.streamsWithWrongVersions(events: operations.tables.events, streams: operations.tables.streams)
        return try await read(transaction) { c in
            var names: [String] = []
            for try await name in try await operations.run(c, query).decode(String.self) { names.append(name) }
            return names
        }
    }
}
