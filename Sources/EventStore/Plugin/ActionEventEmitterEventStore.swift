import Logging
/// Wraps any store and turns each of its operations into an action event that listeners can observe,
/// change or stop: prooph's `ActionEventEmitterEventStore`, typed.
///
/// Listeners run highest priority first, in attach order within a priority. The wrapped store does its
/// work at priority 0: listeners with a priority above 0 run before it (and can replace the inputs, or
/// stop propagation so that the store never runs), listeners at 0 or below run after it (and can read or
/// replace the result, or the error). A listener that throws ends the operation with its error, and so
/// does any later listener's; a listener after the store that throws does not undo the store's write.
///
/// When a listener stops an operation before the store ran and left no result: `load`, `loadReverse` and
/// `streamMetadata` throw `streamNotFound`; `hasStream` is `false`; listings are empty; `create`,
/// `append`, `delete` and `updateStreamMetadata` write nothing and return normally (`create` and `append`
/// with `AppendResult(streamVersion: 0, lastGlobalPosition: nil)`).
///
/// `beginTransaction`, `commit` and `rollback` are notifications around ``transaction(_:)``: `begin`
/// listeners above 0 run before the transaction starts (throwing prevents it), the others inside it
/// before the body; `commit` listeners above 0 run after the body and before the commit (throwing rolls
/// back), the others after the commit; `rollback` listeners above 0 run before the rollback, the others
/// after it. Operations inside the transaction go through the listeners too.
public final class ActionEventEmitterEventStore: EventStore {
    /// The store this one wraps.
    public let innerStore: any EventStore
    let listeners: ActionListeners
    let fallbackNotifier = AppendNotifier()

    /// Wraps `store`, with no listeners yet.
    public init(_ store: any EventStore) {
        innerStore = store
        listeners = ActionListeners()
    }

    private init(inner: any EventStore, listeners: ActionListeners) {
        innerStore = inner
        self.listeners = listeners
    }

    /// Attaches a listener to an action.
    /// - Parameters:
    ///   - action: the operation to listen to.
    ///   - priority: above 0 runs before the store, 0 and below after it; higher first.
    ///   - listener: called once per operation, with the operation's action event.
    /// - Returns: a handle for ``detach(_:)-(ListenerHandle)``.
    @discardableResult
    public func attach<Input, Output>(
        _ action: Action<Input, Output>, priority: Int = 0,
        _ listener: @escaping @Sendable (ActionEvent<Input, Output>) async throws -> Void
    ) -> ListenerHandle {
        listeners.attach(action, priority: priority, listener)
    }

    /// Detaches a listener; `false` when it was not attached.
    @discardableResult
    public func detach(_ handle: ListenerHandle) -> Bool {
        listeners.detach(handle)
    }

    // MARK: Dispatch

    /// Runs the listeners and the store's own work (at priority 0) in order.
    private func dispatch<I, O>(_ action: Action<I, O>, _ input: I, store perform: @Sendable (I) async throws -> O)
        async throws -> ActionEvent<I, O>
    {
        let event = ActionEvent<I, O>(action: action.name, input: input)
        var storeRan = false
        for entry in listeners.listeners(for: action.name) {
            if !storeRan, entry.priority <= 0 {
                storeRan = true
                if !event.isPropagationStopped { event.result = await outcome { try await perform(event.input) } }
            }
            if event.isPropagationStopped { break }
            try await entry.run(event)
        }
        if !storeRan, !event.isPropagationStopped {
            event.result = await outcome { try await perform(event.input) }
        }
        return event
    }

    private func outcome<O>(_ body: () async throws -> O) async -> Result<O, any Error> {
        do {
            return .success(try await body())
        } catch {
            return .failure(error)
        }
    }

    /// The operation's result, or `fallback` when no one produced one.
    private func value<I, O>(_ event: ActionEvent<I, O>, otherwise fallback: () throws -> O) throws -> O {
        guard let result = event.result else { return try fallback() }
        return try result.get()
    }

