import EventStore
import EventStoreConformance
import EventStorePostgres
import EventStoreTestSupport
import Foundation
import Logging
import PostgresNIO
import Synchronization
import Testing

// One at a time: each test makes a server of its own (initdb), which is heavy beside the other suites.
@Suite("PostgreSQL faults", .enabled(if: PostgresTestServer.shouldRun, "\(PostgresTestServer.skipMessage)"), .serialized, .watchdog(.seconds(180)))
struct PostgresFaultTests {
    /// Runs `body` with a server of its own and a store on it, with short limits so that faults show quickly;
    /// removes the server afterwards, whatever state the body left it in.
    static func withServer(
        _ name: String, queryTimeout: Duration = .seconds(5), logger: Logger = PostgresTestServer.logger,
        _ body: @Sendable (PrivatePostgresServer, PostgresEventStore) async throws -> Void
    ) async throws {
        let server = try await PrivatePostgresServer.start(name)
        do {
            var configuration = try PostgresConfiguration(url: server.url)
            configuration.connectTimeout = .seconds(10)
            configuration.queryTimeout = queryTimeout
            try await PostgresEventStore.withStore(configuration: configuration, logger: logger) { store in
                try await body(server, store)
            }
        } catch {
            await server.remove()
            throw error
        }
        await server.remove()
    }

    /// Issue 21: the outage is logged once, as a warning at its first failed call and a notice at the first
    /// call that succeeds after it (as a failover looks to the store), however many calls fail in between.
    @Test func callsFailClearlyWhileTheServerIsDownAndSucceedWhenItIsBack() async throws {
        let log = LogRecorder()
        try await Self.withServer("down", logger: log.logger()) { server, store in
            try await store.create("fault-1", events: [EventMessage(messageName: "Before")])
            try await server.stop()
            Watchdog.step("append while the server is down")
            let error = await #expect(throws: EventStoreError.self) {
                try await store.append([EventMessage(messageName: "During")], to: "fault-1")
            }
            #expect(error?.code == .backend)
            try await server.resume()
            #expect(try await appendRetrying(store, EventMessage(messageName: "After"), to: "fault-1"))
            #expect(try await store.load("fault-1").collect().map(\.messageName) == ["Before", "After"])
        }
        let failing = log.entries(.warning, containing: "calls to the database fail")
        #expect(failing.count == 1, "\(log.all.map(\.message))")
        #expect(failing.first?.metadata["eventstore.backend"] == "postgresql")
        #expect(failing.first?.metadata["eventstore.operation"] == "append")
        #expect(log.entries(.notice, containing: "calls to the database succeed again after").count == 1)
    }

    /// A live subscriber survives a server restart: it retries with back-off and resumes after the last event
    /// it delivered, without loss or duplicates; cancelling it afterwards ends it.
    @Test func aLiveSubscriberResumesAfterTheServerRestarts() async throws {
        try await Self.withServer("restart") { server, store in
            try await store.create("live-1")
            let subscription = try await store.subscribe(to: .stream("live-1"))
            let delivered = DeliveredPositions()
            let consumer = Task { for try await event in subscription { delivered.add(event.position) } }
            try await store.append((1...3).map { _ in EventMessage(messageName: "Before") }, to: "live-1")
            #expect(try await delivered.wait(for: 3))
            try await server.stop()
            try await Task.sleep(for: .milliseconds(300))
            try await server.resume()
            #expect(try await appendRetrying(store, EventMessage(messageName: "After"), count: 3, to: "live-1"))
            #expect(try await delivered.wait(for: 6))
            Watchdog.step("cancel the subscriber")
            consumer.cancel()
            _ = try? await consumer.value
            #expect(delivered.positions == [1, 2, 3, 4, 5, 6])
        }
    }

    /// On a server that stops answering (SIGSTOP: its sockets stay open), a read and a write fail at the query
    /// deadline with `backend` errors that say what happened, a write's saying that its outcome is unknown;
    /// once the server runs again the pool's replaced connections serve the next calls.
    @Test func callsOnAFrozenServerFailAtTheirDeadlineAndThePoolRecovers() async throws {
        try await Self.withServer("frozen") { server, store in
            try await store.create("frozen-1", events: [EventMessage(messageName: "Before")])
            try await openConnections(4, in: store)
            try await server.freeze()
            Watchdog.step("load from the frozen server")
            let readError = await #expect(throws: EventStoreError.self) { try await store.load("frozen-1").collect() }
            #expect(readError?.code == .backend)
            #expect(readError?.reason.contains("did not answer within 5.0 seconds") == true)
            Watchdog.step("append to the frozen server")
            let writeError = await #expect(throws: EventStoreError.self) {
                try await store.append([EventMessage(messageName: "Lost?")], to: "frozen-1")
            }
            // Which `backend` error depends on the connection the pool hands out: an idle one opened before
            // the freeze (outcome unknown at the deadline), the one the load's deadline just closed (failed at
            // once), or a new one to the frozen server (the connect timeout). The COMMIT test below pins the
            // outcome-unknown case.
            #expect(writeError?.code == .backend, "\(String(describing: writeError))")
            try server.thaw()
            #expect(try await appendRetrying(store, EventMessage(messageName: "After"), to: "frozen-1"))
            // The timed-out append may or may not have committed, but never in part, and nothing else is lost. Its
            // statement waited in the frozen server's socket; the thawed server may run it after "After" (whose
            // connection was new), so it may come last.
            let names = try await store.load("frozen-1").collect().map(\.messageName)
            #expect(
                names == ["Before", "After"] || names == ["Before", "Lost?", "After"] || names == ["Before", "After", "Lost?"], "\(names)")
        }
    }

    /// A transaction whose COMMIT meets a frozen server fails with an outcome-unknown error (the COMMIT may
    /// run once the server wakes), and commits all of its writes or none.
    @Test func aCommitOnAFrozenServerFailsAsOutcomeUnknown() async throws {
        try await Self.withServer("commit") { server, store in
            try await store.create("commit-1")
            Watchdog.step("a transaction whose commit meets a frozen server")
            let error = await #expect(throws: EventStoreError.self) {
                try await store.transaction { tx in
                    try await tx.append([EventMessage(messageName: "A")], to: "commit-1")
                    try await tx.append([EventMessage(messageName: "B")], to: "commit-1")
                    try await server.freeze()
                }
            }
            #expect(error?.code == .backend)
            #expect(error?.reason.contains("outcome unknown") == true)
            try server.thaw()
            let names = try await loadRetrying(store, "commit-1")?.map(\.messageName)
            #expect(names == [] || names == ["A", "B"])
        }
    }

    /// Cancelling a read that waits on a frozen server returns at once (the connection is closed under it)
    /// with CancellationError, long before the query deadline.
    @Test func cancellingAReadOnAFrozenServerReturns() async throws {
        try await Self.withServer("cancel", queryTimeout: .seconds(3600)) { server, store in
            try await store.create("cancel-1", events: [EventMessage(messageName: "A")])
            try await openConnections(2, in: store)
            try await server.freeze()
            let started = Started()
            let reader = Task {
                started.set()
                return try await store.load("cancel-1").collect()
            }
            while !started.isSet { try await Task.sleep(for: .milliseconds(10)) }
            try await Task.sleep(for: .milliseconds(200))
            Watchdog.step("cancel a read on the frozen server (its deadline is an hour away)")
            reader.cancel()
            let result = await reader.result
            #expect(throws: CancellationError.self) { try result.get() }
            try server.thaw()
            #expect(try await loadRetrying(store, "cancel-1")?.map(\.messageName) == ["A"])
        }
    }

    /// The listening connection is checked: when its server stops answering, the notifications end with an
    /// error instead of falling silent for good, and a new listener hears appends once the server is back.
    @Test func aListenerOnAFrozenServerEndsAndANewOneHearsAppends() async throws {
        try await Self.withServer("listen") { server, store in
            try await store.create("listen-1")
            let firstListener = store.notifications()
            let ended = try await within(.seconds(60), "the listener on the frozen server ends") {
                var notifications = firstListener.makeAsyncIterator()
                guard try await notifications.next() == .start else { return false }
                try await server.freeze()
                do {
                    while try await notifications.next() != nil {}
                } catch {}
                return true
            }
            #expect(ended)
            try server.thaw()
            let heard = try await within(.seconds(60), "a new listener hears an append after the thaw") {
                for _ in 0..<100 {
                    do {
                        var notifications = store.notifications().makeAsyncIterator()
                        guard try await notifications.next() == .start else { continue }
                        let appended = try await store.append([EventMessage(messageName: "A")], to: "listen-1")
                        return try await notifications.next() == appended.lastGlobalPosition
                    } catch where !(error is CancellationError) {
                        // The server is still waking (a refused connection, a failed LISTEN): again.
                        try await Task.sleep(for: .milliseconds(100))
                    }
                }
                return false
            }
            #expect(heard)
        }
    }
}

