import Foundation
import Synchronization
import Tracing

/// A tracer for tests: it keeps every span that ends, and propagates W3C trace context (`traceparent`) as
/// OpenTelemetry's tracer does, so that tests can check parents, attributes and what an append keeps.
///
/// ```swift
/// let tracer = RecordingTracer()
/// try await withTracer(tracer) { try await store.append(events, to: "order-1") }
/// #expect(tracer.finishedSpans.map(\.name) == ["eventstore append"])
/// ```
public final class RecordingTracer: Tracer, Sendable {
    /// A span that ended, as the tracer saw it.
    public struct FinishedSpan: Sendable {
        public let name: String
        public let kind: SpanKind
        public let ids: SpanIDs
        /// The span it is a child of (in this process or, extracted from a `traceparent`, in another).
        public let parent: SpanIDs?
        public let attributes: SpanAttributes
        public let status: SpanStatus?
        /// The errors recorded, as `String(describing:)` writes them.
        public let errors: [String]

        /// An attribute's value as text (`nil` when it is not set).
        public func attribute(_ name: String) -> String? {
            attributes.get(name).map { attribute in
                switch attribute {
                case let .string(value): return value
                case let .int64(value): return "\(value)"
                case let .int32(value): return "\(value)"
                case let .double(value): return "\(value)"
                case let .bool(value): return "\(value)"
                default: return "\(attribute)"
                }
            }
        }
    }

    private let finished = Mutex<[FinishedSpan]>([])

    public init() {}

    /// The spans that ended, oldest first.
    public var finishedSpans: [FinishedSpan] { finished.withLock { $0 } }

    /// The spans that ended and are named `name`.
    public func spans(named name: String) -> [FinishedSpan] { finishedSpans.filter { $0.name == name } }

    func finish(_ span: FinishedSpan) { finished.withLock { $0.append(span) } }

    public func startSpan<Instant: TracerInstant>(
        _ operationName: String, context: @autoclosure () -> ServiceContext, ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant, function: String, file fileID: String, line: UInt
    ) -> RecordingSpan {
        var context = context()
        let parent = context[SpanIDsKey.self]
        let ids = SpanIDs(traceID: parent?.traceID ?? SpanIDs.random(bytes: 16), spanID: SpanIDs.random(bytes: 8))
        context[SpanIDsKey.self] = ids
        return RecordingSpan(tracer: self, name: operationName, kind: kind, context: context, ids: ids, parent: parent)
    }

    public func forceFlush() {}

    public func inject<Carrier, Inject: Injector>(_ context: ServiceContext, into carrier: inout Carrier, using injector: Inject)
    where Inject.Carrier == Carrier {
        guard let ids = context[SpanIDsKey.self] else { return }
        injector.inject(ids.traceParent, forKey: "traceparent", into: &carrier)
    }

    public func extract<Carrier, Extract: Extractor>(_ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract)
    where Extract.Carrier == Carrier {
        guard let value = extractor.extract(key: "traceparent", from: carrier), let ids = SpanIDs(traceParent: value) else { return }
        context[SpanIDsKey.self] = ids
    }
}

/// A span's trace and span ids, in lower-case hex as W3C trace context writes them.
public struct SpanIDs: Sendable, Hashable {
    public let traceID: String
    public let spanID: String

    public init(traceID: String, spanID: String) {
        self.traceID = traceID
        self.spanID = spanID
    }

    /// `00-<trace id>-<span id>-01`: a sampled span's `traceparent`.
    public var traceParent: String { "00-\(traceID)-\(spanID)-01" }

    /// Reads a `traceparent` of version 00; `nil` for anything else.
    public init?(traceParent: String) {
        let parts = traceParent.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "00", parts[1].count == 32, parts[2].count == 16, parts[3].count == 2,
            parts.dropFirst().allSatisfy({ $0.allSatisfy(\.isHexDigit) })
        else { return nil }
        self.init(traceID: String(parts[1]).lowercased(), spanID: String(parts[2]).lowercased())
    }

    static func random(bytes count: Int) -> String {
        (0..<count).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }
}

enum SpanIDsKey: ServiceContextKey {
    typealias Value = SpanIDs
}

/// A span of a ``RecordingTracer``, handed to it when it ends.
public final class RecordingSpan: Span, Sendable {
    public let context: ServiceContext
    private let tracer: RecordingTracer
    private let kind: SpanKind
    /// Its trace and span ids.
    public let ids: SpanIDs
    private let parent: SpanIDs?
    private let state: Mutex<State>

    private struct State {
        var name: String
        var attributes: SpanAttributes = [:]
        var status: SpanStatus?
        var errors: [String] = []
        var ended = false
    }

    init(tracer: RecordingTracer, name: String, kind: SpanKind, context: ServiceContext, ids: SpanIDs, parent: SpanIDs?) {
        self.tracer = tracer
        self.kind = kind
        self.context = context
        self.ids = ids
        self.parent = parent
        self.state = Mutex(State(name: name))
    }

    public var operationName: String {
        get { state.withLock { $0.name } }
        set { state.withLock { $0.name = newValue } }
    }

    public var attributes: SpanAttributes {
        get { state.withLock { $0.attributes } }
        set { state.withLock { $0.attributes = newValue } }
    }

    public var isRecording: Bool { state.withLock { !$0.ended } }

    public func setStatus(_ status: SpanStatus) { state.withLock { $0.status = status } }

    public func addEvent(_ event: SpanEvent) {}

    public func recordError<Instant: TracerInstant>(_ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant) {
        state.withLock { $0.errors.append(String(describing: error)) }
    }

    public func addLink(_ link: SpanLink) {}

    public func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        let finished: RecordingTracer.FinishedSpan? = state.withLock { state in
            guard !state.ended else { return nil }
            state.ended = true
            return RecordingTracer.FinishedSpan(
                name: state.name, kind: kind, ids: ids, parent: parent, attributes: state.attributes, status: state.status,
                errors: state.errors)
        }
        if let finished { tracer.finish(finished) }
    }
}
