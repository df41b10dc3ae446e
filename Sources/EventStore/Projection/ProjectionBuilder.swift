import Foundation
import Synchronization

/// What every handler can reach while a projection runs.
public protocol ProjectionContext: Sendable {
    /// Asks the run to stop after the current event; what was processed is kept.
    func stop()
    /// The stream of the event being handled.
    var streamName: StreamName? { get }
}

/// The per-run facts behind a context.
final class ContextCore: Sendable {
    private let stopFlag = Atomic<Bool>(false)
    private let stream = Mutex<StreamName?>(nil)
    /// The event being handled (stream and position), and how many events its handler wrote so far.
    private let source = Mutex<(stream: StreamName, position: Int, writes: Int)?>(nil)
    /// Checks, before each write a handler makes, that the run still holds its lease (set while a
    /// persistent run holds one).
    private let writeGuard = Mutex<(@Sendable () async throws -> Void)?>(nil)
    /// Woken by ``stop()`` so that a live run waiting for events stops at once.
    let wakeUp = AppendNotifier()

    var stopRequested: Bool { stopFlag.load(ordering: .acquiring) }
    func stop() {
        stopFlag.store(true, ordering: .releasing)
        wakeUp.signal()
    }
    func clearStop() { stopFlag.store(false, ordering: .releasing) }
    var streamName: StreamName? {
        get { stream.withLock { $0 } }
        set { stream.withLock { $0 = newValue } }
    }

    /// Starts handling `event`: its writes are counted from 0.
    func begin(_ event: RecordedEvent) {
        stream.withLock { $0 = event.streamName }
        source.withLock { $0 = (event.streamName, event.position, 0) }
    }

    /// The next write of the handler of the current event: its source and its index among that handler's
    /// writes; `nil` outside a handler.
    func nextWrite() -> (stream: StreamName, position: Int, index: Int)? {
        source.withLock { source in
            guard let current = source else { return nil }
            source?.writes += 1
            return (current.stream, current.position, current.writes)
        }
    }

    func setWriteGuard(_ check: (@Sendable () async throws -> Void)?) { writeGuard.withLock { $0 = check } }

    /// Fails when the run lost its lease (`projectionLeaseLost`), so that nothing is written after that.
    func checkBeforeWrite() async throws {
        if let check = writeGuard.withLock({ $0 }) { try await check() }
    }
}

/// The context of a query's handlers.
public final class QueryContext: ProjectionContext {
    let core: ContextCore
    init(core: ContextCore) { self.core = core }
    public func stop() { core.stop() }
    public var streamName: StreamName? { core.streamName }
}

/// The context of an emitting projection's handlers: it can also write events.
public final class EmittingContext: ProjectionContext {
    let core: ContextCore
    let emitter: Emitter
    init(core: ContextCore, emitter: Emitter) {
        self.core = core
        self.emitter = emitter
    }
    public func stop() { core.stop() }
    public var streamName: StreamName? { core.streamName }
    /// The projection's name.
    public var projectionName: String { emitter.ownStream.rawValue }

    /// Appends an event to the stream named like the projection, creating the stream when missing.
    ///
    /// The event is written with an id of its own, derived from the projection, the event being handled and
    /// how many events its handler wrote before (the uuid of `event` is not kept), and without `_position`
    /// (the stream adds its own): a replay after a crash or a reset writes the same ids, and an event whose id
    /// is already in the stream is not written again. Fails with `projectionLeaseLost`, writing nothing, when
    /// another runner took the projection over.
    public func emit(_ event: EventMessage) async throws {
        try await emitter.append(event, to: emitter.ownStream, core: core)
    }

    /// Appends a copy of an event to another stream, creating the stream when missing; the copy's id and
    /// position are its own, as ``emit(_:)`` writes them.
    public func linkTo(_ stream: StreamName, _ event: EventMessage) async throws {
        try await emitter.append(event, to: stream, core: core)
    }
}

