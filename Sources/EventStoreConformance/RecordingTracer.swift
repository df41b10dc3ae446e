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
        /// The span's operation name, as it was when the span ended.
        public let name: String
        /// The span's kind (`internal`, `client`, `server`, …), as it was started.
        public let kind: SpanKind
        /// The span's trace and span ids.
        public let ids: SpanIDs
        /// The span it is a child of (in this process or, extracted from a `traceparent`, in another).
        public let parent: SpanIDs?
        /// The span's attributes when it ended.
        public let attributes: SpanAttributes
        /// The status the span was last given, `nil` when it was given none.
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

    /// A tracer that has kept no span yet.
    public init() {}

    /// The spans that ended, oldest first.
    public var finishedSpans: [FinishedSpan] { finished.withLock { $0 } }

    /// The spans that ended and are named `name`.
    public func spans(named name: String) -> [FinishedSpan] { finishedSpans.filter { $0.name == name } }

    func finish(_ span: FinishedSpan) { finished.withLock { $0.append(span) } }

    /// Starts a span, a child of the span whose ids `context` carries (in its trace) or, without one, the
    /// root of a new trace with random ids; the span is kept once it ends.
    /// - Parameters:
    ///   - operationName: the span's name.
    ///   - context: the context of the parent span, if any; the span's own context adds its ids to it.
    ///   - kind: the span's kind.
    ///   - instant: when the span starts; not recorded.
    ///   - function: the function that starts the span; not recorded.
    ///   - fileID: the file that starts the span; not recorded.
    ///   - line: the line that starts the span; not recorded.
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

    /// Does nothing: a span is kept as soon as it ends.
    public func forceFlush() {}

    /// Writes the `traceparent` of the span whose ids `context` carries into `carrier`; nothing when it
    /// carries none.
    /// - Parameters:
    ///   - context: the context whose span is propagated.
    ///   - carrier: where the header goes, such as a request's headers.
    ///   - injector: how a value is written into the carrier.
    public func inject<Carrier, Inject: Injector>(_ context: ServiceContext, into carrier: inout Carrier, using injector: Inject)
    where Inject.Carrier == Carrier {
        guard let ids = context[SpanIDsKey.self] else { return }
        injector.inject(ids.traceParent, forKey: "traceparent", into: &carrier)
    }

    /// Reads a `traceparent` (version 00) from `carrier` into `context`, so that spans started in it are
    /// children of the remote span; a missing or malformed value leaves `context` as it is.
    /// - Parameters:
    ///   - carrier: where the header is read from, such as a request's headers.
    ///   - context: the context that gets the remote span's ids.
    ///   - extractor: how a value is read from the carrier.
    public func extract<Carrier, Extract: Extractor>(_ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract)
    where Extract.Carrier == Carrier {
        guard let value = extractor.extract(key: "traceparent", from: carrier), let ids = SpanIDs(traceParent: value) else { return }
        context[SpanIDsKey.self] = ids
    }
}

/// A span's trace and span ids, in lower-case hex as W3C trace context writes them.
public struct SpanIDs: Sendable, Hashable {
    /// The trace's id: 32 hex digits (16 bytes).
    public let traceID: String
    /// The span's id: 16 hex digits (8 bytes).
    public let spanID: String

    /// The ids as they are given, unchecked.
    /// - Parameters:
    ///   - traceID: the trace's id, 32 lower-case hex digits.
    ///   - spanID: the span's id, 16 lower-case hex digits.
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
    /// The context the span was started in, with the span's ids added: what its children are started in.
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

    /// The span's name; it may be changed until the span ends.
    public var operationName: String {
        get { state.withLock { $0.name } }
        set { state.withLock { $0.name = newValue } }
    }

    /// The span's attributes, kept with it when it ends.
    public var attributes: SpanAttributes {
        get { state.withLock { $0.attributes } }
        set { state.withLock { $0.attributes = newValue } }
    }

    /// `true` until the span ends.
    public var isRecording: Bool { state.withLock { !$0.ended } }

    /// Sets the span's status, replacing the one set before.
    /// - Parameter status: the new status.
    public func setStatus(_ status: SpanStatus) { state.withLock { $0.status = status } }

    /// Does nothing: span events are not recorded.
    /// - Parameter event: the event, dropped.
    public func addEvent(_ event: SpanEvent) {}

    /// Records an error as `String(describing:)` writes it, in ``RecordingTracer/FinishedSpan/errors``.
    /// - Parameters:
    ///   - error: the error.
    ///   - attributes: attributes of the error; not recorded.
    ///   - instant: when it happened; not recorded.
    public func recordError<Instant: TracerInstant>(_ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant) {
        state.withLock { $0.errors.append(String(describing: error)) }
    }

    /// Does nothing: links are not recorded.
    /// - Parameter link: the link, dropped.
    public func addLink(_ link: SpanLink) {}

    /// Ends the span and hands it to its tracer (``RecordingTracer/finishedSpans``); a second call does nothing.
    /// - Parameter instant: when the span ends; not recorded.
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
