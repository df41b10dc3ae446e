import EventStore
import EventStoreConformance
import EventStoreHTTP
import EventStoreSQLite
import EventStoreTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Prometheus
import Testing

/// Issue 21: `/metrics` against a known state, and the spans of a request.
@Suite("HTTP telemetry", .watchdog())
struct HTTPTelemetryTests {
    /// Each value `/metrics` reports for a state the test made: a projection's lag in events and seconds
    /// (its own source only), the store's operation timings by backend and operation, and its failures by code.
    @Test func metricsReportTheLagTimingsAndErrorsOfAKnownState() async throws {
        let registry = PrometheusCollectorRegistry()
        var configuration = EventStoreHTTPConfiguration()
        configuration.metricsRegistry = registry
        let telemetry = EventStoreTelemetry(metrics: PrometheusMetricsFactory(registry: registry))
        try await withServer(configuration: configuration, telemetry: telemetry) { client, store in
            let long = Date().addingTimeInterval(-300)
            let recent = Date().addingTimeInterval(-100)
            try await store.create("order-1", events: (1...3).map { _ in EventMessage(messageName: "Placed", createdAt: long) })
            try await ProjectionManager(store: store).createProjection("orders").initialState(0).fromCategory("order")
                .whenAny { n, _, _ in n + 1 }.run(keepRunning: false)
            try await store.append((1...2).map { _ in EventMessage(messageName: "Paid", createdAt: recent) }, to: "order-1")
            try await store.create("invoice-1", events: [EventMessage(messageName: "Sent", createdAt: long)])
            let refused = try await client.execute(
                uri: "/stream/order-1", method: .post, headers: [.contentType: "application/json", HTTPField.Name("ES-ExpectedVersion")!: "1"],
                body: events(["Late"]))
            #expect(refused.status == .conflict || refused.status == .badRequest, "\(text(refused))")

            let metrics = MetricsText(text(try await client.execute(uri: "/metrics", method: .get)))
            #expect(metrics.value("eventstore_projection_lag_events", ["projection": "orders"]) == 2, "\(metrics)")
            let seconds = try #require(metrics.value("eventstore_projection_lag_seconds", ["projection": "orders"]), "\(metrics)")
            #expect(seconds >= 100 && seconds < 160, "the oldest event not handled was recorded 100 s ago: \(seconds)")
            let appends = ["backend": "sqlite", "operation": "append"]
            // The append of two events, and the one refused (HTTP).
            #expect(metrics.value("eventstore_operation_duration_seconds_count", appends) == 2, "\(metrics)")
            #expect(metrics.value("eventstore_operation_duration_seconds_count", ["backend": "sqlite", "operation": "create"]) == 2)
            let sum = try #require(metrics.value("eventstore_operation_duration_seconds_sum", appends))
            #expect(sum > 0 && sum < 60)
            #expect(metrics.value("eventstore_operation_duration_seconds_bucket", appends.merging(["le": "+Inf"]) { $1 }) == 2)
            #expect(
                metrics.value("eventstore_errors_total", ["backend": "sqlite", "operation": "append", "code": "wrong_expected_version"])
                    == 1, "\(metrics)")
            #expect(metrics.samples("eventstore_errors_total").count == 1, "no other failure: \(metrics)")
            #expect(metrics.value("eventstore_global_order_stall_seconds", [:]) == 0)

            // Once the projection has caught up, both lags are 0.
            try await ProjectionManager(store: store).createProjection("orders").initialState(0).fromCategory("order")
                .whenAny { n, _, _ in n + 1 }.run(keepRunning: false)
            let caughtUp = MetricsText(text(try await client.execute(uri: "/metrics", method: .get)))
            #expect(caughtUp.value("eventstore_projection_lag_events", ["projection": "orders"]) == 0)
            #expect(caughtUp.value("eventstore_projection_lag_seconds", ["projection": "orders"]) == 0)
        }
    }

    /// A request's span (Hummingbird's `TracingMiddleware`) continues the caller's `traceparent`, the store's
    /// append is its child, and the stored event keeps the append span's `traceparent`.
    @Test func aRequestsSpanContinuesItsTraceParentAndParentsTheStoresSpans() async throws {
        let tracer = RecordingTracer()
        var configuration = EventStoreHTTPConfiguration()
        configuration.tracer = tracer
        let caller = SpanIDs(traceID: "4bf92f3577b34da6a3ce929d0e0e4736", spanID: "00f067aa0ba902b7")
        try await withServer(configuration: configuration) { client, store in
            let posted = try await client.execute(
                uri: "/stream/traced-1", method: .post,
                headers: [.contentType: "application/json", HTTPField.Name("traceparent")!: caller.traceParent], body: events(["Sent"]))
            #expect(posted.status == .noContent)
            // The request's span ends once its response is written.
            let request = try await within(.seconds(10), "the request's span ends") {
                while true {
                    if let span = tracer.finishedSpans.first(where: { $0.kind == .server }) { return span }
                    try await Task.sleep(for: .milliseconds(10))
                }
            }
            #expect(request.parent == caller)
            #expect(request.ids.traceID == caller.traceID)
            #expect(request.name == "/stream/{name}")
            // The route appends with `any` first, and creates the missing stream with a second append.
            let append = try #require(
                tracer.spans(named: "eventstore append").first { $0.status == nil }, "\(tracer.finishedSpans.map(\.name))")
            #expect(append.parent == request.ids)
            #expect(append.attribute("db.system.name") == "sqlite")
            let stored = try #require(try await store.load("traced-1").collect().first)
            #expect(stored.metadata[MetadataKey.traceParent]?.stringValue == append.ids.traceParent)
        }
    }
}

/// The samples of a Prometheus text exposition, by name and labels.
struct MetricsText: CustomStringConvertible {
    let description: String
    init(_ text: String) { description = text }

    /// Every sample of `name`: its labels and value.
    func samples(_ name: String) -> [(labels: [String: String], value: Double)] {
        description.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#"), let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                return nil
            }
            let series = line[..<space]
            let (sampleName, labelText) =
                series.firstIndex(of: "{").map { (series[..<$0], series[series.index(after: $0)..<(series.lastIndex(of: "}") ?? series.endIndex)]) }
                ?? (series, "")
            guard sampleName == name else { return nil }
            var labels: [String: String] = [:]
            for pair in labelText.split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { labels[String(parts[0])] = String(parts[1].dropFirst().dropLast()) }
            }
            return (labels, value)
        }
    }

    /// The value of the sample of `name` with exactly `labels`.
    func value(_ name: String, _ labels: [String: String]) -> Double? {
        samples(name).first { $0.labels == labels }?.value
    }
}
