import CoreMetrics
import Foundation
import Logging
import Synchronization
import Tracing

/// Where a store sends its metrics and spans (its logs go to the `Logger` it is opened with).
///
/// By default both are the process's own: `MetricsSystem.factory` as it is when the store is opened (bootstrap
/// it first, as swift-metrics asks), and `InstrumentationSystem.tracer` as it is at each operation (so that
/// `withTracer` applies too). A store records, for each operation:
/// - `eventstore_operation_duration_seconds{backend, operation}`: a timer (a histogram in Prometheus);
/// - `eventstore_errors_total{backend, operation, code}`: operations that failed, by ``EventStoreError/Code``
///   (`other` for errors that are not the store's);
/// - a span named `eventstore <operation>` (kind `client`) with OpenTelemetry's database attributes
///   (`db.system.name`, `db.operation.name`) and the store's own (`eventstore.stream`, `eventstore.events`),
///   a child of the caller's span.
///
/// An append made while a span is current keeps the W3C `traceparent` of its span in each event's metadata
/// under ``MetadataKey/traceParent`` (unless the event has one), so that a consumer can continue the trace.
public struct EventStoreTelemetry: Sendable {
    /// The factory of the store's timers and counters; the store makes them when it is opened.
    public var metrics: any MetricsFactory
    /// `nil`: `InstrumentationSystem.tracer` at each operation.
    public var tracer: (any Tracer)?

    /// Where to send metrics and spans.
    /// - Parameters:
    ///   - metrics: the metrics factory; `MetricsSystem.factory` as it is now by default.
    ///   - tracer: the tracer; `nil` (the default) for `InstrumentationSystem.tracer` at each operation.
    public init(metrics: any MetricsFactory = MetricsSystem.factory, tracer: (any Tracer)? = nil) {
        self.metrics = metrics
        self.tracer = tracer
    }
}

/// The operations a store measures; the raw value is their name in metrics and spans.
package enum StoreOperation: String, Sendable, CaseIterable {
    case append, create, load, delete
    case findStream = "find_stream"
    case streamMetadata = "stream_metadata"
    case updateStreamMetadata = "update_stream_metadata"
    case listStreams = "list_streams"
    case listCategories = "list_categories"
    case readAll = "read_all"
    case countEvents = "count_events"
    case headPosition = "head_position"
    case checkpoint
    case saveCheckpoint = "save_checkpoint"
    case transaction
    case readProjection = "read_projection"
    case listProjections = "list_projections"
    case changeProjection = "change_projection"
    case readConsumerGroup = "read_consumer_group"
    case listConsumerGroups = "list_consumer_groups"
    case changeConsumerGroup = "change_consumer_group"
    case readSnapshot = "read_snapshot"
    case saveSnapshots = "save_snapshots"
    case removeSnapshots = "remove_snapshots"
    case scavenge
    case verify
    case readPlacement = "read_placement"
    case changePlacement = "change_placement"
    /// A stream's copy read from, or written to, a member when its bucket moves.
    case copyStream = "copy_stream"
    /// A caller's own work on a connection of the store (PostgreSQL's `withConnection`).
    case connection
}