/// The context of a read-model projection's handlers: they stack operations on the read model.
public final class ReadModelContext<Model: ReadModel>: ProjectionContext {
    let core: ContextCore
    /// The read model, to ``ReadModel/stack(_:)`` operations on.
    public let readModel: Model
    init(core: ContextCore, readModel: Model) {
        self.core = core
        self.readModel = readModel
    }
    public func stop() { core.stop() }
    public var streamName: StreamName? { core.streamName }
}

/// Writes an emitting projection's events: an append, and when the stream is missing, a create (one
/// round trip in the usual case, and right even when someone else deleted the stream meanwhile). A stream
/// it creates, and every event it writes, carry ``MetadataKey/projection`` with the projection's name, so
/// that a reset deletes only the streams the projection made and wrote alone.
struct Emitter: Sendable {
    let store: any EventStore
    let ownStream: StreamName

    func append(_ event: EventMessage, to stream: StreamName, core: ContextCore) async throws {
        try await core.checkBeforeWrite()
        var copy = event
        if let write = core.nextWrite() {
            copy.uuid = EmittedEventID.uuid(
                projection: ownStream.rawValue, source: write.stream, position: write.position, index: write.index)
        }
        copy.metadata[MetadataKey.position] = nil
        copy.metadata[MetadataKey.projection] = .string(ownStream.rawValue)
        do {
            try await write(copy, to: stream)
        } catch let error as EventStoreError where error.code == .duplicateEvent {
            // Written before this replay: the same source gives the same id.
            let sameID = try MetadataMatcher().property(.uuid, .equals, .scalar(.string(copy.uuid.lowercased)))
            if try await store.load(stream, from: 1, count: 1, matching: sameID).collect().isEmpty { throw error }
        }
    }

    private func write(_ event: EventMessage, to stream: StreamName) async throws {
        do {
            try await store.append([event], to: stream, expectedVersion: .any)
        } catch let error as EventStoreError where error.code == .streamNotFound {
            do {
                try await store.create(stream, metadata: [MetadataKey.projection: .string(ownStream.rawValue)], events: [event])
            } catch let error as EventStoreError where error.code == .streamExists {
                try await store.append([event], to: stream, expectedVersion: .any)
            }
        }
    }

    /// Deletes the streams the projection named `name` created and alone wrote to (its own stream and link
    /// targets it made); a stream that existed before it, or that holds events others wrote, stays, with
    /// the events the projection wrote there.
    static func deleteCreatedStreams(of name: String, in store: any EventStore) async throws {
        let created = try MetadataMatcher().metadata(MetadataKey.projection, .equals, .scalar(.string(name)))
        var streams: [StreamName] = []
        var offset = 0
        while true {
            let page = try await store.streamNames(.all, matching: created, limit: 100, offset: offset)
            streams += page
            if page.count < 100 { break }
            offset += page.count
        }
        for stream in streams {
            do {
                let version = try await store.loadReverse(stream, from: nil, count: 1, matching: nil).collect().first?.position ?? 0
                var own = 0
                for try await _ in try await store.load(stream, from: 1, count: nil, matching: created) { own += 1 }
                if own == version { try await store.delete(stream) }
            } catch let error as EventStoreError where error.code == .streamNotFound {
                continue
            }
        }
    }
}

/// The ids of the events emitting projections write: the same projection, source event and index give the
/// same id on every run.
enum EmittedEventID {
    static func uuid(projection: String, source: StreamName, position: Int, index: Int) -> UUID {
        var bytes = Array(projection.utf8)
        bytes.append(0)
        bytes += Array(source.rawValue.utf8)
        bytes.append(0)
        bytes += Array(String(position).utf8)
        bytes.append(0)
        bytes += Array(String(index).utf8)
        let high = hash(bytes, basis: 0xCBF2_9CE4_8422_2325)
        let low = hash(bytes, basis: 0x84222325_CBF29CE4)
        var uuid = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 {
            uuid[i] = UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64(i)))
            uuid[8 + i] = UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64(i)))
        }
        uuid[6] = (uuid[6] & 0x0F) | 0x80  // version 8: a name-based id of our own
        uuid[8] = (uuid[8] & 0x3F) | 0x80  // the RFC 9562 variant
        return UUID(uuid: (
            uuid[0], uuid[1], uuid[2], uuid[3], uuid[4], uuid[5], uuid[6], uuid[7],
            uuid[8], uuid[9], uuid[10], uuid[11], uuid[12], uuid[13], uuid[14], uuid[15]))
    }

    /// FNV-1a over the bytes from `basis`, finished with SplitMix64's mix so that every bit depends on every byte.
    private static func hash(_ bytes: [UInt8], basis: UInt64) -> UInt64 {
        var h = basis
        for byte in bytes {
            h ^= UInt64(byte)
            h = h &* 0x100_0000_01B3
        }
        h = (h ^ (h >> 30)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
        return h ^ (h >> 31)
    }
}

