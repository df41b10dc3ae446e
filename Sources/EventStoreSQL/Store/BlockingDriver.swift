@_spi(Backend) import EventStore

/// The statements of a backend whose C client blocks (SQLite, libmariadb), each operation one function on
/// one connection, run whole as one job of a ``BlockingWorker``. The caller provides the transaction or
/// savepoint around each write, and has validated the arguments.
package protocol BlockingSQLOperations: Sendable {
    associatedtype Connection
    associatedtype PageQuery: Sendable
    associatedtype Dialect: SQLMatcherDialect

    /// What differs in this backend's SQL.
    var dialect: Dialect { get }

    /// An append's events as this backend's events table takes them (``EventRows``), built before its job.
    func rows(_ events: [EventMessage]) -> EventRows
    func create(_ c: Connection, _ name: StreamName, metadata: Metadata, events: EventRows) throws -> AppendResult
    /// - Parameter commitsItself: whether the append opens and commits its transaction itself (see
    ///   ``BlockingSQLConnections/selfCommittingWrite(_:_:)``); false in a transaction the caller opened.
    func append(
        _ c: Connection, _ events: EventRows, to name: StreamName, expectedVersion: ExpectedVersion, commitsItself: Bool
    ) throws -> AppendResult
    /// The tables every backend has.
    var tableNames: SQLTableNames { get }
    /// Runs a statement that returns no rows.
    func run(_ c: Connection, _ statement: SQLQuery) throws
    /// Runs a query and returns the first column of each row as text.
    func firstColumn(_ c: Connection, _ query: SQLQuery) throws -> [String]
    /// Holds, until commit, the lock the stream's appends take, so that a delete and an append of one stream
    /// run one after the other.
    func lockAppends(_ c: Connection, of name: StreamName) throws
    /// The stream's row (``DeletionSQL/row(_:_:)``), `nil` when there is none.
    func stream(_ c: Connection, _ name: StreamName) throws -> StreamRow?
    /// The stream's row as a copy reads it (``StreamCopySQL/row(_:_:)``), whatever its state.
    func storedRow(_ c: Connection, _ name: StreamName) throws -> StoredStreamRow?
    /// The streams and events tables, as this backend's statements name them.
    var copyTables: (streams: String, events: String) { get }
    /// Every stream row's name after `name` (``StreamCopySQL/names(_:after:limit:)``).
    func storedStreamNames(_ c: Connection, after name: String, limit: Int) throws -> [String]
    /// Inserts a stream's row. - Returns: its id. - Throws: `streamExists`.
    func insertStream(_ c: Connection, _ name: StreamName, metadata: Metadata) throws -> Int64
    func metadata(_ c: Connection, of name: StreamName) throws -> Metadata
    /// A load's stream (``RetentionSQL/loadTarget(_:_:)``).
    func loadTarget(_ c: Connection, _ name: StreamName) throws -> (id: Int64, retention: LoadRetention)?
    func pageQuery(streamID: Int64, direction: RecordedEventSequence.Direction, matching: MetadataMatcher?, retention: LoadRetention)
        -> PageQuery
    func page(_ c: Connection, _ query: PageQuery, stream: StreamName, bound: Int, limit: Int) throws -> [RecordedEvent]
    func streamNames(_ c: Connection, _ filter: NameFilter, matching: MetadataMatcher?, limit: Int, offset: Int) throws
        -> [StreamName]
    func categoryNames(_ c: Connection, _ filter: NameFilter, limit: Int, offset: Int) throws -> [String]
    func readAll(_ c: Connection, after position: GlobalPosition, of target: SubscriptionTarget, limit: Int) throws
        -> (events: [RecordedEvent], readable: GlobalPosition?)
    func eventCount(_ c: Connection, after position: GlobalPosition, of target: SubscriptionTarget, limit: Int) throws -> Int
    func headPosition(_ c: Connection) throws -> GlobalPosition
    func highestPosition(_ c: Connection) throws -> GlobalPosition
    func checkpoint(_ c: Connection, named name: String) throws -> GlobalPosition?
    func saveCheckpoint(_ c: Connection, _ position: GlobalPosition, named name: String) throws
    func projectionRecord(_ c: Connection, named name: String) throws -> ProjectionRecord?
    func projectionNames(_ c: Connection, _ filter: NameFilter, limit: Int, offset: Int) throws -> [String]
    func changeProjection<Result>(
        _ c: Connection, named name: String, _ change: (inout ProjectionRecord?) throws -> ProjectionChange<Result>
    ) throws -> Result
    func snapshot(_ c: Connection, type: String, id: String) throws -> Snapshot?
    func save(_ c: Connection, _ snapshots: [Snapshot]) throws
    func removeSnapshots(_ c: Connection, type: String) throws

    // Consumer groups (the rest is shared: ``ConsumerGroupSQL``).

    /// Whether a read of a group's row locks it (`FOR UPDATE`): not on SQLite, whose write transactions
    /// exclude each other.
    var locksGroupRows: Bool { get }
    /// The database's clock, in microseconds since 1970.
    func databaseNow(_ c: Connection) throws -> Int64
    /// The placement table's statements, with this database's row locks.
    var partitionSQL: PartitionSQL { get }
    /// Inserts a group's row. - Returns: `false` when another transaction inserted it first.
    func insertConsumerGroup(_ c: Connection, _ sql: ConsumerGroupSQL, name: String, record: String) throws -> Bool
}

