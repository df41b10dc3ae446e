// Names renamed in 0.2, kept for one release: one name, `readBatchSize`, for "events per read"; a
// projection's position is its `globalPosition` (a checkpoint is what a durable subscription saves).

extension InMemoryEventStore {
    /// The old name of ``readBatchSize``.
    @available(*, deprecated, renamed: "readBatchSize")
    public nonisolated var loadBatchSize: Int { readBatchSize }

    /// The old spelling of ``init(readBatchSize:logger:telemetry:)``.
    @available(*, deprecated, renamed: "init(readBatchSize:)")
    public init(loadBatchSize: Int) { self.init(readBatchSize: loadBatchSize) }
}

extension ProjectionOptions {
    /// The old name of ``readBatchSize``.
    @available(*, deprecated, renamed: "readBatchSize")
    public var loadCount: Int {
        get { readBatchSize }
        set { readBatchSize = newValue }
    }

    /// The old spelling of ``init(persistBlockSize:readBatchSize:lockTimeout:idleCheckInterval:)``.
    @available(*, deprecated, renamed: "init(persistBlockSize:readBatchSize:lockTimeout:idleCheckInterval:)")
    public init(
        persistBlockSize: Int = 1000, loadCount: Int, lockTimeout: Duration = .seconds(5),
        idleCheckInterval: Duration = .seconds(1)
    ) {
        self.init(
            persistBlockSize: persistBlockSize, readBatchSize: loadCount, lockTimeout: lockTimeout,
            idleCheckInterval: idleCheckInterval)
    }
}

extension GlobalOrderEventStore {
    /// The old spelling of ``subscribe(to:from:readBatchSize:clock:logger:)``.
    @available(*, deprecated, renamed: "subscribe(to:from:readBatchSize:clock:)")
    public func subscribe(
        to target: SubscriptionTarget, from start: SubscriptionStart = .start, bufferSize: Int
    ) async throws -> EventSubscription {
        try await subscribe(to: target, from: start, readBatchSize: bufferSize)
    }

    /// The old spelling of ``runSubscription(named:to:readBatchSize:clock:logger:metrics:lagInterval:handler:)``.
    @available(*, deprecated, renamed: "runSubscription(named:to:readBatchSize:clock:handler:)")
    public func runSubscription(
        named name: String, to target: SubscriptionTarget, bufferSize: Int,
        handler: (RecordedEvent) async throws -> Void
    ) async throws {
        try await runSubscription(named: name, to: target, readBatchSize: bufferSize, handler: handler)
    }
}

extension ProjectionRecord {
    /// The old name of ``globalPosition``.
    @available(*, deprecated, renamed: "globalPosition")
    public var checkpoint: GlobalPosition? {
        get { globalPosition }
        set { globalPosition = newValue }
    }
}
