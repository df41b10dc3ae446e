import CoreMetrics
import EventStore
import MetricsTestKit
import Testing

/// What every backend records through its ``EventStoreTelemetry``'s metrics, checked on a store opened with
/// a `TestMetrics` factory: each operation timed under its name, a failure counted under its code.
public enum StoreMetricsCheck {
    public static func run(_ store: any EventStore, metrics: TestMetrics, backend: String) async throws {
        try await store.create("metered-1", events: [EventMessage(messageName: "Opened")])
        try await store.append([EventMessage(messageName: "Added"), EventMessage(messageName: "Added")], to: "metered-1")
        let third = EventMessage(messageName: "Added")
        try await store.append([third], to: "metered-1", expectedVersion: .exact(3))
        // A retry of a stored append (its reply lost) succeeds: an append, not a failure.
        try await store.append([third], to: "metered-1", expectedVersion: .exact(3))
        await #expect(throws: EventStoreError.self) {
            try await store.append([EventMessage(messageName: "Late")], to: "metered-1", expectedVersion: .exact(1))
        }
        #expect(try await store.load("metered-1").collect().count == 4)

        func timer(_ operation: String) throws -> TestTimer {
            try metrics.expectTimer("eventstore_operation_duration_seconds", [("backend", backend), ("operation", operation)])
        }
        #expect(try timer("create").values.count == 1)
        #expect(try timer("append").values.count == 4, "two appends, the retry and the one refused")
        #expect(try timer("append").values.allSatisfy { $0 > 0 })
        // The retry and the refused append look for an earlier append of their events (idempotence).
        #expect(try timer("load").values.count >= 1)
        let errors = metrics.counters(label: "eventstore_errors_total")
        #expect(errors.count == 1, "\(errors.map(\.dimensions))")
        let refused = try metrics.expectCounter(
            "eventstore_errors_total", [("backend", backend), ("operation", "append"), ("code", "wrong_expected_version")])
        #expect(refused.totalValue == 1)
    }
}