extension BlockingSQLOperations {
    /// The stream an append writes to, once its expected version is checked: its row id and version; a new
    /// row (version 0), or the soft-deleted stream started again, when it is missing and expected to be.
    package func appendTarget(_ c: Connection, _ name: StreamName, expectedVersion: ExpectedVersion) throws
        -> (id: Int64, version: Int)
    {
        let row = try stream(c, name)
        if row?.deleted == DeletionSQL.tombstone { throw EventStoreError.streamDeleted(name) }
        let live = row?.isLive == true ? row : nil
        if try ExpectedVersionCheck.check(expectedVersion, current: live?.version, of: name), let live {
            return (live.id, live.version)
        }
        return try startTarget(c, name, row, metadata: [:])
    }

    /// The stream `create` writes to: a new row, or the soft-deleted stream started again with `metadata`
    /// (its positions going on). The caller holds the appends' lock where `lockAppends` takes one.
    /// - Throws: `streamExists`, or `streamDeleted` for a tombstone.
    package func createTarget(_ c: Connection, _ name: StreamName, metadata: Metadata) throws -> (id: Int64, version: Int) {
        let row = try stream(c, name)
        if row?.deleted == DeletionSQL.tombstone { throw EventStoreError.streamDeleted(name) }
        if row?.isLive == true { throw EventStoreError.streamExists(name) }
        return try startTarget(c, name, row, metadata: metadata)
    }

    /// A new stream's row, or the soft-deleted `row` started again.
    private func startTarget(_ c: Connection, _ name: StreamName, _ row: StreamRow?, metadata: Metadata) throws
        -> (id: Int64, version: Int)
    {
        guard let row else { return (try insertStream(c, name, metadata: metadata), 0) }
        try run(c, DeletionSQL.restart(tableNames.streams.quoted, id: row.id, metadata: metadata))
        return (row.id, row.version)
    }

    /// The error for the stream `name` that a read found no live row of.
    package func missing(_ c: Connection, _ name: StreamName) throws -> EventStoreError {
        let tombstone = try firstColumn(c, DeletionSQL.tombstone(tableNames.streams.quoted, name))
        return DeletionSQL.missing(name, isTombstone: !tombstone.isEmpty)
    }

    package func delete(_ c: Connection, _ name: StreamName, mode: DeleteMode) throws {
        try lockAppends(c, of: name)
        let names = tableNames
        let row = try stream(c, name)
        for statement in try DeletionSQL.statements(mode, of: row, name, events: names.events.quoted, streams: names.streams.quoted) {
            try run(c, statement)
        }
    }

