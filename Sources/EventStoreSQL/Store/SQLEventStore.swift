@_spi(Backend) import EventStore
import Logging
import Synchronization

/// The event store of every SQL backend: `SQLiteEventStore`, `PostgresEventStore` and `MySQLEventStore`
/// are this class with a driver of their own (see ``SQLDriver``) and their own initialisers and settings.
///
/// It owns what is the same on every database: validation of arguments, loads as paged
/// ``RecordedEventSequence``s, transactions (no nesting, a transaction's store that fails once its
/// transaction ended, its calls one at a time, a signal after commit), the global order, checkpoints,
/// projections and snapshots. Users never make one directly.
open class SQLEventStore: GlobalOrderEventStore, ProjectionStore, SnapshotStore, ConsumerGroupRecordStore, ScavengingEventStore, @unchecked Sendable {
    // @unchecked: every stored property is immutable and Sendable; subclasses keep it so.
    package let driver: any SQLDriver
    /// The store's logger, metrics and tracer.
    package let instruments: StoreInstruments
    /// Set for a transaction's store.
    package let transactionContext: TransactionContext?
    private let transactionStore: @Sendable (SQLEventStore, TransactionContext) -> SQLEventStore
    /// Marks the tasks inside this store's transactions.
    private let identity: Identity

    private final class Identity: Sendable {}

    /// A store transaction in progress: the driver's handle, whether it still runs, and the gate that lets
    /// its calls through one at a time.
    package final class TransactionContext: Sendable {
        package let handle: SQLTransactionHandle
        private let open = Atomic<Bool>(true)
        private let gate = AsyncGate()

        init(_ handle: SQLTransactionHandle) { self.handle = handle }

        var isOpen: Bool { open.load(ordering: .acquiring) }
        func close() { open.store(false, ordering: .releasing) }

        func serialized<T>(_ body: (SQLTransactionHandle) async throws -> T) async throws -> T {
            guard isOpen else { throw SQLEventStore.closedError }
            await gate.acquire()
            do {
                guard isOpen else { throw SQLEventStore.closedError }
                let result = try await body(handle)
                await gate.release()
                return result
            } catch {
                await gate.release()
                throw error
            }
        }
    }

    /// A top-level store on `driver`; `transactionStore` makes the store a transaction's closure gets (the
    /// backend's own class, so that its extras work inside transactions too).
    package init(
        driver: any SQLDriver, instruments: StoreInstruments,
        transactionStore: @escaping @Sendable (SQLEventStore, TransactionContext) -> SQLEventStore
    ) {
        self.driver = driver
        self.instruments = instruments
        self.transactionContext = nil
        self.transactionStore = transactionStore
        self.identity = Identity()
    }

    /// The store of a transaction of `store`.
    package init(transactionOf store: SQLEventStore, context: TransactionContext) {
        self.driver = store.driver
        self.instruments = store.instruments
        self.transactionContext = context
        self.transactionStore = store.transactionStore
        self.identity = store.identity
    }

    /// Closes the store's connections once the calls they run are done; every later call fails with
    /// `backend`. (Dropping the last reference to the store closes them too.)
    public func close() async {
        await driver.close()
    }

    package static let closedError = EventStoreError(
        code: .transactionClosed, reason: "this transaction's store was used after its transaction ended")

    // MARK: Running calls

    /// A write: at the top level its own database transaction, followed by a signal to live readers; in a
    /// transaction's store a savepoint of the transaction.
    /// Measured as `operation` (``StoreInstruments``). A write that stores no event (a consumer group's)
    /// does not `signal` live readers: they would read for nothing.
    package func write<T>(
        _ operation: StoreOperation, stream: StreamName? = nil, events: Int? = nil, signal: Bool = true,
        _ body: (SQLTransactionHandle?) async throws -> T
    ) async throws -> T {
        try await instruments.measure(operation, stream: stream, events: events) { try await unmeasuredWrite(signal: signal, body) }
    }

    /// ``write(_:stream:events:signal:_:)`` inside a measure of the caller's own.
    private func unmeasuredWrite<T>(signal: Bool = true, _ body: (SQLTransactionHandle?) async throws -> T) async throws -> T {
        if let transactionContext { return try await transactionContext.serialized { try await body($0) } }
        try TransactionScope.checkOutsideTransaction(of: ObjectIdentifier(identity))
        let result = try await body(nil)
        if signal { driver.appendNotifier.signal() }
        return result
    }

