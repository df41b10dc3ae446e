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
    /// Reads from standbys, when configured and there are several hosts.
    let standbys: PostgresStandbys?
    /// The libpq readers of the standbys, by host index, when the store reads from standbys through libpq.
    let standbyReaders: [Int: LibPQReader]
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
        let retention: LoadRetention
    }

    init(configuration: PostgresConfiguration, logger: Logger) throws {
        self.logger = logger
        self.operations = PostgresOperations(
            tables: try PostgresTables(schema: configuration.schema, prefix: configuration.tablePrefix), logger: logger,
            migrationTimeout: configuration.migrationTimeout)
        self.nodes = try PostgresNodes(configuration: configuration, logger: logger)
        self.deadline = PostgresCallDeadline(connectTimeout: configuration.connectTimeout, queryTimeout: configuration.queryTimeout)
        self.readBatchSize = configuration.readBatchSize
        self.reader = LibPQReader.make(configuration, logger: logger)
        if configuration.readsFromStandbys, configuration.hosts.count > 1 {
            standbys = PostgresStandbys(nodes: nodes, configuration: configuration, deadline: deadline, logger: logger)
            var readers: [Int: LibPQReader] = [:]
            if reader != nil {
                for (index, host) in configuration.hosts.enumerated() {
                    var one = configuration
                    one.hosts = [host]
                    readers[index] = LibPQReader.make(one, logger: logger)
                }
            }
            standbyReaders = readers
        } else {
            standbys = nil
            standbyReaders = [:]
        }
    }

    /// How long a live reader waits for a `NOTIFY` before it reads anyway (poolers may drop notifications). 1 s;
    /// 200 ms when reading from standbys, where the primary's `NOTIFY` often comes before the standby has
    /// replayed the commit.
    var pollInterval: Duration { standbys == nil ? .seconds(1) : .milliseconds(200) }

    /// PostgresNIO's pool stops when ``PostgresEventStore/run()`` ends; the reader's connections close here.
    func close() async {
        await reader?.close()
        for reader in standbyReaders.values { await reader.close() }
    }

    func migrate() async throws -> Int {
        let operations = self.operations
        let logger = self.logger
        return try await onConnection(.write, timed: false) { connection in
            try await Self.inTransaction(connection, logger) { try await operations.migrate($0) }
        }
    }

    // MARK: Running calls

    /// Runs `body` on a pooled connection, under the connect timeout and (when `timed`) the query deadline.
    /// A write notes the WAL position after it (``notingWrite(_:)``) unless `noting` is false (the write notes
    /// it itself).
    private func onConnection<T: Sendable>(
        _ kind: PostgresCallDeadline.Kind, timed: Bool = true, noting: Bool = true,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let body = kind == .write && noting ? notingWrite(body) : body
        return try await onPrimary { try await deadline.withConnection(of: $0, kind, timed: timed, body) }
    }

    /// Runs `body` with the primary's pool, reporting driver errors as `backend`; a `backend` failure makes
    /// the next call look for the primary again (``PostgresNodes``).
    func onPrimary<T>(_ body: (PostgresClient) async throws -> T) async throws -> T {
        try await Self.reportingDriverErrors { try await nodes.onPrimaryClient(body) }
    }

    /// Runs a read on a standby when the store reads from standbys and one serves (``PostgresStandbys``), else
    /// on the primary. A standby query cancelled by a recovery conflict is run again, up to three times, and
    /// then on the primary: a conflict says the standby replays the primary's locks, not that it fails, so it
    /// keeps serving the next reads. A standby that fails otherwise is passed over and the read goes to the
    /// primary.
    /// - Parameters:
    ///   - onStandby: the read on the standby of that index (driver errors reported as `backend`).
    ///   - onPrimary: the read on the primary.
    private func readOnStandby<T>(
        _ onStandby: (Int) async throws -> T, else onPrimary: () async throws -> T
    ) async throws -> T {
        guard let standbys, let index = await standbys.standbyForRead() else { return try await onPrimary() }
        var conflicts = 0
        while true {
            do {
                return try await onStandby(index)
            } catch let error as EventStoreError where error.code == .backend {
                if Self.isRecoveryConflict(error) {
                    conflicts += 1
                    if conflicts <= 3 { continue }
                    return try await onPrimary()
                }
                standbys.readFailed(on: index, error)
                return try await onPrimary()
            }
        }
    }

    /// A recovery conflict on a standby: SQLSTATE 40001, "canceling statement due to conflict with recovery";
    /// or the connection the server closed, as it does ("terminating connection due to conflict with
    /// recovery", also 40001) when the conflict finds the session between two statements, where the client
    /// sees only the closed connection at its next query. A standby that is shut down closes its connections
    /// too; the read run again then fails to connect, and passes the standby over.
    private static func isRecoveryConflict(_ error: EventStoreError) -> Bool {
        switch error.underlying {
        case let failure as PostgresFailure:
            failure.sqlState == "40001" || (failure.sqlState == nil && failure.message == "\(PSQLError.Code.serverClosedConnection)")
        case let failure as LibPQError:
            failure.sqlState == "40001" || (failure.sqlState == nil && failure.message.contains("server closed the connection"))
        default: false
        }
    }

    /// A top-level read that may go to a standby (PostgresNIO).
    private func standbyRead<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await readOnStandby { index in
            try await Self.reportingDriverErrors { try await deadline.withConnection(of: nodes.client(index), .read, body) }
        } else: {
            try await onConnection(.read, body)
        }
    }

    /// After a write (or a write refused by the server's rules) while reading from standbys: notes the
    /// primary's WAL insert position, which this store's later standby reads wait for.
    private func noteWrite(on connection: PostgresConnection) async {
        guard standbys != nil else { return }
        do {
            try await askAfterWrite(on: connection)
        } catch {
            standbys?.writeNotNoted()
            logger.debug("[EventStore] the WAL position after a write could not be read: \(error)")
        }
    }

    /// One statement after a write on its connection: the primary's WAL insert position when the store reads
    /// from standbys (noted for them), else `SELECT 1`.
    private func askAfterWrite(on connection: PostgresConnection) async throws {
        let query: PostgresQuery = standbys == nil ? "SELECT 1" : PostgresStandbys.insertPosition
        for try await position in try await connection.query(query, logger: logger).decode(Int64.self) {
            standbys?.raiseFloor(to: UInt64(max(0, position)))
        }
    }

    /// `body`, then ``noteWrite(on:)`` when it succeeded or the server refused the write by the store's rules.
    private func notingWrite<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T)
        -> @Sendable (PostgresConnection) async throws -> T
    {
        guard standbys != nil else { return body }
        return { [self] connection in
            do {
                let result = try await body(connection)
                await noteWrite(on: connection)
                return result
            } catch let error as EventStoreError where error.code != .backend {
                await noteWrite(on: connection)
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
    ///
    /// PostgresNIO ends a statement's rows at its CommandComplete, but in the extended protocol the server
    /// commits a statement outside a transaction block only afterwards, at the Sync that follows, and says
    /// so with ReadyForQuery. A commit that fails there (a backend terminated by a shutdown or a switchover
    /// before it commits, a deferred constraint, a failed wait for a synchronous standby) arrived after rows
    /// the store had taken as success: an append was acknowledged that no server kept. So the write is
    /// acknowledged only once a second statement on the same connection has been answered, which the server
    /// runs after that ReadyForQuery; when the connection fails first, the outcome is unknown. That statement
    /// also notes the WAL position for standby reads (``askAfterWrite(on:)``).
    private func writeInOneStatement<T: Sendable>(
        _ handle: SQLTransactionHandle?, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        if handle != nil { return try await write(handle, body) }
        return try await onConnection(.write, noting: false) { [self] connection in
            let result: T
            do {
                result = try await body(connection)
            } catch let error as EventStoreError where error.code != .backend {
                await noteWrite(on: connection)
                throw error
            }
            do {
                try await askAfterWrite(on: connection)
            } catch {
                standbys?.writeNotNoted()
                throw EventStoreError.backend(
                    "PostgreSQL did not confirm the commit of a write (\(PostgresFailure(error))): it may or may not have committed (outcome unknown: read before retrying)",
                    underlying: PostgresFailure(error))
            }
            return result
        }
    }

    /// A read: any pooled connection at the top level, the transaction's connection inside one.
    func read<T: Sendable>(
        _ handle: SQLTransactionHandle?, onStandby: Bool = false, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
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
        if onStandby { return try await standbyRead(body) }
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
                await noteWrite(on: connection)
                return result
            }
        }
    }

    // MARK: Streams

    func create(_ transaction: SQLTransactionHandle?, _ stream: StreamName, metadata: Metadata, events: [EventMessage])
        async throws -> AppendResult
    {
        let operations = self.operations
        if (try? StreamRetention(metadata))?.isEmpty == false {
            // The append function writes the metadata, not retention's columns: both in one transaction.
            let columns = RetentionSQL.setColumns(operations.tables.streams, stream, from: metadata)
            return try await write(transaction) { c in
                let result = try await operations.create(c, stream, metadata: metadata, events: events)
                _ = try await operations.run(c, columns)
                return result
            }
        }
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

    func delete(_ transaction: SQLTransactionHandle?, _ stream: StreamName, mode: DeleteMode) async throws {
        let operations = self.operations
        try await write(transaction) { try await operations.delete($0, stream, mode: mode) }
    }

    func isTombstone(_ transaction: SQLTransactionHandle?, _ stream: StreamName) async throws -> Bool {
        let operations = self.operations
        return try await read(transaction, onStandby: true) { try await operations.isTombstone($0, stream) }
    }

    func updateMetadata(_ transaction: SQLTransactionHandle?, _ metadata: Metadata, of stream: StreamName) async throws {
        let operations = self.operations
        try await write(transaction) { try await operations.updateMetadata($0, metadata, of: stream) }
    }

    func streamID(_ transaction: SQLTransactionHandle?, _ stream: StreamName) async throws -> Int64? {
        let operations = self.operations
        return try await read(transaction, onStandby: true) { try await operations.stream($0, stream) }
    }

    func metadata(_ transaction: SQLTransactionHandle?, of stream: StreamName) async throws -> Metadata {
        let operations = self.operations
        return try await read(transaction, onStandby: true) { try await operations.metadata($0, of: stream) }
    }

    func loadTarget(_ transaction: SQLTransactionHandle?, _ stream: StreamName) async throws -> (id: Int64, retention: LoadRetention)? {
        let operations = self.operations
        return try await read(transaction, onStandby: true) { try await operations.loadTarget($0, stream) }
    }

    func pageQuery(streamID: Int64, direction: RecordedEventSequence.Direction, matching: MetadataMatcher?, retention: LoadRetention)
        -> SQLPageQuery
    {
        PageQuery(streamID: streamID, direction: direction, matching: matching, retention: retention)
    }

    func page(_ transaction: SQLTransactionHandle?, _ query: SQLPageQuery, stream: StreamName, bound: Int, limit: Int)
        async throws -> [RecordedEvent]
    {
        let operations = self.operations
        let query = try driverValue(query, as: PageQuery.self)
        let sql = operations.pageQuery(
            streamID: query.streamID, direction: query.direction, matching: query.matching, retention: query.retention, bound: bound,
            limit: limit, columns: PostgresOperations.libpqColumns)
        return try await hotRead(
            transaction, sql, { try operations.page($0, sql, stream: stream) },
            {
                try await operations.page(
                    $0, streamID: query.streamID, stream: stream, direction: query.direction, matching: query.matching,
                    retention: query.retention, bound: bound, limit: limit)
            })
    }

    /// A page of a load or of the global order: in a transaction on its connection; else through libpq when
    /// it is installed and the query can pass through it, and on a standby when the store reads from them
    /// (``readOnStandby(_:else:)``), where `checked` must accept what was read before it is returned.
    private func hotRead<T: Sendable>(
        _ transaction: SQLTransactionHandle?, _ sql: SQLQuery, _ viaLibpq: @escaping @Sendable (LibPQConnection) throws -> T,
        _ viaNIO: @escaping @Sendable (PostgresConnection) async throws -> T, checked: (@Sendable (T) async throws -> Void)? = nil
    ) async throws -> T {
        guard transaction == nil else { return try await read(transaction, viaNIO) }
        let libpq = reader != nil && sql.passesThroughLibpq
        return try await readOnStandby { index in
            let result: T
            if libpq, let standbyReader = standbyReaders[index] {
                result = try await Self.reportingLibPQErrors { try await standbyReader.read(viaLibpq) }
            } else {
                result = try await Self.reportingDriverErrors { try await deadline.withConnection(of: nodes.client(index), .read, viaNIO) }
            }
            if let checked { try await Self.reportingDriverErrors { try await checked(result) } }
            return result
        } else: {
            if libpq, let reader { return try await Self.reportingLibPQErrors { try await reader.read(viaLibpq) } }
            return try await onConnection(.read, viaNIO)
        }
    }

    func streamNames(
        _ transaction: SQLTransactionHandle?, _ filter: NameFilter, matching: MetadataMatcher?, limit: Int, offset: Int
    ) async throws -> [StreamName] {
        let operations = self.operations
        return try await read(transaction, onStandby: true) {
            try await operations.streamNames($0, filter, matching: matching, limit: limit, offset: offset)
        }
    }

    func categoryNames(_ transaction: SQLTransactionHandle?, _ filter: NameFilter, limit: Int, offset: Int) async throws
        -> [String]
    {
        let operations = self.operations
        return try await read(transaction, onStandby: true) { try await operations.categoryNames($0, filter, limit: limit, offset: offset) }
    }

    // MARK: Global order

    func readAll(_ transaction: SQLTransactionHandle?, after position: GlobalPosition, of target: SubscriptionTarget, limit: Int)
        async throws -> (events: [RecordedEvent], readable: GlobalPosition?)
    {
        let operations = self.operations
        let sql = operations.readAllQuery(after: position, of: target, limit: limit, columns: PostgresOperations.libpqColumns)
        let standbys = self.standbys
        let page = try await hotRead(
            transaction, sql, { try operations.readAll($0, sql) },
            { try await operations.readAll($0, after: position, of: target, limit: limit) },
            checked: { page in
                // Read on a standby: handed over only once every synchronous standby has what it replayed.
                if let replayed = page.replayed, let standbys { try await standbys.waitUntilDurable(UInt64(max(0, replayed))) }
            })
        return (page.events, page.readable)
    }

    func eventCount(_ transaction: SQLTransactionHandle?, after position: GlobalPosition, of target: SubscriptionTarget, limit: Int)
        async throws -> Int
    {
        let operations = self.operations
        return try await read(transaction, onStandby: true) { try await operations.eventCount($0, after: position, of: target, limit: limit) }
    }

    func headPosition(_ transaction: SQLTransactionHandle?) async throws -> GlobalPosition {
        let operations = self.operations
        return try await read(transaction, onStandby: true) { try await operations.headPosition($0) }
    }

    /// On the primary, also when reading from standbys: the check of a reader's position against it must not
    /// meet a standby that is behind the one that gave the reader its position.
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

    func storedPlacement(_ transaction: SQLTransactionHandle?) async throws -> PlacementMap? {
        let operations = self.operations
        return try await read(transaction) { try await operations.storedPlacement($0) }
    }

    func storePlacement(_ transaction: SQLTransactionHandle?, _ map: PlacementMap, as member: String, replacing version: Int64?)
        async throws -> Bool
    {
        let operations = self.operations
        return try await write(transaction) { try await operations.storePlacement($0, map, as: member, replacing: version) }
    }

    func bucketState(_ transaction: SQLTransactionHandle?, _ bucket: Int, mapVersion version: Int64) async throws -> BucketState {
        let operations = self.operations
        return try await read(transaction) { try await operations.bucketState($0, bucket, mapVersion: version) }
    }

    var copyTables: (streams: String, events: String) { (operations.tables.streams, operations.tables.events) }
    var partitionSQL: PartitionSQL { operations.partitionSQL }

    func fencedBuckets(_ transaction: SQLTransactionHandle?) async throws -> [Int] {
        let operations = self.operations
        return try await read(transaction) { c in
            var buckets: [Int] = []
            for try await text in try await operations.run(c, operations.partitionSQL.fenced()).decode(String.self) {
                if let bucket = Int(String(text.filter { $0 != " " })) { buckets.append(bucket) }
            }
            return buckets
        }
    }

    func storedRow(_ transaction: SQLTransactionHandle?, _ stream: StreamName) async throws -> StoredStreamRow? {
        let operations = self.operations
        return try await read(transaction) { try await operations.storedRow($0, stream) }
    }

    func storedStreamNames(_ transaction: SQLTransactionHandle?, after name: String, limit: Int) async throws -> [String] {
        let operations = self.operations
        return try await read(transaction) { try await operations.storedStreamNames($0, after: name, limit: limit) }
    }

    func execute(_ transaction: SQLTransactionHandle?, _ statements: [SQLQuery]) async throws {
        let operations = self.operations
        try await write(transaction) { c in
            for statement in statements { try await operations.execute(c, statement) }
        }
    }

    func consumerGroupRecord(_ transaction: SQLTransactionHandle?, named name: String) async throws -> ConsumerGroupRecord? {
        let operations = self.operations
        return try await read(transaction) { try await operations.consumerGroupText($0, named: name) }.map(ConsumerGroupSQL.record)
    }

    func consumerGroupNames(_ transaction: SQLTransactionHandle?, limit: Int, offset: Int) async throws -> [String] {
        let operations = self.operations
        return try await read(transaction) { try await operations.consumerGroupNames($0, limit: limit, offset: offset) }
    }

    func changeConsumerGroup<Result: Sendable>(
        _ transaction: SQLTransactionHandle?, named name: String,
        _ change: @escaping @Sendable (inout ConsumerGroupRecord?, Int64) throws -> Result
    ) async throws -> Result {
        let operations = self.operations
        return try await write(transaction) { try await operations.changeConsumerGroup($0, named: name, change) }
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

    // MARK: Retention

    func streamsWithRetention(_ transaction: SQLTransactionHandle?, after id: Int64, limit: Int) async throws -> [Int64] {
        let operations = self.operations
        let query = RetentionSQL.streamsWithRetention(operations.tables.streams, after: id, limit: limit)
        return try await read(transaction) { c in
            var ids: [Int64] = []
            for try await (id, _) in try await operations.run(c, query).decode((Int64, Int64).self) { ids.append(id) }
            return ids
        }
    }

    func scavengeRange(_ transaction: SQLTransactionHandle?, streamID: Int64) async throws -> Range<Int>? {
        let operations = self.operations
        let tables = operations.tables
        return try await read(transaction) { c in
            var first: Int64?
            for try await position in try await operations.run(c, RetentionSQL.firstPosition(tables.events, streamID: streamID))
                .decode(Int64?.self)
            {
                first = position
            }
            var end: Int64?
            for try await position in try await operations.run(c, RetentionSQL.keptFrom(tables.streams, streamID: streamID)).decode(Int64.self) {
                end = position
            }
            guard let first, let end else { return nil }
            return Int(first)..<Int(max(first, end))
        }
    }

    func scavenge(_ transaction: SQLTransactionHandle?, streamID: Int64, positions: Range<Int>) async throws -> Int {
        let operations = self.operations
        let tables = operations.tables
        let delete = RetentionSQL.delete(
            operations.dialect, events: tables.events, streams: tables.streams, streamID: streamID, from: positions.lowerBound,
            below: positions.upperBound, returning: true)
        return try await write(transaction) { c in
            var removed = 0
            for try await _ in try await operations.run(c, delete) { removed += 1 }
            if removed > 0 { _ = try await operations.run(c, RetentionSQL.countRemoved(tables.streams, streamID: streamID, count: removed)) }
            return removed
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