/// Appends `count` copies of `event`, retrying `backend` errors every 100 ms, at most 100 times (a server that
/// just came back); `true` once the append succeeded.
func appendRetrying(_ store: PostgresEventStore, _ event: EventMessage, count: Int = 1, to stream: StreamName) async throws -> Bool {
    Watchdog.step("append to \(stream), retrying while the server comes back")
    for _ in 0..<100 {
        do {
            try await store.append((0..<count).map { _ in EventMessage(messageName: event.messageName) }, to: stream)
            return true
        } catch let error as EventStoreError where error.code == .backend {
            try await Task.sleep(for: .milliseconds(100))
        }
    }
    return false
}

/// Loads `stream`, retrying `backend` errors every 100 ms, at most 100 times (a server that just came back).
func loadRetrying(_ store: PostgresEventStore, _ stream: StreamName) async throws -> [RecordedEvent]? {
    Watchdog.step("load \(stream), retrying while the server comes back")
    for _ in 0..<100 {
        do {
            return try await store.load(stream).collect()
        } catch let error as EventStoreError where error.code == .backend {
            try await Task.sleep(for: .milliseconds(100))
        }
    }
    return nil
}

/// Makes the pool open `count` connections (each held for a moment at once), so that calls after a fault
/// find an idle connection opened before it.
func openConnections(_ count: Int, in store: PostgresEventStore) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<count {
            group.addTask { try await store.withConnection { _ = try await $0.query("SELECT pg_sleep(0.2)", logger: PostgresTestServer.logger) } }
        }
        try await group.waitForAll()
    }
}

/// A flag set once, from any task.
final class Started: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

/// Positions a consumer delivered, from any task.
final class DeliveredPositions: Sendable {
    private let state = Mutex<[Int]>([])
    func add(_ position: Int) { state.withLock { $0.append(position) } }
    var positions: [Int] { state.withLock { $0 } }

    /// Waits until `count` positions arrived, at most 60 s.
    func wait(for count: Int) async throws -> Bool {
        Watchdog.step("wait for \(count) delivered events (\(positions.count) so far)")
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        while positions.count < count, clock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        return positions.count >= count
    }
}