    /// Runs a notification's listeners whose priority passes `filter`.
    private func notify(_ event: ActionEvent<NoValue, NoValue>, _ filter: (Int) -> Bool) async throws {
        for entry in listeners.listeners(for: event.action) where filter(entry.priority) {
            if event.isPropagationStopped { return }
            try await entry.run(event)
        }
    }

    private static let stoppedAppend = AppendResult(streamVersion: 0, lastGlobalPosition: nil)

    // MARK: EventStore

    @discardableResult
    public func create(_ stream: StreamName, metadata: Metadata, events: [EventMessage]) async throws -> AppendResult {
        let inner = innerStore
        let event = try await dispatch(.create, CreateInput(stream: stream, metadata: metadata, events: events)) {
            try await inner.create($0.stream, metadata: $0.metadata, events: $0.events)
        }
        return try value(event) { Self.stoppedAppend }
    }

    @discardableResult
    public func append(_ events: [EventMessage], to stream: StreamName, expectedVersion: ExpectedVersion) async throws
        -> AppendResult
    {
        let inner = innerStore
        let event = try await dispatch(.append, AppendInput(stream: stream, events: events, expectedVersion: expectedVersion)) {
            try await inner.append($0.events, to: $0.stream, expectedVersion: $0.expectedVersion)
        }
        return try value(event) { Self.stoppedAppend }
    }

    public func load(_ stream: StreamName, from: Int, count: Int?, matching: MetadataMatcher?) async throws
        -> RecordedEventSequence
    {
        try StoreValidation.load(from: from, count: count)
        let inner = innerStore
        let event = try await dispatch(.load, LoadInput(stream: stream, from: from, count: count, matcher: matching)) {
            try await inner.load($0.stream, from: $0.from ?? 1, count: $0.count, matching: $0.matcher)
        }
        return try value(event) { throw EventStoreError.streamNotFound(event.input.stream) }
    }

    public func loadReverse(_ stream: StreamName, from: Int?, count: Int?, matching: MetadataMatcher?) async throws
        -> RecordedEventSequence
    {
        try StoreValidation.load(from: from, count: count)
        let inner = innerStore
        let event = try await dispatch(.loadReverse, LoadInput(stream: stream, from: from, count: count, matcher: matching)) {
            try await inner.loadReverse($0.stream, from: $0.from, count: $0.count, matching: $0.matcher)
        }
        return try value(event) { throw EventStoreError.streamNotFound(event.input.stream) }
    }

    public func delete(_ stream: StreamName, mode: DeleteMode) async throws {
        let inner = innerStore
        let event = try await dispatch(.delete, DeleteInput(stream: stream, mode: mode)) {
            try await inner.delete($0.stream, mode: $0.mode)
            return NoValue()
        }
        _ = try value(event) { NoValue() }
    }

    public func hasStream(_ stream: StreamName) async throws -> Bool {
        let inner = innerStore
        let event = try await dispatch(.hasStream, StreamInput(stream: stream)) { try await inner.hasStream($0.stream) }
        return try value(event) { false }
    }

    public func streamMetadata(of stream: StreamName) async throws -> Metadata {
        let inner = innerStore
        let event = try await dispatch(.streamMetadata, StreamInput(stream: stream)) {
            try await inner.streamMetadata(of: $0.stream)
        }
        return try value(event) { throw EventStoreError.streamNotFound(event.input.stream) }
    }

    public func updateStreamMetadata(_ metadata: Metadata, of stream: StreamName) async throws {
        let inner = innerStore
        let event = try await dispatch(.updateStreamMetadata, UpdateStreamMetadataInput(stream: stream, metadata: metadata)) {
            try await inner.updateStreamMetadata($0.metadata, of: $0.stream)
            return NoValue()
        }
        _ = try value(event) { NoValue() }
    }

    public func streamNames(_ filter: NameFilter, matching: MetadataMatcher?, limit: Int, offset: Int) async throws
        -> [StreamName]
    {
        let inner = innerStore
        let action: Action<StreamNamesInput, [StreamName]>
        if case .regex = filter { action = .streamNamesRegex } else { action = .streamNames }
        let event = try await dispatch(action, StreamNamesInput(filter: filter, matcher: matching, limit: limit, offset: offset)) {
            try await inner.streamNames($0.filter, matching: $0.matcher, limit: $0.limit, offset: $0.offset)
        }
        return try value(event) { [] }
    }