    /// A read: on any connection at the top level, on the transaction's in a transaction's store. Measured as
    /// `operation`.
    package func read<T>(
        _ operation: StoreOperation, stream: StreamName? = nil, _ body: (SQLTransactionHandle?) async throws -> T
    ) async throws -> T {
        try await instruments.measure(operation, stream: stream) {
            if let transactionContext { return try await transactionContext.serialized { try await body($0) } }
            return try await body(nil)
        }
    }

    /// The store's logger (the one it was opened with).
    public var logger: Logger { instruments.logger }

    // MARK: EventStore

    @discardableResult
    public func create(_ stream: StreamName, metadata: Metadata, events: [EventMessage]) async throws -> AppendResult {
        try StoreValidation.streamMetadata(metadata)
        try StoreValidation.events(events, for: stream)
        return try await write(.create, stream: stream, events: events.count) {
            try await driver.create($0, stream, metadata: metadata, events: instruments.withTraceParent(events))
        }
    }

    @discardableResult
    public func append(_ events: [EventMessage], to stream: StreamName, expectedVersion: ExpectedVersion) async throws
        -> AppendResult
    {
        try StoreValidation.events(events, for: stream)
        // Measured as the caller sees it: the retry of an append that was stored (IdempotentAppend) succeeds,
        // and its look for the earlier append is part of it.
        return try await instruments.measure(.append, stream: stream, events: events.count) {
            try await idempotentAppend(events, to: stream, expectedVersion: expectedVersion) {
                try await unmeasuredWrite {
                    try await driver.append($0, instruments.withTraceParent(events), to: stream, expectedVersion: expectedVersion)
                }
            }
        }
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
        guard let (id, retention) = try await read(.findStream, stream: stream, { try await driver.loadTarget($0, stream) }) else {
            throw try await missing(stream)
        }
        let query = driver.pageQuery(streamID: id, direction: direction, matching: matching, retention: retention)
        return RecordedEventSequence(
            direction: direction, start: min(from ?? Int.max, Int(Int64.max)), count: count, readBatchSize: driver.readBatchSize
        ) { [self] bound, limit in
            try await read(.load, stream: stream) { try await driver.page($0, query, stream: stream, bound: bound, limit: limit) }
        }
    }

    public func delete(_ stream: StreamName, mode: DeleteMode) async throws {
        try await write(.delete, stream: stream) { try await driver.delete($0, stream, mode: mode) }
    }

    /// The error for a stream a read found no live row of: `streamDeleted` for a tombstone, else `streamNotFound`.
    private func missing(_ stream: StreamName) async throws -> EventStoreError {
        DeletionSQL.missing(stream, isTombstone: try await read(.findStream, stream: stream) { try await driver.isTombstone($0, stream) })
    }

    public func hasStream(_ stream: StreamName) async throws -> Bool {
        try await read(.findStream, stream: stream) { try await driver.streamID($0, stream) != nil }
    }

    public func streamMetadata(of stream: StreamName) async throws -> Metadata {
        do {
            return try await read(.streamMetadata, stream: stream) { try await driver.metadata($0, of: stream) }
        } catch let error as EventStoreError where error.code == .streamNotFound {
            throw try await missing(stream)
        }
    }

    public func updateStreamMetadata(_ metadata: Metadata, of stream: StreamName) async throws {
        try StoreValidation.streamMetadata(metadata)
        try await write(.updateStreamMetadata, stream: stream) { try await driver.updateMetadata($0, metadata, of: stream) }
    }

    public func streamNames(_ filter: NameFilter, matching: MetadataMatcher?, limit: Int, offset: Int) async throws
        -> [StreamName]
    {
        try StoreValidation.listing(filter, matching: matching, limit: limit, offset: offset)
        return try await read(.listStreams) { try await driver.streamNames($0, filter, matching: matching, limit: limit, offset: offset) }
    }

    public func categoryNames(_ filter: NameFilter, limit: Int, offset: Int) async throws -> [String] {
        try StoreValidation.listing(filter, limit: limit, offset: offset)
        return try await read(.listCategories) { try await driver.categoryNames($0, filter, limit: limit, offset: offset) }
    }

