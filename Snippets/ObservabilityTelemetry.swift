// A store's logger, metrics and spans, and what an append keeps of its trace.
import CoreMetrics
import EventStore
import EventStoreConformance
import EventStoreSQLite
import Foundation
import Logging
import Tracing

// snippet.hide
let folder = FileManager.default.temporaryDirectory.appendingPathComponent("observability-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
let path = folder.appendingPathComponent("events.sqlite").path
let logger = Logger(label: "billing")
// snippet.show

// snippet.open
let store = try await SQLiteEventStore(
    configuration: SQLiteConfiguration(path: path), logger: logger,
    telemetry: EventStoreTelemetry(metrics: MetricsSystem.factory, tracer: nil))  // the defaults
// snippet.end

// snippet.spans
// In tests, RecordingTracer keeps the spans that end.
let tracer = RecordingTracer()
_ = try await withTracer(tracer) {
    try await withSpan("place order") { _ in
        try await store.create("order-1", events: [EventMessage(messageName: "OrderPlaced")])
    }
}
let spans = tracer.spans(named: "eventstore create")
precondition(spans.count == 1)
let span = spans[0]
precondition(span.kind == .client)
precondition(span.attribute("db.system.name") == "sqlite" && span.attribute("db.operation.name") == "create")
precondition(span.attribute("eventstore.stream") == "order-1")

// The event keeps its span's traceparent: a consumer continues the trace from it.
let placed = try await store.load("order-1").collect()[0]
precondition(placed.metadata[MetadataKey.traceParent]?.stringValue == span.ids.traceParent)
// snippet.end

// snippet.hide
await store.close()
try FileManager.default.removeItem(at: folder)
// snippet.show
