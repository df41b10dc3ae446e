import Foundation
import Logging

/// An event store in memory: for tests and prototypes. Nothing survives the process.
///
/// It behaves as every other backend does (expected versions, duplicate checks, transactions), which
/// the conformance suite proves. Writers are serialised; a transaction holds the write lock from its
/// start to its end, while readers go on seeing the last committed state.
public actor InMemoryEventStore: GlobalOrderEventStore, ProjectionStore, SnapshotStore, ConsumerGroupRecordStore, ScavengingEventStore {
    /// How many events one read of a load fetches. Formerly `loadBatchSize`.
    public nonisolated let readBatchSize: Int
    /// Signalled after every commit.
    @_spi(Backend) public nonisolated let appendNotifier: AppendNotifier
    /// Wake-ups are in-process and never missed; the poll is only a fallback.
    @_spi(Backend) public nonisolated var pollInterval: Duration { .seconds(1) }

    /// The store's logger, metrics and tracer.
    package nonisolated let instruments: StoreInstruments
    /// The store's logger (the one it was made with).
    public nonisolated var logger: Logger { instruments.logger }

    private var state: InMemoryState
    /// For a transaction's store: whether its transaction still runs. `nil` for a top-level store.
    private var transactionOpen: Bool?
    private var writerBusy = false
    private var writerWaiters: [CheckedContinuation<Void, Never>] = []

    /// A new, empty store.
    /// - Parameters:
    ///   - readBatchSize: how many events a load fetches at a time (at least 1).
    ///   - logger: where the store logs.
    ///   - telemetry: where it records metrics and spans (``EventStoreTelemetry``): the process's own by default.
    public init(
        readBatchSize: Int = 1000, logger: Logger = Logger(label: "eventstore"), telemetry: EventStoreTelemetry = EventStoreTelemetry()
    ) {
        self.readBatchSize = max(1, readBatchSize)
        self.instruments = StoreInstruments(backend: "memory", logger: logger, telemetry: telemetry)
        self.state = InMemoryState()
        self.transactionOpen = nil
        self.appendNotifier = AppendNotifier()
    }

    private init(transactionOn state: InMemoryState, readBatchSize: Int, instruments: StoreInstruments) {
        self.readBatchSize = readBatchSize
        self.instruments = instruments
        self.state = state
        self.transactionOpen = true
        self.appendNotifier = AppendNotifier()
    }

    // MARK: EventStore

    @discardableResult
    public func create(_ stream: StreamName, metadata: Metadata, events: [EventMessage]) async throws -> AppendResult {
        try await instruments.measure(.create, stream: stream, events: events.count) {
            let events = instruments.withTraceParent(events)
            return try await write { state throws(EventStoreError) in try state.create(stream, metadata: metadata, events: events) }
        }
    }

    @discardableResult
    public func append(_ events: [EventMessage], to stream: StreamName, expectedVersion: ExpectedVersion) async throws
        -> AppendResult
    {
        // Measured as the caller sees it, as on the SQL stores: a retry of a stored append succeeds.
        try await instruments.measure(.append, stream: stream, events: events.count) {
            let traced = instruments.withTraceParent(events)
            return try await idempotentAppend(events, to: stream, expectedVersion: expectedVersion) {
                try await write { state throws(EventStoreError) in
                    try state.append(traced, to: stream, expectedVersion: expectedVersion)
                }
            }
        }
    }

    public func load(_ stream: StreamName, from: Int, count: Int?, matching: MetadataMatcher?) async throws
        -> RecordedEventSequence
    {
        try readable().load(
            stream, direction: .forward, from: from, count: count, matching: matching, readBatchSize: readBatchSize,
            instruments: instruments)
    }

    public func loadReverse(_ stream: StreamName, from: Int?, count: Int?, matching: MetadataMatcher?) async throws
        -> RecordedEventSequence
    {
        try readable().load(
            stream, direction: .backward, from: from, count: count, matching: matching, readBatchSize: readBatchSize,
            instruments: instruments)
    }

    public func delete(_ stream: StreamName, mode: DeleteMode) async throws {
        try await instruments.measure(.delete, stream: stream) {
            try await write { state throws(EventStoreError) in try state.delete(stream, mode: mode) }
        }
    }

    public func hasStream(_ stream: StreamName) async throws -> Bool {
        try readable().streams[stream] != nil
    }

    public func streamMetadata(of stream: StreamName) async throws -> Metadata {
        try readable().metadata(of: stream)
    }

    public func updateStreamMetadata(_ metadata: Metadata, of stream: StreamName) async throws {
        try await write { state throws(EventStoreError) in try state.updateMetadata(metadata, of: stream) }
    }

    public func streamNames(_ filter: NameFilter, matching: MetadataMatcher?, limit: Int, offset: Int) async throws
        -> [StreamName]
    {
        try readable().streamNames(filter, matching: matching, limit: limit, offset: offset)
    }

    public func categoryNames(_ filter: NameFilter, limit: Int, offset: Int) async throws -> [String] {
        try readable().categoryNames(filter, limit: limit, offset: offset)
    }

    @discardableResult
    public nonisolated func transaction<T: Sendable>(_ body: @Sendable (any EventStore) async throws -> T) async throws
        -> T
    {
        try TransactionScope.checkCanBegin()
        let transactionStore = InMemoryEventStore(
            transactionOn: try await beginTransaction(), readBatchSize: readBatchSize, instruments: instruments)
        do {
            let result = try await TransactionScope.run(in: ObjectIdentifier(self)) { try await body(transactionStore) }
            await endTransaction(committing: await transactionStore.close())
            return result
        } catch {
            _ = await transactionStore.close()
            await endTransaction(committing: nil)
            throw error
        }
    }

    @discardableResult
    public func scavenge() async throws -> ScavengeResult {
        try await instruments.measure(.scavenge) {
            try await write(signal: false) { (state: inout InMemoryState) throws(EventStoreError) in state.scavenge() }
        }
    }

    // MARK: Global order

    public func readAll(after position: GlobalPosition, of target: SubscriptionTarget, limit: Int) async throws
        -> [RecordedEvent]
    {
        try await readPage(after: position, of: target, limit: limit).events
    }

    public func readPage(after position: GlobalPosition, of target: SubscriptionTarget, limit: Int) async throws
        -> GlobalOrderPage
    {
        try StoreValidation.globalRead(after: position, of: target, limit: limit)
        return try await instruments.measure(.readAll) { try readPage(of: try readable(), after: position, of: target, limit: limit) }
    }

    private func readPage(of state: InMemoryState, after position: GlobalPosition, of target: SubscriptionTarget, limit: Int)
        throws -> GlobalOrderPage
    {
        let events = state.readAll(after: position, of: target, limit: limit)
        let head = GlobalPosition(sequence: state.lastGlobalPosition)
        if events.isEmpty, position != .start { try StoreValidation.readPosition(position, highest: head) }
        return GlobalOrderPage(events: events, after: position, limit: limit, readable: head)
    }

    public func eventCount(after position: GlobalPosition, of target: SubscriptionTarget, limit: Int) async throws -> Int {
        try StoreValidation.globalRead(after: position, of: target, limit: limit)
        return try await instruments.measure(.countEvents) { try readable().readAll(after: position, of: target, limit: limit).count }
    }

    public func headPosition() async throws -> GlobalPosition {
        GlobalPosition(sequence: try readable().lastGlobalPosition)
    }

    public func checkpoint(named name: String) async throws -> GlobalPosition? {
        try StoreValidation.key(name, "a checkpoint name")
        return try readable().checkpoints[name]
    }

    public func saveCheckpoint(_ position: GlobalPosition, named name: String) async throws {
        try StoreValidation.key(name, "a checkpoint name")
        try await write { (state: inout InMemoryState) throws(EventStoreError) in state.checkpoints[name] = position }
    }

    // MARK: Projections

    public func projectionRecord(named name: String) async throws -> ProjectionRecord? {
        try StoreValidation.key(name, "a projection name")
        return try readable().projections[name]
    }

    public func projectionNames(_ filter: NameFilter, limit: Int, offset: Int) async throws -> [String] {
        try readable().projectionNames(filter, limit: limit, offset: offset)
    }

    @_spi(Backend) public func changeProjection<Result: Sendable>(
        named name: String, _ change: @escaping @Sendable (inout ProjectionRecord?) throws -> ProjectionChange<Result>
    ) async throws -> Result {
        try StoreValidation.key(name, "a projection name")
        // The closure's own errors are carried out of the typed-throws write as a result.
        let outcome: Swift.Result<Result, any Error> = try await write { (state: inout InMemoryState) throws(EventStoreError) in
            var record = state.projections[name]
            let outcome: ProjectionChange<Result>
            do {
                outcome = try change(&record)
            } catch {
                return .failure(error)
            }
            if let stream = outcome.deleteStream, state.streams[stream] != nil { try state.delete(stream, mode: .purge) }
            state.projections[name] = record
            return .success(outcome.result)
        }
        return try outcome.get()
    }

    // MARK: Consumer groups

    @_spi(Backend) public func consumerGroupRecord(named name: String) async throws -> ConsumerGroupRecord? {
        try ConsumerGroup.validate(name: name)
        return try readable().consumerGroups[name]
    }

    public func consumerGroupNames(limit: Int, offset: Int) async throws -> [String] {
        try StoreValidation.listing(.all, limit: limit, offset: offset)
        return Array(try readable().consumerGroups.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.dropFirst(offset).prefix(limit))
    }

    @_spi(Backend) public func changeConsumerGroup<Result: Sendable>(
        named name: String, _ change: @escaping @Sendable (inout ConsumerGroupRecord?, Int64) throws -> Result
    ) async throws -> Result {
        try ConsumerGroup.validate(name: name)
        // The closure's own errors are carried out of the typed-throws write as a result.
        let outcome: Swift.Result<Result, any Error> = try await write(signal: false) { (state: inout InMemoryState) throws(EventStoreError) in
            var record = state.consumerGroups[name]
            do {
                let result = try change(&record, Timestamp.microseconds(Date()))
                state.consumerGroups[name] = record
                return .success(result)
            } catch {
                return .failure(error)
            }
        }
        return try outcome.get()
    }

    // MARK: Snapshots

    public func snapshot(ofType aggregateType: String, id aggregateID: String) async throws -> Snapshot? {
        try StoreValidation.key(aggregateType, "an aggregate type")
        try StoreValidation.key(aggregateID, "an aggregate id")
        return try readable().snapshots[aggregateType]?[aggregateID]
    }

    public func save(_ snapshots: [Snapshot]) async throws {
        try StoreValidation.snapshots(snapshots)
        try await write { (state: inout InMemoryState) throws(EventStoreError) in
            for snapshot in snapshots { state.snapshots[snapshot.aggregateType, default: [:]][snapshot.aggregateID] = snapshot }
        }
    }

    public func removeAll(ofType aggregateType: String) async throws {
        try StoreValidation.key(aggregateType, "an aggregate type")
        try await write { (state: inout InMemoryState) throws(EventStoreError) in state.snapshots[aggregateType] = nil }
    }

    // MARK: Locking

    private func readable() throws(EventStoreError) -> InMemoryState {
        if transactionOpen == false { throw Self.closedError }
        return state
    }

    /// Runs a write on the committed state, after any transaction in progress (whose commit replaces the
    /// whole state) has ended; inside a transaction, on the transaction's copy.
    /// A write that stores no event (a consumer group's) does not `signal` live readers.
    private func write<T>(signal: Bool = true, _ body: (inout InMemoryState) throws(EventStoreError) -> T) async throws -> T {
        switch transactionOpen {
        case .some(false):
            throw Self.closedError
        case .some(true):
            break
        case nil:
            try TransactionScope.checkOutsideTransaction(of: ObjectIdentifier(self))
            await waitForWriter()
            let result = try body(&state)
            if signal { appendNotifier.signal() }
            return result
        }
        return try body(&state)
    }

    private func waitForWriter() async {
        while writerBusy {
            await withCheckedContinuation { writerWaiters.append($0) }
        }
    }

    private func beginTransaction() async throws -> InMemoryState {
        if transactionOpen != nil {
            throw EventStoreError(code: .nestedTransaction, reason: "a transaction cannot be started inside another one")
        }
        await waitForWriter()
        writerBusy = true
        return state
    }

    private func endTransaction(committing newState: InMemoryState?) {
        if let newState {
            state = newState
            appendNotifier.signal()
        }
        writerBusy = false
        let waiters = writerWaiters
        writerWaiters.removeAll()
        for waiter in waiters { waiter.resume() }
    }

    private func close() -> InMemoryState {
        transactionOpen = false
        return state
    }

    private static let closedError = EventStoreError(
        code: .transactionClosed, reason: "this transaction's store was used after its transaction ended")
}