    /// Runs `body` in one database transaction: every call of the store it gets is part of it, committed
    /// when `body` returns and rolled back when it throws. The store `body` gets fails with
    /// `transactionClosed` once the transaction ended; a transaction cannot begin inside another.
    @discardableResult
    public func transaction<T: Sendable>(_ body: @Sendable (any EventStore) async throws -> T) async throws -> T {
        if transactionContext != nil {
            throw EventStoreError(code: .nestedTransaction, reason: "a transaction cannot be started inside another one")
        }
        try TransactionScope.checkCanBegin()
        let result = try await instruments.measure(.transaction) {
            try await transactionBody(body)
        }
        driver.appendNotifier.signal()
        return result
    }

    private func transactionBody<T: Sendable>(_ body: @Sendable (any EventStore) async throws -> T) async throws -> T {
        try await driver.withTransaction { handle in
            let context = TransactionContext(handle)
            // Closed before the driver commits or rolls back: a call through a store kept past its
            // transaction fails instead of running on whatever the connection does next.
            defer { context.close() }
            let store = transactionStore(self, context)
            return try await TransactionScope.run(in: ObjectIdentifier(identity)) { try await body(store) }
        }
    }

    // MARK: Global order

    @_spi(Backend) public var appendNotifier: AppendNotifier { driver.appendNotifier }

    @_spi(Backend) public var pollInterval: Duration { driver.pollInterval }

    public func readAll(after position: GlobalPosition, of target: SubscriptionTarget = .all, limit: Int) async throws
        -> [RecordedEvent]
    {
        try await readPage(after: position, of: target, limit: limit).events
    }

    public func readPage(after position: GlobalPosition, of target: SubscriptionTarget = .all, limit: Int) async throws
        -> GlobalOrderPage
    {
        try StoreValidation.globalRead(after: position, of: target, limit: limit)
        let (events, readable) = try await read(.readAll) { try await driver.readAll($0, after: position, of: target, limit: limit) }
        // Checked on empty pages past what the read could see only: where a reader holding such a position
        // would wait for ever.
        if events.isEmpty, position != .start, readable.map({ position > $0 }) ?? true {
            try StoreValidation.readPosition(position, highest: try await read(.headPosition) { try await driver.highestPosition($0) })
        }
        return GlobalOrderPage(events: events, after: position, limit: limit, readable: readable)
    }

    public func eventCount(after position: GlobalPosition, of target: SubscriptionTarget, limit: Int) async throws -> Int {
        try StoreValidation.globalRead(after: position, of: target, limit: limit)
        return try await read(.countEvents) { try await driver.eventCount($0, after: position, of: target, limit: limit) }
    }

    public func headPosition() async throws -> GlobalPosition {
        try await read(.headPosition) { try await driver.headPosition($0) }
    }

    @_spi(Backend) public func readableHead() async throws -> GlobalPosition {
        try await read(.headPosition) { try await driver.readableHead($0) }
    }

    public func globalOrderBlockers() async throws -> [GlobalOrderBlocker] {
        try await read(.headPosition) { try await driver.globalOrderBlockers($0) }
    }

    public func checkpoint(named name: String) async throws -> GlobalPosition? {
        try StoreValidation.key(name, "a checkpoint name")
        return try await read(.checkpoint) { try await driver.checkpoint($0, named: name) }
    }

    public func saveCheckpoint(_ position: GlobalPosition, named name: String) async throws {
        try StoreValidation.key(name, "a checkpoint name")
        try await write(.saveCheckpoint) { try await driver.saveCheckpoint($0, position, named: name) }
    }

    // MARK: Projections

    public func projectionRecord(named name: String) async throws -> ProjectionRecord? {
        try StoreValidation.key(name, "a projection name")
        return try await read(.readProjection) { try await driver.projectionRecord($0, named: name) }
    }

    public func projectionNames(_ filter: NameFilter, limit: Int, offset: Int) async throws -> [String] {
        try StoreValidation.listing(filter, limit: limit, offset: offset)
        return try await read(.listProjections) { try await driver.projectionNames($0, filter, limit: limit, offset: offset) }
    }

