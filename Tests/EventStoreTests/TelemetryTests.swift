@_spi(Backend) import EventStore
import EventStoreSQLite
import EventStoreConformance
import EventStoreTestSupport
import Foundation
import Logging
import MetricsTestKit
import Synchronization
import Testing

/// Issue 21: what the stores, durable subscriptions and projection runners log and measure.
@Suite("Telemetry", .watchdog())
struct TelemetryTests {
    @Test func theInMemoryStoreTimesItsOperationsAndCountsFailuresByCode() async throws {
        let metrics = TestMetrics()
        try await StoreMetricsCheck.run(InMemoryEventStore(telemetry: EventStoreTelemetry(metrics: metrics)), metrics: metrics, backend: "memory")
    }

    @Test func theSQLiteStoreTimesItsOperationsAndCountsFailuresByCode() async throws {
        try await Self.withSQLiteFile { path in
            let metrics = TestMetrics()
            let store = try await SQLiteEventStore(
                configuration: SQLiteConfiguration(path: path), telemetry: EventStoreTelemetry(metrics: metrics))
            try await StoreMetricsCheck.run(store, metrics: metrics, backend: "sqlite")
            await store.close()
        }
    }

    /// A row that cannot be read back is logged once, as an error naming the stream and the operation; the
    /// caller gets `corrupt`.
    @Test func aCorruptRowIsLoggedOnceWithItsStream() async throws {
        try await Self.withSQLiteFile { path in
            let log = LogRecorder()
            let store = try await SQLiteEventStore(configuration: SQLiteConfiguration(path: path), logger: log.logger())
            try await store.create("broken-1", events: [EventMessage(messageName: "A"), EventMessage(messageName: "B")])
            try await SQLShell.sqlite(path).run("UPDATE events SET metadata = '{\"nested\":{\"a\":1}}' WHERE position = 2")
            let error = await #expect(throws: EventStoreError.self) { _ = try await store.load("broken-1").collect() }
            #expect(error?.code == .corrupt)
            let logged = log.all.filter { $0.level >= .warning }
            #expect(logged.count == 1, "\(logged.map(\.message))")
            #expect(logged.first?.level == .error)
            #expect(logged.first?.metadata["eventstore.stream"] == "broken-1")
            #expect(logged.first?.metadata["eventstore.operation"] == "load")
            #expect(logged.first?.metadata["eventstore.backend"] == "sqlite")
            await store.close()
        }
    }

    /// A durable subscription reports how far it is behind its own target, in events and in seconds, and
    /// both fall to 0 once it has caught up; events of other streams do not count.
    @Test func aDurableSubscriptionReportsItsLagInEventsAndSeconds() async throws {
        let store = InMemoryEventStore()
        let recorded = Date().addingTimeInterval(-100)
        try await store.create("lag-1", events: (1...5).map { _ in EventMessage(messageName: "E", createdAt: recorded) })
        try await store.create("elsewhere-1", events: (1...4).map { _ in EventMessage(messageName: "E", createdAt: recorded) })
        let metrics = TestMetrics()
        let (held, release) = AsyncStream<Void>.makeStream()
        let handled = Mutex(0)
        let run = Task {
            try await store.runSubscription(named: "lagging", to: .category("lag"), metrics: metrics, lagInterval: .milliseconds(20)) { _ in
                // The third event waits: two are handled, three are behind.
                if handled.withLock({ $0 += 1; return $0 }) == 3 { for await _ in held {} }
            }
        }
        defer { run.cancel() }
        @Sendable func gauges() -> (events: Double?, seconds: Double?) {
            (
                try? metrics.expectGauge("eventstore_subscription_lag_events", [("subscription", "lagging")]).lastValue,
                try? metrics.expectGauge("eventstore_subscription_lag_seconds", [("subscription", "lagging")]).lastValue
            )
        }
        try await within(.seconds(30), "the lag shows the three events behind") {
            while gauges().events != 3 { try await Task.sleep(for: .milliseconds(10)) }
        }
        let seconds = try #require(gauges().seconds)
        #expect(seconds >= 100 && seconds < 160, "\(seconds)")
        release.finish()
        try await within(.seconds(30), "the lag falls to nothing") {
            while gauges().events != 0 || gauges().seconds != 0 { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(handled.withLock { $0 } == 5)
    }

    /// A runner that finds the lease of a runner that died (expired, never released) takes it over and says
    /// so once, naming the runner it took over from.
    @Test func aLeaseTakenOverFromADeadRunnerIsLogged() async throws {
        let store = InMemoryEventStore()
        try await store.create("counted-1", events: [EventMessage(messageName: "E")])
        let expired = Timestamp.microseconds(Date()) - 60_000_000
        try await store.changeProjection(named: "counter") { row in
            row = ProjectionRecord(name: "counter", kind: .projection, status: .running, lockedUntil: expired, leaseOwner: "dead-runner")
            return ProjectionChange(())
        }
        let log = LogRecorder()
        let projection = ProjectionManager(store: store).createProjection("counter").initialState(0).fromAll().whenAny { n, _, _ in n + 1 }
        try await projection.run(keepRunning: false, logger: log.logger())
        let taken = log.entries(.notice, containing: "took the projection over from runner dead-runner")
        #expect(taken.count == 1, "\(log.all.map(\.message))")
        #expect(taken.first?.metadata["eventstore.projection"] == "counter")
        // A runner that finds the row free logs nothing of the kind.
        let quiet = LogRecorder()
        try await projection.run(keepRunning: false, logger: quiet.logger())
        #expect(quiet.all.filter { $0.level >= .notice }.isEmpty, "\(quiet.all.map(\.message))")
    }

    static func withSQLiteFile(_ body: (String) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("es-telemetry-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try await body(directory.appendingPathComponent("events.sqlite").path)
    }
}