/// The state of a projection that was given no initial state.
public struct EmptyState: Codable, Sendable, Hashable {
    /// The empty state; it is stored as `{}`.
    public init() {}
}

/// One handler of a `when` list: the events of one message name.
public struct ProjectionHandler<State: Sendable, Context: ProjectionContext>: Sendable {
    /// A handler's closure: gets the state, the event and the run's context, and returns the new state. An
    /// error it throws ends the run, which rethrows it (a persistent projection keeps its last save).
    public typealias Body = @Sendable (State, RecordedEvent, Context) async throws -> State
    let messageName: String
    let body: Body

    /// Handles the events named `messageName`: gets the state and the event, returns the new state.
    public static func on(_ messageName: String, _ body: @escaping Body) -> Self {
        Self(messageName: messageName, body: body)
    }

    /// Handles the events of a ``DomainEvent`` type, decoded.
    public static func on<E: DomainEvent>(
        _ type: E.Type, _ body: @escaping @Sendable (State, E, RecordedEvent, Context) async throws -> State
    ) -> Self {
        Self(messageName: E.messageName) { state, event, context in
            try await body(state, try event.decode(E.self), event, context)
        }
    }
}

/// Where a projection reads: streams, categories, or every stream.
public struct ProjectionSource: Sendable, Hashable {
    let target: SubscriptionTarget
    let problem: String?

    /// One stream.
    public static func stream(_ stream: StreamName) -> Self { Self(target: .stream(stream), problem: nil) }
    /// Several streams, merged in global order.
    public static func streams(_ streams: [StreamName]) -> Self {
        Self(target: .streams(streams), problem: streams.isEmpty ? "fromStreams needs at least one stream" : nil)
    }
    /// Every stream of a category.
    public static func category(_ category: String) -> Self {
        Self(target: .category(category), problem: category.isEmpty ? "a category name cannot be empty" : nil)
    }
    /// Every stream of several categories.
    public static func categories(_ categories: [String]) -> Self {
        let problem =
            categories.isEmpty
            ? "fromCategories needs at least one category"
            : categories.contains(where: \.isEmpty) ? "a category name cannot be empty" : nil
        return Self(target: .categories(categories), problem: problem)
    }
    /// Every stream except internal ones (names starting with `$`).
    public static let all = Self(target: .all, problem: nil)
}

/// How a runner is wired to its kind (query, emitting projection, read-model projection).
struct RunnerSetup<Context: ProjectionContext>: Sendable {
    let store: any ProjectionStore
    /// `nil` for a query: nothing persists.
    let persistence: ProjectionPersistence?
    let options: ProjectionOptions
    let makeContext: @Sendable (ContextCore) -> Context
}

/// Where a persistent projection keeps its row, and what kind it is.
struct ProjectionPersistence: Sendable {
    let store: any ProjectionStore
    let name: String
    let kind: ProjectionRecord.Kind
    let readModel: (any ReadModel)?
}

/// The first step of defining a projection: an initial state (optional) or the source.
///
/// The steps are types: a second `from…`, a second `when…`, or running before the source and the handlers
/// are chosen do not compile.
public struct ProjectionBuilder<Context: ProjectionContext>: ProjectionSourceChoosing, Sendable {
    let setup: RunnerSetup<Context>