    public func categoryNames(_ filter: NameFilter, limit: Int, offset: Int) async throws -> [String] {
        let inner = innerStore
        let action: Action<CategoryNamesInput, [String]>
        if case .regex = filter { action = .categoryNamesRegex } else { action = .categoryNames }
        let event = try await dispatch(action, CategoryNamesInput(filter: filter, limit: limit, offset: offset)) {
            try await inner.categoryNames($0.filter, limit: $0.limit, offset: $0.offset)
        }
        return try value(event) { [] }
    }

    @discardableResult
    public func transaction<T: Sendable>(_ body: @Sendable (any EventStore) async throws -> T) async throws -> T {
        let begin = ActionEvent<NoValue, NoValue>(action: .beginTransaction, input: NoValue())
        let commit = ActionEvent<NoValue, NoValue>(action: .commit, input: NoValue())
        let rollback = ActionEvent<NoValue, NoValue>(action: .rollback, input: NoValue())
        let listeners = self.listeners
        try await notify(begin) { $0 > 0 }
        let result: T
        do {
            result = try await innerStore.transaction { innerTransaction in
                try await self.notify(begin) { $0 <= 0 }
                let transactionStore = ActionEventEmitterEventStore(inner: innerTransaction, listeners: listeners)
                do {
                    let result = try await body(transactionStore)
                    try await self.notify(commit) { $0 > 0 }
                    return result
                } catch {
                    rollback.result = .failure(error)
                    try await self.notify(rollback) { $0 > 0 }
                    throw error
                }
            }
        } catch {
            if rollback.result == nil { rollback.result = .failure(error) }
            try await notify(rollback) { $0 <= 0 }
            throw error
        }
        try await notify(commit) { $0 <= 0 }
        return result
    }
}

extension ActionEventEmitterEventStore: GlobalOrderEventStore {
    private func globalOrderStore() throws -> any GlobalOrderEventStore {
        guard let store = innerStore as? any GlobalOrderEventStore else {
            throw EventStoreError.invalidArgument("the wrapped store cannot be read in global order")
        }
        return store
    }

    /// The wrapped store's logger.
    public var logger: Logger {
        (innerStore as? any GlobalOrderEventStore)?.logger ?? (innerStore as? any ProjectionStore)?.logger ?? Logger(label: "eventstore")
    }

    /// Reads the wrapped store's global order (no action events; upcasters do not apply).
    public func readAll(after position: GlobalPosition, of target: SubscriptionTarget, limit: Int) async throws
        -> [RecordedEvent]
    {
        try await globalOrderStore().readAll(after: position, of: target, limit: limit)
    }

    public func readPage(after position: GlobalPosition, of target: SubscriptionTarget, limit: Int) async throws
        -> GlobalOrderPage
    {
        try await globalOrderStore().readPage(after: position, of: target, limit: limit)
    }

    public func eventCount(after position: GlobalPosition, of target: SubscriptionTarget, limit: Int) async throws -> Int {
        try await globalOrderStore().eventCount(after: position, of: target, limit: limit)
    }

    public func headPosition() async throws -> GlobalPosition { try await globalOrderStore().headPosition() }

    @_spi(Backend) public func readableHead() async throws -> GlobalPosition { try await globalOrderStore().readableHead() }

    @_spi(Backend) public var appendNotifier: AppendNotifier {
        (innerStore as? any GlobalOrderEventStore)?.appendNotifier ?? fallbackNotifier
    }

    @_spi(Backend) public var pollInterval: Duration { (innerStore as? any GlobalOrderEventStore)?.pollInterval ?? .seconds(1) }

    public func checkpoint(named name: String) async throws -> GlobalPosition? {
        try await globalOrderStore().checkpoint(named: name)
    }

