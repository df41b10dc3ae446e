// The store below forwards the backend API (`appendNotifier`, `pollInterval`) too.
@_spi(Backend) import EventStore
import EventStoreConformance
import EventStoreTestSupport
import Logging
import Synchronization
import Testing

/// Forwards to an in-memory store, but its first `failures` global-order reads fail as a lost connection
/// would (`backend`); keeps the position each read started after.
private final class FlakyStore: GlobalOrderEventStore {
    let inner = InMemoryEventStore()
    let failures: Int
    let reads = Atomic<Int>(0)
    let positions = Mutex<[GlobalPosition]>([])

    init(failures: Int = 0) { self.failures = failures }

    func readAll(after position: GlobalPosition, of target: SubscriptionTarget, limit: Int) async throws -> [RecordedEvent] {
        try await readPage(after: position, of: target, limit: limit).events
    }

    func readPage(after position: GlobalPosition, of target: SubscriptionTarget, limit: Int) async throws -> GlobalOrderPage {
        let read = reads.add(1, ordering: .relaxed).newValue
        if read <= failures { throw EventStoreError.backend("connection lost (read \(read))") }
        positions.withLock { $0.append(position) }
        return try await inner.readPage(after: position, of: target, limit: limit)
    }

    func headPosition() async throws -> GlobalPosition { try await inner.headPosition() }
    var appendNotifier: AppendNotifier { inner.appendNotifier }
    var pollInterval: Duration { inner.pollInterval }
    func checkpoint(named name: String) async throws -> GlobalPosition? { try await inner.checkpoint(named: name) }
    func saveCheckpoint(_ position: GlobalPosition, named name: String) async throws {
        try await inner.saveCheckpoint(position, named: name)
    }

    func load(_ stream: StreamName, from: Int, count: Int?, matching: MetadataMatcher?) async throws
        -> RecordedEventSequence
    {
        try await inner.load(stream, from: from, count: count, matching: matching)
    }
    func loadReverse(_ stream: StreamName, from: Int?, count: Int?, matching: MetadataMatcher?) async throws
        -> RecordedEventSequence
    {
        try await inner.loadReverse(stream, from: from, count: count, matching: matching)
    }
    func hasStream(_ stream: StreamName) async throws -> Bool { try await inner.hasStream(stream) }
    func streamMetadata(of stream: StreamName) async throws -> Metadata { try await inner.streamMetadata(of: stream) }
    func streamNames(_ filter: NameFilter, matching: MetadataMatcher?, limit: Int, offset: Int) async throws
        -> [StreamName]
    {
        try await inner.streamNames(filter, matching: matching, limit: limit, offset: offset)
    }
    func categoryNames(_ filter: NameFilter, limit: Int, offset: Int) async throws -> [String] {
        try await inner.categoryNames(filter, limit: limit, offset: offset)
    }
    @discardableResult
    func create(_ stream: StreamName, metadata: Metadata, events: [EventMessage]) async throws -> AppendResult {
        try await inner.create(stream, metadata: metadata, events: events)
    }
    @discardableResult
    func append(_ events: [EventMessage], to stream: StreamName, expectedVersion: ExpectedVersion) async throws
        -> AppendResult
    {
        try await inner.append(events, to: stream, expectedVersion: expectedVersion)
    }
    func delete(_ stream: StreamName, mode: DeleteMode) async throws { try await inner.delete(stream, mode: mode) }
    func updateStreamMetadata(_ metadata: Metadata, of stream: StreamName) async throws {
        try await inner.updateStreamMetadata(metadata, of: stream)
    }
    @discardableResult
    func transaction<T: Sendable>(_ body: @Sendable (any EventStore) async throws -> T) async throws -> T {
        try await inner.transaction(body)
    }
}

