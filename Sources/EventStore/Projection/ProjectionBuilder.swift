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
    public func emit(_ event: EventMessage) async throws {
        try await emitter.append(event, to: emitter.ownStream)
    }

    /// Appends a copy of an event to another stream, creating the stream when missing.
    public func linkTo(_ stream: StreamName, _ event: EventMessage) async throws {
        try await emitter.append(event, to: stream)
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
/// round trip in the usual case, and right even when someone else deleted the stream meanwhile).
struct Emitter: Sendable {
    let store: any EventStore
    let ownStream: StreamName

    func append(_ event: EventMessage, to stream: StreamName) async throws {
        do {
            try await store.append([event], to: stream, expectedVersion: .any)
        } catch let error as EventStoreError where error.code == .streamNotFound {
            do {
                try await store.create(stream, metadata: [:], events: [event])
            } catch let error as EventStoreError where error.code == .streamExists {
                try await store.append([event], to: stream, expectedVersion: .any)
            }
        }
    }
}

/// The state of a projection that was given no initial state.
public struct EmptyState: Codable, Sendable, Hashable {
    public init() {}
}

/// One handler of a `when` list: the events of one message name.
public struct ProjectionHandler<State: Sendable, Context: ProjectionContext>: Sendable {
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
    let store: any GlobalOrderEventStore
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