    package func updateMetadata(_ c: Connection, _ metadata: Metadata, of name: StreamName) throws {
        let row = try stream(c, name)
        guard let row, row.isLive else { throw DeletionSQL.missing(name, isTombstone: row?.deleted == DeletionSQL.tombstone) }
        // Compared by id, not by rows changed: unchanged metadata changes no row (prooph's MySQL bug).
        try run(
            c,
            """
            UPDATE \(tableNames.streams) SET metadata = \(bind: metadata.jsonText), \(RetentionSQL.assignments(metadata))
            WHERE id = \(bind: row.id)
            """)
    }
}

/// How a blocking backend holds its connections: where a top-level write, a read and a transaction run.
package protocol BlockingSQLConnections: Sendable {
    associatedtype Operations: BlockingSQLOperations
    typealias Connection = Operations.Connection
    /// One store transaction's hold on its connection.
    associatedtype Transaction: Sendable

    var operations: Operations { get }
    var appendNotifier: AppendNotifier { get }
    var pollInterval: Duration { get }
    var readBatchSize: Int { get }

    /// Runs `job` as a write: at the top level in a database transaction of its own, in a savepoint of
    /// `transaction` otherwise.
    func write<T: Sendable>(_ transaction: Transaction?, _ job: @escaping @Sendable (Connection) throws -> T) async throws -> T
    /// Runs `job` as a read: on any connection at the top level, on the transaction's otherwise.
    func read<T: Sendable>(_ transaction: Transaction?, _ job: @escaping @Sendable (Connection) throws -> T) async throws -> T
    func withTransaction<T: Sendable>(_ body: (Transaction) async throws -> T) async throws -> T
    func close() async
    /// Runs `job` as a write that, at the top level, commits itself in the one call it makes (`job` is told
    /// `true`), with the outcome of a connection lost during it unknown; in a savepoint of `transaction`
    /// otherwise (`false`). By default every write runs in a transaction of the connections' own (`false`).
    func selfCommittingWrite<T: Sendable>(
        _ transaction: Transaction?, _ job: @escaping @Sendable (Connection, _ commitsItself: Bool) throws -> T
    ) async throws -> T
}

extension BlockingSQLConnections {
    package func selfCommittingWrite<T: Sendable>(
        _ transaction: Transaction?, _ job: @escaping @Sendable (Connection, _ commitsItself: Bool) throws -> T
    ) async throws -> T {
        try await write(transaction) { try job($0, false) }
    }
}