    @_spi(Backend) public func changeProjection<Result: Sendable>(
        named name: String, _ change: @escaping @Sendable (inout ProjectionRecord?) throws -> ProjectionChange<Result>
    ) async throws -> Result {
        try StoreValidation.key(name, "a projection name")
        return try await ProjectionSQL.retryingRaces {
            try await write(.changeProjection) { try await driver.changeProjection($0, named: name, change) }
        }
    }

    // MARK: Consumer groups

    @_spi(Backend) public func consumerGroupRecord(named name: String) async throws -> ConsumerGroupRecord? {
        try ConsumerGroup.validate(name: name)
        return try await read(.readConsumerGroup) { try await driver.consumerGroupRecord($0, named: name) }
    }

    public func consumerGroupNames(limit: Int, offset: Int) async throws -> [String] {
        try StoreValidation.listing(.all, limit: limit, offset: offset)
        return try await read(.listConsumerGroups) { try await driver.consumerGroupNames($0, limit: limit, offset: offset) }
    }

    @_spi(Backend) public func changeConsumerGroup<Result: Sendable>(
        named name: String, _ change: @escaping @Sendable (inout ConsumerGroupRecord?, Int64) throws -> Result
    ) async throws -> Result {
        try ConsumerGroup.validate(name: name)
        return try await ProjectionSQL.retryingRaces {
            try await write(.changeConsumerGroup, signal: false) { try await driver.changeConsumerGroup($0, named: name, change) }
        }
    }

    // MARK: Retention

    /// Removes the events past their stream's retention: the streams with retention a hundred at a time,
    /// each stream's positions in batches of ``RetentionSQL/batch``, each batch a write of its own at the top
    /// level, so that appends to the stream wait at most for one batch.
    @discardableResult
    public func scavenge() async throws -> ScavengeResult {
        try await instruments.measure(.scavenge) {
            var result = ScavengeResult()
            var after: Int64 = 0
            while true {
                let ids = try await unmeasuredRead { try await driver.streamsWithRetention($0, after: after, limit: 100) }
                for id in ids {
                    guard let range = try await unmeasuredRead({ try await driver.scavengeRange($0, streamID: id) }) else { continue }
                    var removed = 0
                    var low = range.lowerBound
                    while low < range.upperBound {
                        let high = min(low + RetentionSQL.batch, range.upperBound)
                        removed += try await unmeasuredWrite(signal: false) { try await driver.scavenge($0, streamID: id, positions: low..<high) }
                        low = high
                    }
                    if removed > 0 {
                        result.streams += 1
                        result.events += removed
                    }
                }
                guard ids.count == 100, let last = ids.last else { return result }
                after = last
            }
        }
    }

    /// A read measured by its caller.
    private func unmeasuredRead<T>(_ body: (SQLTransactionHandle?) async throws -> T) async throws -> T {
        if let transactionContext { return try await transactionContext.serialized { try await body($0) } }
        return try await body(nil)
    }

    // MARK: Verification

    /// How many events have no stream row: what a delete racing an append could leave before appends
    /// checked their stream (`eventstore verify`).
    package func orphanEventCount() async throws -> Int {
        try await read(.verify) { try await driver.orphanEventCount($0) }
    }

    /// The raw names of the streams whose stored and removed events do not add up to their version
    /// (``SQLIntegrityQueries/streamsWithWrongVersions(events:streams:)``).
    package func streamsWithWrongVersions() async throws -> [String] {
        try await read(.verify) { try await driver.streamsWithWrongVersions($0) }
    }

    // MARK: Snapshots

    public func snapshot(ofType aggregateType: String, id aggregateID: String) async throws -> Snapshot? {
        try StoreValidation.key(aggregateType, "an aggregate type")
        try StoreValidation.key(aggregateID, "an aggregate id")
        return try await read(.readSnapshot) { try await driver.snapshot($0, type: aggregateType, id: aggregateID) }
    }

    public func save(_ snapshots: [Snapshot]) async throws {
        try StoreValidation.snapshots(snapshots)
        try await write(.saveSnapshots) { try await driver.save($0, snapshots) }
    }

    public func removeAll(ofType aggregateType: String) async throws {
        try StoreValidation.key(aggregateType, "an aggregate type")
        try await write(.removeSnapshots) { try await driver.removeSnapshots($0, type: aggregateType) }
    }
}