    /// prooph's `init`: the state a run starts from (and a reset returns to). Runs again on reset; a
    /// read-model projection's may stack operations.
    public func initialState<State: Codable & Sendable>(_ make: @escaping @Sendable (Context) -> State)
        -> InitializedProjectionBuilder<Context, State>
    {
        InitializedProjectionBuilder(setup: setup, makeState: make)
    }

    /// The state a run starts from (and a reset returns to).
    public func initialState<State: Codable & Sendable>(_ state: State) -> InitializedProjectionBuilder<Context, State> {
        InitializedProjectionBuilder(setup: setup) { _ in state }
    }

    public func from(_ source: ProjectionSource) -> SourcedProjectionBuilder<Context, EmptyState> {
        initialState(EmptyState()).from(source)
    }
}

/// A projection with its initial state, waiting for its source.
public struct InitializedProjectionBuilder<Context: ProjectionContext, State: Codable & Sendable>:
    ProjectionSourceChoosing, Sendable
{
    let setup: RunnerSetup<Context>
    let makeState: @Sendable (Context) -> State

    public func from(_ source: ProjectionSource) -> SourcedProjectionBuilder<Context, State> {
        SourcedProjectionBuilder(setup: setup, makeState: makeState, source: source, matcher: nil)
    }
}

/// The `from…` step, shared by the first two steps.
public protocol ProjectionSourceChoosing {
    /// The step ``from(_:)`` leads to: a ``SourcedProjectionBuilder``, which takes the handlers.
    associatedtype Sourced
    /// Reads from `source`.
    func from(_ source: ProjectionSource) -> Sourced
}

extension ProjectionSourceChoosing {
    /// Reads one stream.
    public func fromStream(_ stream: StreamName) -> Sourced { from(.stream(stream)) }
    /// Reads several streams, merged in global order.
    public func fromStreams(_ streams: StreamName...) -> Sourced { from(.streams(streams)) }
    /// Reads every stream of a category (names starting with `category-`).
    public func fromCategory(_ category: String) -> Sourced { from(.category(category)) }
    /// Reads every stream of several categories, merged in global order.
    public func fromCategories(_ categories: String...) -> Sourced { from(.categories(categories)) }
    /// Reads every stream except internal ones (names starting with `$`), in global order.
    public func fromAll() -> Sourced { from(.all) }
}

/// A projection with its source, waiting for its handlers.
public struct SourcedProjectionBuilder<Context: ProjectionContext, State: Codable & Sendable>: Sendable {
    let setup: RunnerSetup<Context>
    let makeState: @Sendable (Context) -> State
    let source: ProjectionSource
    let matcher: MetadataMatcher?

    /// Only events whose metadata (or properties) meet the matcher reach the handlers; the others still
    /// advance the projection's positions.
    public func withMetadataMatcher(_ matcher: MetadataMatcher?) -> Self {
        Self(setup: setup, makeState: makeState, source: source, matcher: matcher)
    }

    /// Handlers by message name; events with no handler advance the positions and are otherwise skipped.
    public func when(_ handlers: [ProjectionHandler<State, Context>]) -> ProjectionRunner<Context, State> {
        ProjectionRunner(setup: setup, makeState: makeState, source: source, matcher: matcher, handlers: .byName(handlers))
    }

    /// One handler for every event.
    public func whenAny(_ handler: @escaping ProjectionHandler<State, Context>.Body) -> ProjectionRunner<Context, State> {
        ProjectionRunner(setup: setup, makeState: makeState, source: source, matcher: matcher, handlers: .any(handler))
    }
}

/// A one-pass projection whose state lives only in memory.
public typealias Query<State: Codable & Sendable> = ProjectionRunner<QueryContext, State>
/// A persistent projection that may emit and link events.
public typealias Projection<State: Codable & Sendable> = ProjectionRunner<EmittingContext, State>
/// A persistent projection that keeps a read model.
public typealias ReadModelProjection<Model: ReadModel, State: Codable & Sendable> =
    ProjectionRunner<ReadModelContext<Model>, State>