extension FlakyStore: ProjectionStore {
    func projectionRecord(named name: String) async throws -> ProjectionRecord? { try await inner.projectionRecord(named: name) }
    func projectionNames(_ filter: NameFilter, limit: Int, offset: Int) async throws -> [String] {
        try await inner.projectionNames(filter, limit: limit, offset: offset)
    }
    func changeProjection<Result: Sendable>(
        named name: String, _ change: @escaping @Sendable (inout ProjectionRecord?) throws -> ProjectionChange<Result>
    ) async throws -> Result {
        try await inner.changeProjection(named: name, change)
    }
}

private func registered(_ name: String) -> EventMessage {
    EventMessage(messageName: "UserRegistered", payload: ["name": .string(name)])
}

/// Timing that runs on a clock the test moves: back-off, waits and idle checks, without sleeping.
@Suite("Clock-driven runners and subscriptions", .watchdog())
struct ClockDrivenTests {
    /// A subscription retries a failed read after 100 ms, then twice as long each time, on its clock.
    @Test func aSubscriptionBacksOffOnItsClockAfterBackendFailures() async throws {
        let store = FlakyStore(failures: 3)
        try await store.create("user-1", metadata: [:], events: [registered("Alice")])
        let clock = TestClock()
        let log = LogRecorder()
        let subscription = try await store.subscribe(to: .all, clock: clock, logger: log.logger())
        let first = Task {
            var iterator = subscription.makeAsyncIterator()
            return try await iterator.next()
        }
        for delay in [100, 200, 400] {
            try await within(.seconds(30), "the subscription sleeps \(delay) ms") { await clock.sleepers(atLeast: 1) }
            let reads = store.reads.load(ordering: .relaxed)
            clock.advance(by: .milliseconds(delay - 1))
            #expect(clock.sleeperCount == 1, "woke before its \(delay) ms back-off")
            #expect(store.reads.load(ordering: .relaxed) == reads)
            clock.advance(by: .milliseconds(1))
        }
        let event = try await within(.seconds(30), "the fourth read delivers the event") { try await first.value }
        #expect(event?.messageName == "UserRegistered")
        #expect(store.reads.load(ordering: .relaxed) == 4)
        // The first failure of the run is a warning, the next two debug detail, and the read that ends the run
        // a notice: each with the target and the position the reads start from.
        let failures = log.all.filter { $0.message.contains("read failed") }
        #expect(failures.map(\.level) == [.warning, .debug, .debug])
        let recovered = log.entries(.notice, containing: "reads again after 3 failed reads")
        #expect(recovered.count == 1)
        for entry in failures + recovered {
            #expect(entry.metadata["eventstore.target"] == "all")
            #expect(entry.metadata["eventstore.position"] == "\(GlobalPosition.start)")
        }
    }