/// The ``SQLDriver`` of every blocking backend: each operation is one job of its connections.
package struct BlockingDriver<Connections: BlockingSQLConnections>: SQLDriver {
    package typealias Operations = Connections.Operations
    package let connections: Connections

    package init(_ connections: Connections) { self.connections = connections }

    private var operations: Operations { connections.operations }

    private func held(_ handle: SQLTransactionHandle?) throws -> Connections.Transaction? {
        try handle.map { try driverValue($0, as: Connections.Transaction.self) }
    }

    package var appendNotifier: AppendNotifier { connections.appendNotifier }
    package var pollInterval: Duration { connections.pollInterval }
    package var readBatchSize: Int { connections.readBatchSize }

    package func withTransaction<T: Sendable>(_ body: (SQLTransactionHandle) async throws -> T) async throws -> T {
        try await connections.withTransaction { try await body($0) }
    }

    package func close() async { await connections.close() }

    package func orphanEventCount(_ transaction: SQLTransactionHandle?) async throws -> Int {
        let operations = self.operations
        let names = operations.tableNames
        let query = SQLIntegrityQueries.orphanEvents(events: names.events.quoted, streams: names.streams.quoted)
        return try await connections.read(held(transaction)) { c in
            try operations.firstColumn(c, query).first.flatMap { Int($0) } ?? 0
        }
    }

    package func streamsWithRetention(_ transaction: SQLTransactionHandle?, after id: Int64, limit: Int) async throws -> [Int64] {
        let operations = self.operations
        let query = RetentionSQL.streamsWithRetention(operations.tableNames.streams.quoted, after: id, limit: limit)
        return try await connections.read(held(transaction)) { c in try operations.firstColumn(c, query).compactMap { Int64($0) } }
    }

    package func scavengeRange(_ transaction: SQLTransactionHandle?, streamID: Int64) async throws -> Range<Int>? {
        let operations = self.operations
        let names = operations.tableNames
        return try await connections.read(held(transaction)) { c in
            guard let first = try operations.firstColumn(c, RetentionSQL.firstPosition(names.events.quoted, streamID: streamID)).first.flatMap({ Int($0) }),
                let end = try operations.firstColumn(c, RetentionSQL.keptFrom(names.streams.quoted, streamID: streamID)).first.flatMap({ Int($0) })
            else { return nil }
            return first..<max(first, end)
        }
    }

    package func scavenge(_ transaction: SQLTransactionHandle?, streamID: Int64, positions: Range<Int>) async throws -> Int {
        let operations = self.operations
        let names = operations.tableNames
        let delete = RetentionSQL.delete(
            operations.dialect, events: names.events.quoted, streams: names.streams.quoted, streamID: streamID, from: positions.lowerBound,
            below: positions.upperBound, returning: true)
        return try await connections.write(held(transaction)) { c in
            let removed = try operations.firstColumn(c, delete).count
            if removed > 0 { try operations.run(c, RetentionSQL.countRemoved(names.streams.quoted, streamID: streamID, count: removed)) }
            return removed
        }
    }

    package func streamsWithWrongVersions(_ transaction: SQLTransactionHandle?) async throws -> [String] {
        let operations = self.operations
        let names = operations.tableNames
        let query = SQLIntegrityQueries.streamsWithWrongVersions(events: names.events.quoted, streams: names.streams.quoted)
        return try await connections.read(held(transaction)) { c in try operations.firstColumn(c, query) }
    }

    package func create(_ transaction: SQLTransactionHandle?, _ stream: StreamName, metadata: Metadata, events: [EventMessage])
        async throws -> AppendResult
    {
        let operations = self.operations
        let rows = operations.rows(events)
        return try await connections.write(held(transaction)) { try operations.create($0, stream, metadata: metadata, events: rows) }
    }

    package func append(
        _ transaction: SQLTransactionHandle?, _ events: [EventMessage], to stream: StreamName, expectedVersion: ExpectedVersion
    ) async throws -> AppendResult {
        let operations = self.operations
        let rows = operations.rows(events)
        return try await connections.selfCommittingWrite(held(transaction)) { connection, commitsItself in
            try operations.append(connection, rows, to: stream, expectedVersion: expectedVersion, commitsItself: commitsItself)
        }
    }

    package func delete(_ transaction: SQLTransactionHandle?, _ stream: StreamName, mode: DeleteMode) async throws {
        let operations = self.operations
        try await connections.write(held(transaction)) { try operations.delete($0, stream, mode: mode) }
    }

    package func isTombstone(_ transaction: SQLTransactionHandle?, _ stream: StreamName) async throws -> Bool {
        let operations = self.operations
        return try await connections.read(held(transaction)) { try operations.missing($0, stream).code == .streamDeleted }
    }

    package func updateMetadata(_ transaction: SQLTransactionHandle?, _ metadata: Metadata, of stream: StreamName) async throws {
        let operations = self.operations
        try await connections.write(held(transaction)) { try operations.updateMetadata($0, metadata, of: stream) }
    }

    package func streamID(_ transaction: SQLTransactionHandle?, _ stream: StreamName) async throws -> Int64? {
        let operations = self.operations
        return try await connections.read(held(transaction)) { c in try operations.stream(c, stream).flatMap { $0.isLive ? $0.id : nil } }
    }

    package func metadata(_ transaction: SQLTransactionHandle?, of stream: StreamName) async throws -> Metadata {
        let operations = self.operations
        return try await connections.read(held(transaction)) { try operations.metadata($0, of: stream) }
    }

    package func loadTarget(_ transaction: SQLTransactionHandle?, _ stream: StreamName) async throws -> (id: Int64, retention: LoadRetention)? {
        let operations = self.operations
        return try await connections.read(held(transaction)) { try operations.loadTarget($0, stream) }
    }

    package func pageQuery(
        streamID: Int64, direction: RecordedEventSequence.Direction, matching: MetadataMatcher?, retention: LoadRetention
    ) -> SQLPageQuery {
        operations.pageQuery(streamID: streamID, direction: direction, matching: matching, retention: retention)
    }

    package func page(_ transaction: SQLTransactionHandle?, _ query: SQLPageQuery, stream: StreamName, bound: Int, limit: Int)
        async throws -> [RecordedEvent]
    {
        let operations = self.operations
        let query = try driverValue(query, as: Operations.PageQuery.self)
        return try await connections.read(held(transaction)) {
            try operations.page($0, query, stream: stream, bound: bound, limit: limit)
        }
    }

    package func streamNames(
        _ transaction: SQLTransactionHandle?, _ filter: NameFilter, matching: MetadataMatcher?, limit: Int, offset: Int
    ) async throws -> [StreamName] {
        let operations = self.operations
        return try await connections.read(held(transaction)) {
            try operations.streamNames($0, filter, matching: matching, limit: limit, offset: offset)
        }
    }

    package func categoryNames(_ transaction: SQLTransactionHandle?, _ filter: NameFilter, limit: Int, offset: Int)
        async throws -> [String]
    {
        let operations = self.operations
        return try await connections.read(held(transaction)) { try operations.categoryNames($0, filter, limit: limit, offset: offset) }
    }

    package func readAll(
        _ transaction: SQLTransactionHandle?, after position: GlobalPosition, of target: SubscriptionTarget, limit: Int
    ) async throws -> (events: [RecordedEvent], readable: GlobalPosition?) {
        let operations = self.operations
        return try await connections.read(held(transaction)) { try operations.readAll($0, after: position, of: target, limit: limit) }
    }

    package func eventCount(
        _ transaction: SQLTransactionHandle?, after position: GlobalPosition, of target: SubscriptionTarget, limit: Int
    ) async throws -> Int {
        let operations = self.operations
        return try await connections.read(held(transaction)) { try operations.eventCount($0, after: position, of: target, limit: limit) }
    }

    package func headPosition(_ transaction: SQLTransactionHandle?) async throws -> GlobalPosition {
        let operations = self.operations
        return try await connections.read(held(transaction)) { try operations.headPosition($0) }
    }

    package func highestPosition(_ transaction: SQLTransactionHandle?) async throws -> GlobalPosition {
        let operations = self.operations
        return try await connections.read(held(transaction)) { try operations.highestPosition($0) }
    }

    package func checkpoint(_ transaction: SQLTransactionHandle?, named name: String) async throws -> GlobalPosition? {
        let operations = self.operations
        return try await connections.read(held(transaction)) { try operations.checkpoint($0, named: name) }
    }

    package func saveCheckpoint(_ transaction: SQLTransactionHandle?, _ position: GlobalPosition, named name: String)
        async throws
    {
        let operations = self.operations
        try await connections.write(held(transaction)) { try operations.saveCheckpoint($0, position, named: name) }
    }

    package func consumerGroupRecord(_ transaction: SQLTransactionHandle?, named name: String) async throws -> ConsumerGroupRecord? {
        let operations = self.operations
        return try await connections.read(held(transaction)) { try operations.consumerGroupRecord($0, named: name) }
    }

    package func consumerGroupNames(_ transaction: SQLTransactionHandle?, limit: Int, offset: Int) async throws -> [String] {
        let operations = self.operations
        return try await connections.read(held(transaction)) { try operations.consumerGroupNames($0, limit: limit, offset: offset) }
    }

    package func changeConsumerGroup<Result: Sendable>(
        _ transaction: SQLTransactionHandle?, named name: String,
        _ change: @escaping @Sendable (inout ConsumerGroupRecord?, Int64) throws -> Result
    ) async throws -> Result {
        let operations = self.operations
        return try await connections.write(held(transaction)) { try operations.changeConsumerGroup($0, named: name, change) }
    }

    package func storedPlacement(_ transaction: SQLTransactionHandle?) async throws -> PlacementMap? {
        let operations = self.operations
        return try await connections.read(held(transaction)) { try operations.storedPlacement($0) }
    }

    package func storePlacement(_ transaction: SQLTransactionHandle?, _ map: PlacementMap, as member: String, replacing version: Int64?)
        async throws -> Bool
    {
        let operations = self.operations
        return try await connections.write(held(transaction)) { try operations.storePlacement($0, map, as: member, replacing: version) }
    }

    package func bucketState(_ transaction: SQLTransactionHandle?, _ bucket: Int, mapVersion version: Int64) async throws -> BucketState {
        let operations = self.operations
        return try await connections.read(held(transaction)) { try operations.bucketState($0, bucket, mapVersion: version) }
    }

    package var copyTables: (streams: String, events: String) { operations.copyTables }

    package func fencedBuckets(_ transaction: SQLTransactionHandle?) async throws -> [Int] {
        let operations = self.operations
        return try await connections.read(held(transaction)) { try operations.firstColumn($0, operations.partitionSQL.fenced()) }
            .compactMap { Int(String($0.filter { $0 != " " })) }
    }
    package var partitionSQL: PartitionSQL { operations.partitionSQL }

    package func storedRow(_ transaction: SQLTransactionHandle?, _ stream: StreamName) async throws -> StoredStreamRow? {
        let operations = self.operations
        return try await connections.read(held(transaction)) { try operations.storedRow($0, stream) }
    }

    package func storedStreamNames(_ transaction: SQLTransactionHandle?, after name: String, limit: Int) async throws -> [String] {
        let operations = self.operations
        return try await connections.read(held(transaction)) { try operations.storedStreamNames($0, after: name, limit: limit) }
    }

    package func execute(_ transaction: SQLTransactionHandle?, _ statements: [SQLQuery]) async throws {
        let operations = self.operations
        try await connections.write(held(transaction)) { c in
            for statement in statements { try operations.run(c, statement) }
        }
    }

    package func projectionRecord(_ transaction: SQLTransactionHandle?, named name: String) async throws -> ProjectionRecord? {
        let operations = self.operations
        return try await connections.read(held(transaction)) { try operations.projectionRecord($0, named: name) }
    }

    package func projectionNames(_ transaction: SQLTransactionHandle?, _ filter: NameFilter, limit: Int, offset: Int)
        async throws -> [String]
    {
        let operations = self.operations
        return try await connections.read(held(transaction)) { try operations.projectionNames($0, filter, limit: limit, offset: offset) }
    }

    package func changeProjection<Result: Sendable>(
        _ transaction: SQLTransactionHandle?, named name: String,
        _ change: @escaping @Sendable (inout ProjectionRecord?) throws -> ProjectionChange<Result>
    ) async throws -> Result {
        let operations = self.operations
        return try await connections.write(held(transaction)) { try operations.changeProjection($0, named: name, change) }
    }

    package func snapshot(_ transaction: SQLTransactionHandle?, type: String, id: String) async throws -> Snapshot? {
        let operations = self.operations
        return try await connections.read(held(transaction)) { try operations.snapshot($0, type: type, id: id) }
    }

    package func save(_ transaction: SQLTransactionHandle?, _ snapshots: [Snapshot]) async throws {
        let operations = self.operations
        try await connections.write(held(transaction)) { try operations.save($0, snapshots) }
    }

    package func removeSnapshots(_ transaction: SQLTransactionHandle?, type: String) async throws {
        let operations = self.operations
        try await connections.write(held(transaction)) { try operations.removeSnapshots($0, type: type) }
    }
}
