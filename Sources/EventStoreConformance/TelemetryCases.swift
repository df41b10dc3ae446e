import EventStore
import Testing
import Tracing

extension EventStoreConformance {
    /// Every store operation is a span of the caller's trace, and an append keeps its span's `traceparent`.
    static let telemetryCases: [ConformanceCase] = [
        ConformanceCase("telemetry", "operationsAreChildSpansWithDatabaseAttributesAndAnAppendKeepsItsTraceParent") { store in
            let tracer = RecordingTracer()
            let parent = try await withTracer(tracer) {
                try await withSpan("caller") { span in
                    try await store.create("traced-1", events: [EventMessage(messageName: "Opened")])
                    try await store.append(
                        [EventMessage(messageName: "Added"), EventMessage(messageName: "Added")], to: "traced-1",
                        expectedVersion: .exact(1))
                    _ = try await store.all("traced-1")
                    return try #require(span as? RecordingSpan).ids
                }
            }
            let create = try #require(tracer.spans(named: "eventstore create").first)
            let append = try #require(tracer.spans(named: "eventstore append").first)
            let load = try #require(tracer.spans(named: "eventstore load").first)
            for span in [create, append, load] {
                #expect(span.parent == parent, "\(span.name) is a child of the caller's span")
                #expect(span.ids.traceID == parent.traceID)
                #expect(span.kind == .client)
                #expect(span.attribute("db.system.name").map { !$0.isEmpty } == true, "\(span.name) names its database")
                #expect(span.attribute("eventstore.stream") == "traced-1")
                #expect(span.status == nil, "\(span.name) succeeded")
            }
            #expect(create.attribute("db.operation.name") == "create")
            #expect(append.attribute("db.operation.name") == "append")
            #expect(append.attribute("eventstore.events") == "2")
            #expect(load.attribute("db.operation.name") == "load")
            // Each event keeps the traceparent of the span that wrote it, so a consumer continues that trace.
            let events = try await store.all("traced-1")
            #expect(events.map { $0.metadata[MetadataKey.traceParent]?.stringValue } == [
                create.ids.traceParent, append.ids.traceParent, append.ids.traceParent,
            ])
        },
        ConformanceCase("telemetry", "anAppendWithoutATracerKeepsNoTraceParentAndAWritersOwnIsKept") { store in
            let own = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
            try await store.create("untraced-1", events: [EventMessage(messageName: "Opened")])
            let tracer = RecordingTracer()
            _ = try await withTracer(tracer) {
                try await withSpan("caller") { _ in
                    try await store.append(
                        [EventMessage(messageName: "Forwarded", metadata: [MetadataKey.traceParent: .string(own)])], to: "untraced-1")
                }
            }
            let events = try await store.all("untraced-1")
            #expect(events.map { $0.metadata[MetadataKey.traceParent]?.stringValue } == [nil, own])
        },
        ConformanceCase("telemetry", "aFailedOperationIsASpanWithItsErrorCode") { store in
            let tracer = RecordingTracer()
            try await withTracer(tracer) {
                try await store.create("failing-1", events: [EventMessage(messageName: "Opened")])
                await #expect(throws: EventStoreError.self) {
                    try await store.append([EventMessage(messageName: "Late")], to: "failing-1", expectedVersion: .exact(5))
                }
            }
            let failed = try #require(tracer.spans(named: "eventstore append").last)
            #expect(failed.status?.code == .error)
            #expect(failed.attribute("error.type") == "wrong_expected_version")
            #expect(failed.errors.count == 1)
            #expect(failed.parent == nil, "an operation outside any span starts a trace")
            // Nothing of the failed append is stored, and its traceparent is in no event.
            let events = try await store.all("failing-1")
            #expect(events.count == 1 && events[0].metadata[MetadataKey.traceParent]?.stringValue == tracer.spans(named: "eventstore create").first?.ids.traceParent)
        },
    ]
}