    /// A subscription to a quiet stream goes on from where its last read looked, past other streams' events,
    /// not from its own last event: its polls do not read again all that was stored since (review B21).
    @Test func aSubscriptionToAQuietStreamReadsOnFromWhereItsLastReadLooked() async throws {
        let store = FlakyStore()
        try await store.create("quiet-1", metadata: [:], events: [registered("Alice")])
        let clock = TestClock()
        let subscription = try await store.subscribe(to: .stream("quiet-1"), clock: clock)
        let reader = Task {
            var iterator = subscription.makeAsyncIterator()
            return [try await iterator.next(), try await iterator.next()].compactMap { $0?.position }
        }
        try await within(.seconds(30), "the subscription waits after its first event") { await clock.sleepers(atLeast: 1) }
        let busy = try #require(
            try await store.create("busy-1", metadata: [:], events: (1...5).map { registered("\($0)") }).lastGlobalPosition)
        try await within(.seconds(30), "the append wakes the subscription, which reads again") {
            while store.positions.withLock({ $0.count }) < 3 { try await Task.sleep(for: .milliseconds(5)) }
        }
        try await store.append([registered("Bob")], to: "quiet-1", expectedVersion: .any)
        #expect(try await within(.seconds(30), "the next event is delivered") { try await reader.value } == [1, 2])
        let positions = store.positions.withLock { $0 }
        #expect(positions.last.map { $0 >= busy } == true, "\(positions)")
    }

    /// A projection of a quiet stream keeps, as its position, where its last read looked.
    @Test func aProjectionOfAQuietStreamReadsOnFromWhereItsLastReadLooked() async throws {
        let store = FlakyStore()
        try await store.create("quiet-1", metadata: [:], events: [registered("Alice")])
        let busy = try #require(
            try await store.create("busy-1", metadata: [:], events: (1...5).map { registered("\($0)") }).lastGlobalPosition)
        let manager = ProjectionManager(store: store)
        let projection = manager.createQuery().initialState(0).fromStream("quiet-1")
            .when([.on("UserRegistered") { count, _, _ in count + 1 }])
        try await projection.run(keepRunning: false)
        #expect(projection.state == 1)
        store.positions.withLock { $0.removeAll() }
        try await store.append([registered("Bob")], to: "quiet-1", expectedVersion: .any)
        try await projection.run(keepRunning: false)
        #expect(projection.state == 2)
        let positions = store.positions.withLock { $0 }
        #expect(positions.first.map { $0 >= busy } == true, "\(positions)")
    }

    /// A live runner reads a stop command written by a manager at its idle check, which comes when its clock
    /// has moved by the idle check interval, not before.
    @Test func aLiveRunnerReadsACommandAtItsIdleCheckWhenItsClockGetsThere() async throws {
        let store = InMemoryEventStore()
        try await store.create("user-1", events: [registered("Alice"), registered("Bob")])
        let manager = ProjectionManager(store: store)
        // The idle check every 2 s, the in-memory store's poll every 1 s: two waits before a check. The lease
        // (on the wall clock) lasts longer than any run here.
        let options = ProjectionOptions(lockTimeout: .seconds(120), idleCheckInterval: .seconds(2))
        let projection = manager.createProjection("user-count", options: options).initialState(0).fromCategory("user")
            .when([.on("UserRegistered") { count, _, _ in count + 1 }])
        let clock = TestClock()
        let run = Task { try await projection.run(keepRunning: true, clock: clock) }

        // Waiting for events: one sleeper for appends, one for stop requests.
        try await within(.seconds(30), "the runner waits for events") { await clock.sleepers(atLeast: 2) }
        #expect(try await manager.status(of: "user-count") == .running)
        #expect(projection.state == 2)
        try await manager.stopProjection("user-count")

        clock.advance(by: .seconds(1))
        try await within(.seconds(30), "the runner waits again, its idle check not due") { await clock.sleepers(atLeast: 2) }
        #expect(try await manager.status(of: "user-count") == .stopping, "read the command before its idle check")

        clock.advance(by: .seconds(1))
        try await within(.seconds(30), "the runner obeys the stop at its idle check") { try await run.value }
        #expect(try await manager.status(of: "user-count") == .idle)
        #expect(try await manager.state(of: "user-count") == 2)
    }

    /// An append wakes a live runner at once, with no time passing on its clock.
    @Test func anAppendWakesALiveRunnerWithoutItsClockMoving() async throws {
        let store = InMemoryEventStore()
        let manager = ProjectionManager(store: store)
        let projection = manager.createProjection("user-count").initialState(0).fromCategory("user")
            .when([.on("UserRegistered") { count, _, _ in count + 1 }])
        let clock = TestClock()
        let run = Task { try await projection.run(keepRunning: true, clock: clock) }
        try await within(.seconds(30), "the runner waits for events") { await clock.sleepers(atLeast: 2) }
        try await store.create("user-1", events: [registered("Alice")])
        try await within(.seconds(30), "the runner handles the appended event") {
            while projection.state != 1 { try await Task.sleep(for: .milliseconds(5)) }
        }
        #expect(clock.now == TestClock.Instant(offset: .zero))
        projection.stop()
        try await within(.seconds(30), "the runner stops") { try await run.value }
        #expect(try await manager.state(of: "user-count") == 1)
    }
}