    public func saveCheckpoint(_ position: GlobalPosition, named name: String) async throws {
        try await globalOrderStore().saveCheckpoint(position, named: name)
    }
}

extension ActionEventEmitterEventStore: SnapshotStore {
    private func snapshotStore() throws -> any SnapshotStore {
        guard let store = innerStore as? any SnapshotStore else {
            throw EventStoreError.invalidArgument("the wrapped store keeps no snapshots")
        }
        return store
    }

    /// The wrapped store's snapshots (no action events).
    public func snapshot(ofType aggregateType: String, id aggregateID: String) async throws -> Snapshot? {
        try await snapshotStore().snapshot(ofType: aggregateType, id: aggregateID)
    }

    public func save(_ snapshots: [Snapshot]) async throws { try await snapshotStore().save(snapshots) }

    public func removeAll(ofType aggregateType: String) async throws { try await snapshotStore().removeAll(ofType: aggregateType) }
}

extension ActionEventEmitterEventStore: ProjectionStore {
    private func projectionStore() throws -> any ProjectionStore {
        guard let store = innerStore as? any ProjectionStore else {
            throw EventStoreError.invalidArgument("the wrapped store keeps no projections")
        }
        return store
    }

    /// How the wrapped store's runners read it: a partitioned store's merged order too.
    @_spi(Backend) public var projectionFeed: ProjectionFeed {
        (innerStore as? any ProjectionStore)?.projectionFeed ?? ProjectionFeed(globalOrderOf: self)
    }

    /// The wrapped store's projection rows (no action events). Events a projection emits go through this
    /// store, with its action events.
    public func projectionRecord(named name: String) async throws -> ProjectionRecord? {
        try await projectionStore().projectionRecord(named: name)
    }

    public func projectionNames(_ filter: NameFilter, limit: Int, offset: Int) async throws -> [String] {
        try await projectionStore().projectionNames(filter, limit: limit, offset: offset)
    }

    @_spi(Backend) public func changeProjection<Result: Sendable>(
        named name: String, _ change: @escaping @Sendable (inout ProjectionRecord?) throws -> ProjectionChange<Result>
    ) async throws -> Result {
        try await projectionStore().changeProjection(named: name, change)
    }
}

extension ActionEventEmitterEventStore: ConsumerGroupRecordStore {
    private func consumerGroupStore() throws -> any ConsumerGroupRecordStore {
        guard let store = innerStore as? any ConsumerGroupRecordStore else {
            throw EventStoreError.invalidArgument("the wrapped store keeps no consumer groups")
        }
        return store
    }

    /// The wrapped store's order (a partitioned store's merged order when it wraps one).
    @_spi(Backend) public var consumerGroupFeed: ProjectionFeed {
        (innerStore as? any ConsumerGroupStore)?.consumerGroupFeed ?? projectionFeed
    }

    /// The wrapped store's consumer groups (no action events); their reads go through this store.
    @_spi(Backend) public func consumerGroupRecord(named name: String) async throws -> ConsumerGroupRecord? {
        try await consumerGroupStore().consumerGroupRecord(named: name)
    }

    public func consumerGroupNames(limit: Int, offset: Int) async throws -> [String] {
        try await consumerGroupStore().consumerGroupNames(limit: limit, offset: offset)
    }

    @_spi(Backend) public func changeConsumerGroup<Result: Sendable>(
        named name: String, _ change: @escaping @Sendable (inout ConsumerGroupRecord?, Int64) throws -> Result
    ) async throws -> Result {
        try await consumerGroupStore().changeConsumerGroup(named: name, change)
    }
}

extension ActionEventEmitterEventStore: ScavengingEventStore {
    /// The wrapped store's scavenge (no action events: it removes only what reads no longer show).
    /// - Throws: `invalidArgument` when the wrapped store does not scavenge.
    @discardableResult
    public func scavenge() async throws -> ScavengeResult {
        guard let store = innerStore as? any ScavengingEventStore else {
            throw EventStoreError.invalidArgument("the wrapped store does not scavenge")
        }
        return try await store.scavenge()
    }
}