/// A store's logger, metrics and tracer, and the measuring of its operations. Backend API.
package final class StoreInstruments: Sendable {
    package let logger: Logger
    /// The backend's name as OpenTelemetry's `db.system.name` spells it: `sqlite`, `postgresql`, `mysql`,
    /// and `memory` for the in-memory store.
    package let backend: String
    private let ownTracer: (any Tracer)?
    private let factory: any MetricsFactory
    private let timers: [StoreOperation: CoreMetrics.Timer]
    private let errorCounters = Mutex<[String: Counter]>([:])
    /// Calls failing with `backend` since the first of them: the database is down, unreachable or being
    /// failed over. `nil` while calls succeed.
    private let outage = Mutex<Outage?>(nil)
    /// Whether ``outage`` is set: read on every success, so that a success takes no lock.
    private let inOutage = Atomic<Bool>(false)

    private struct Outage {
        let since: ContinuousClock.Instant
        var failures: Int
    }

    package static let durationLabel = "eventstore_operation_duration_seconds"
    package static let errorsLabel = "eventstore_errors_total"

    package init(backend: String, logger: Logger, telemetry: EventStoreTelemetry) {
        self.backend = backend
        var logger = logger
        logger[metadataKey: "eventstore.backend"] = .string(backend)
        self.logger = logger
        self.ownTracer = telemetry.tracer
        self.factory = telemetry.metrics
        var timers: [StoreOperation: CoreMetrics.Timer] = [:]
        for operation in StoreOperation.allCases {
            timers[operation] = CoreMetrics.Timer(
                label: Self.durationLabel, dimensions: [("backend", backend), ("operation", operation.rawValue)],
                factory: telemetry.metrics)
        }
        self.timers = timers
    }

    /// Runs one operation: timed, in a span, its failure counted by code (and a corrupt row logged).
    package func measure<T>(
        _ operation: StoreOperation, stream: StreamName? = nil, events: Int? = nil,
        isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> T
    ) async throws -> T {
        let started = ContinuousClock.now
        let span = tracer.map { startSpan($0, operation, stream: stream, events: events) }
        defer { span?.end() }
        do {
            let result: T
            if let span {
                result = try await ServiceContext.withValue(span.context) { try await body() }
            } else {
                result = try await body()
            }
            record(operation, since: started)
            if inOutage.load(ordering: .relaxed) { outageEnded() }
            return result
        } catch {
            record(operation, since: started)
            failed(operation, stream: stream, error: error, span: span)
            throw error
        }
    }

    private func record(_ operation: StoreOperation, since started: ContinuousClock.Instant) {
        timers[operation]?.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
    }

    /// The tracer spans go to; `nil` for the no-op tracer (no span is started, no context pushed).
    var tracer: (any Tracer)? {
        let tracer = ownTracer ?? InstrumentationSystem.tracer
        return tracer is NoOpTracer ? nil : tracer
    }

    private func startSpan(_ tracer: any Tracer, _ operation: StoreOperation, stream: StreamName?, events: Int?) -> any Span {
        let span = tracer.startSpan("eventstore \(operation.rawValue)", context: ServiceContext.current ?? .topLevel, ofKind: .client)
        span.attributes["db.system.name"] = backend
        span.attributes["db.operation.name"] = operation.rawValue
        if let stream { span.attributes["eventstore.stream"] = stream.rawValue }
        if let events { span.attributes["eventstore.events"] = events }
        return span
    }

    private func failed(_ operation: StoreOperation, stream: StreamName?, error: any Error, span: (any Span)?) {
        let code = (error as? EventStoreError)?.code.label ?? (error is CancellationError ? "cancelled" : "other")
        errorCounter(operation, code).increment()
        if let span {
            span.attributes["error.type"] = code
            span.recordError(error)
            span.setStatus(SpanStatus(code: .error))
        }
        if let error = error as? EventStoreError, error.code == .backend { outageSeen(error, operation: operation) }
        if let error = error as? EventStoreError, error.code == .corrupt {
            var metadata: Logger.Metadata = ["eventstore.operation": .string(operation.rawValue)]
            if let stream { metadata["eventstore.stream"] = .string(stream.rawValue) }
            logger.error("a stored value is corrupt: \(error.reason)", metadata: metadata)
        }
    }

    /// A call failed with `backend`: the first of a run is logged, as a warning.
    private func outageSeen(_ error: EventStoreError, operation: StoreOperation) {
        let first = outage.withLock { outage in
            if outage == nil {
                outage = Outage(since: .now, failures: 1)
                inOutage.store(true, ordering: .relaxed)
                return true
            }
            outage?.failures += 1
            return false
        }
        if first {
            logger.warning(
                "calls to the database fail (down, unreachable or failing over?): \(error.reason)",
                metadata: ["eventstore.operation": .string(operation.rawValue)])
        }
    }

    /// A call succeeded after a run of `backend` failures: logged once, as a notice.
    private func outageEnded() {
        guard let ended = outage.withLock({ outage in
            defer { outage = nil }
            inOutage.store(false, ordering: .relaxed)
            return outage
        }) else { return }
        let seconds = (ContinuousClock.now - ended.since).seconds
        logger.notice(
            "calls to the database succeed again after \(ended.failures) failed in \(String(format: "%.1f", seconds)) s",
            metadata: ["eventstore.failed_calls": .stringConvertible(ended.failures)])
    }

    private func errorCounter(_ operation: StoreOperation, _ code: String) -> Counter {
        errorCounters.withLock { counters in
            let key = operation.rawValue + " " + code
            if let counter = counters[key] { return counter }
            let counter = Counter(
                label: Self.errorsLabel, dimensions: [("backend", backend), ("operation", operation.rawValue), ("code", code)],
                factory: factory)
            counters[key] = counter
            return counter
        }
    }

    /// `events`, each with the current span's W3C `traceparent` under ``MetadataKey/traceParent`` unless it
    /// has one: unchanged when no span is current (or the tracer writes no `traceparent`).
    package func withTraceParent(_ events: [EventMessage]) -> [EventMessage] {
        guard let traceParent = traceParent() else { return events }
        return events.map { event in
            event.metadata[MetadataKey.traceParent] == nil ? event.withAddedMetadata(MetadataKey.traceParent, .string(traceParent)) : event
        }
    }
}

extension StoreInstruments {
    /// The current span's W3C `traceparent`, `nil` when no span is current (or the tracer writes none): what
    /// an append keeps, and what a remote client sends the server as its `traceparent` header.
    package func traceParent() -> String? {
        guard let tracer, let context = ServiceContext.current else { return nil }
        var carrier: [String: String] = [:]
        tracer.inject(context, into: &carrier, using: TraceParentInjector())
        guard let traceParent = carrier["traceparent"], !traceParent.isEmpty else { return nil }
        return traceParent
    }
}

/// Writes what a tracer injects into a dictionary.
struct TraceParentInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
        carrier[key.lowercased()] = value
    }
}
