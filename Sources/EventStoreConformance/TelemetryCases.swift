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
        ConformanceCase("telemetry", "subscriptionAndProjectionPagesAreConsumerSpansThatParentTheirReads") { store in
            let store = try store.projecting()
            try await store.create("paged-1", events: [EventMessage(messageName: "E"), EventMessage(messageName: "E")])
            let tracer = RecordingTracer()
            try await withTracer(tracer) {
                var events = try await store.followable().subscribe(to: .stream("paged-1")).makeAsyncIterator()
                #expect(try await events.next()?.position == 1)
                try await ProjectionManager(store: store).createProjection("paged").initialState(0).fromStream("paged-1")
                    .whenAny { n, _, _ in n + 1 }.run(keepRunning: false)
            }
            // A backend may first read a page that cannot show the commit yet (PostgreSQL's readable head): the
            // page that delivered is the one with both events.
            let reads = tracer.spans(named: "eventstore read_all")
            let subscriptionPages = tracer.spans(named: "eventstore subscription page")
            #expect(subscriptionPages.allSatisfy { $0.kind == .consumer && $0.attribute("eventstore.target") == "stream paged-1" })
            let subscriptionPage = try #require(subscriptionPages.first { $0.attribute("eventstore.events") == "2" })
            #expect(reads.contains { $0.parent == subscriptionPage.ids }, "the page's read is its child")
            let projectionPages = tracer.spans(named: "eventstore projection page")
            #expect(projectionPages.allSatisfy { $0.kind == .consumer && $0.attribute("eventstore.projection") == "paged" })
            let projectionPage = try #require(projectionPages.first { $0.attribute("eventstore.events") == "2" })
            #expect(reads.contains { $0.parent == projectionPage.ids }, "the page's read is its child")
            #expect(reads.allSatisfy { $0.attribute("db.operation.name") == "read_all" && $0.kind == .client })
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
