import Synchronization

/// The operations of a store that an ``ActionEventEmitterEventStore`` turns into action events.
public enum StoreAction: String, Sendable, Hashable, CaseIterable {
    /// A call of the store method of the same name: `create` and `append` write events, `load` and
    /// `loadReverse` read a stream forward and backward, `delete` deletes a stream, `hasStream` asks whether it
    /// exists, `streamMetadata` reads its metadata and `updateStreamMetadata` replaces it.
    case create, append, load, loadReverse, delete, hasStream, streamMetadata, updateStreamMetadata
    /// A listing: `streamNames` and `categoryNames` with an `all` or `exact` filter, `streamNamesRegex` and
    /// `categoryNamesRegex` with a `regex` filter.
    case streamNames, streamNamesRegex, categoryNames, categoryNamesRegex
    /// A step of a transaction: `beginTransaction` its start, `commit` its commit, `rollback` its rollback after
    /// the body threw.
    case beginTransaction, commit, rollback
}

/// A typed action: its name, the type of its inputs and the type of its result.
///
/// Use the static members (`.append`, `.load`, …) when attaching listeners:
/// ```swift
/// store.attach(.append, priority: 100) { event in
///     event.input.events = event.input.events.map { $0.withAddedMetadata("tenant", "acme") }
/// }
/// ```
public struct Action<Input: Sendable, Output: Sendable>: Sendable, Hashable {
    /// The store operation this action stands for.
    public let name: StoreAction
    init(_ name: StoreAction) { self.name = name }
}

/// The inputs of `create`.
public struct CreateInput: Sendable, Hashable {
    /// The name of the stream to create.
    public var stream: StreamName
    /// The new stream's metadata.
    public var metadata: Metadata
    /// The stream's first events, in order; empty for a stream without events.
    public var events: [EventMessage]
}

/// The inputs of `append`.
public struct AppendInput: Sendable, Hashable {
    /// The stream to append to.
    public var stream: StreamName
    /// The events to append, in order.
    public var events: [EventMessage]
    /// What the writer expects of the stream.
    public var expectedVersion: ExpectedVersion
}

/// The inputs of `load` and `loadReverse` (`from` is `nil` for a reverse load from the newest event).
public struct LoadInput: Sendable, Hashable {
    /// The stream to read.
    public var stream: StreamName
    /// The position to start at: always set for `load` (a listener that sets `nil` reads from 1), `nil`
    /// for a reverse load from the newest event.
    public var from: Int?
    /// The most matched events to read; `nil` for no limit.
    public var count: Int?
    /// The matcher the events must meet; `nil` for every event.
    public var matcher: MetadataMatcher?
}

/// The input of the actions about one stream (`hasStream`, `streamMetadata`).
public struct StreamInput: Sendable, Hashable {
    /// The stream asked about.
    public var stream: StreamName
}

/// The inputs of `delete`.
public struct DeleteInput: Sendable, Hashable {
    /// The stream to delete.
    public var stream: StreamName
    /// How to delete it.
    public var mode: DeleteMode
}

/// The inputs of `updateStreamMetadata`.
public struct UpdateStreamMetadataInput: Sendable, Hashable {
    /// The stream whose metadata to replace.
    public var stream: StreamName
    /// The new metadata, replacing the stream's metadata whole.
    public var metadata: Metadata
}

/// The inputs of `streamNames` and `streamNamesRegex`.
public struct StreamNamesInput: Sendable, Hashable {
    /// Which stream names to list (a call with a `regex` filter is the `streamNamesRegex` action).
    public var filter: NameFilter
    /// The matcher the streams' metadata must meet; `nil` for every stream.
    public var matcher: MetadataMatcher?
    /// The most names to return.
    public var limit: Int
    /// How many names to skip first.
    public var offset: Int
}

/// The inputs of `categoryNames` and `categoryNamesRegex`.
public struct CategoryNamesInput: Sendable, Hashable {
    /// Which category names to list (a call with a `regex` filter is the `categoryNamesRegex` action).
    public var filter: NameFilter
    /// The most names to return.
    public var limit: Int
    /// How many names to skip first.
    public var offset: Int
}

/// The (empty) input and result of the transaction actions, `delete` and `updateStreamMetadata`.
public struct NoValue: Sendable, Hashable {
    /// The empty value.
    public init() {}
}

extension Action where Input == CreateInput, Output == AppendResult {
    /// Creating a stream with its metadata and first events (``EventStore/create(_:metadata:events:)``).
    public static var create: Self { .init(.create) }
}
extension Action where Input == AppendInput, Output == AppendResult {
    /// Appending events to a stream (``EventStore/append(_:to:expectedVersion:)``).
    public static var append: Self { .init(.append) }
}
extension Action where Input == LoadInput, Output == RecordedEventSequence {
    /// Reading a stream forward, oldest first (``ReadOnlyEventStore/load(_:from:count:matching:)``).
    public static var load: Self { .init(.load) }
    /// Reading a stream backward, newest first (``ReadOnlyEventStore/loadReverse(_:from:count:matching:)``).
    public static var loadReverse: Self { .init(.loadReverse) }
}
extension Action where Input == DeleteInput, Output == NoValue {
    /// Deleting a stream, in any ``DeleteMode`` (``EventStore/delete(_:mode:)``).
    public static var delete: Self { .init(.delete) }
}
extension Action where Input == StreamInput, Output == Bool {
    /// Asking whether a stream exists (``ReadOnlyEventStore/hasStream(_:)``).
    public static var hasStream: Self { .init(.hasStream) }
}
extension Action where Input == StreamInput, Output == Metadata {
    /// Reading a stream's metadata (``ReadOnlyEventStore/streamMetadata(of:)``).
    public static var streamMetadata: Self { .init(.streamMetadata) }
}
extension Action where Input == UpdateStreamMetadataInput, Output == NoValue {
    /// Replacing a stream's metadata (``EventStore/updateStreamMetadata(_:of:)``).
    public static var updateStreamMetadata: Self { .init(.updateStreamMetadata) }
}
extension Action where Input == StreamNamesInput, Output == [StreamName] {
    /// Listing stream names with an `all` or `exact` filter
    /// (``ReadOnlyEventStore/streamNames(_:matching:limit:offset:)``).
    public static var streamNames: Self { .init(.streamNames) }
    /// Listing stream names with a `regex` filter (``ReadOnlyEventStore/streamNames(_:matching:limit:offset:)``).
    public static var streamNamesRegex: Self { .init(.streamNamesRegex) }
}
extension Action where Input == CategoryNamesInput, Output == [String] {
    /// Listing category names with an `all` or `exact` filter (``ReadOnlyEventStore/categoryNames(_:limit:offset:)``).
    public static var categoryNames: Self { .init(.categoryNames) }
    /// Listing category names with a `regex` filter (``ReadOnlyEventStore/categoryNames(_:limit:offset:)``).
    public static var categoryNamesRegex: Self { .init(.categoryNamesRegex) }
}
extension Action where Input == NoValue, Output == NoValue {
    /// The start of a ``EventStore/transaction(_:)``: listeners above 0 run before it starts (throwing
    /// prevents it), the others inside it, before the body.
    public static var beginTransaction: Self { .init(.beginTransaction) }
    /// The commit of a transaction: listeners above 0 run after the body and before the commit (throwing
    /// rolls back), the others after the commit.
    public static var commit: Self { .init(.commit) }
    /// The rollback of a transaction whose body threw: listeners above 0 run before the rollback, the
    /// others after it; the action event's result holds the error.
    public static var rollback: Self { .init(.rollback) }
}

/// One store operation on its way through the listeners: its inputs, its result once there is one,
/// and whether propagation was stopped.
///
/// - Important: listeners run one after another, each awaited; an action event must not be kept or
///   used after its listener returns.
public final class ActionEvent<Input: Sendable, Output: Sendable>: @unchecked Sendable {
    /// Which operation this is.
    public let action: StoreAction
    /// The operation's inputs. Listeners that run before the store may replace them.
    public var input: Input
    /// The operation's outcome: `nil` before the store has run (unless a listener set it), then the
    /// store's result or error. Listeners that run after the store may replace it.
    public var result: Result<Output, any Error>?
    /// Whether a listener stopped propagation: listeners after it, and the store if it had not run,
    /// are skipped.
    public private(set) var isPropagationStopped = false

    init(action: StoreAction, input: Input) {
        self.action = action
        self.input = input
    }

    /// Skips the listeners after this one, and the store itself when it has not run yet.
    public func stopPropagation() { isPropagationStopped = true }

    /// The error of the result, when the operation failed.
    public var error: (any Error)? {
        if case let .failure(error) = result { return error }
        return nil
    }
}

/// Identifies an attached listener, to detach it.
public struct ListenerHandle: Sendable, Hashable {
    let id: Int
}

/// The listeners of an ``ActionEventEmitterEventStore``, shared with the stores of its transactions.
final class ActionListeners: Sendable {
    struct Entry: Sendable {
        let id: Int
        let action: StoreAction
        let priority: Int
        let run: @Sendable (AnyObject) async throws -> Void
    }

    private let state = Mutex<(nextID: Int, entries: [Entry])>((0, []))

    func attach<I, O>(
        _ action: Action<I, O>, priority: Int, _ listener: @escaping @Sendable (ActionEvent<I, O>) async throws -> Void
    ) -> ListenerHandle {
        state.withLock { state in
            state.nextID += 1
            let entry = Entry(id: state.nextID, action: action.name, priority: priority) { event in
                guard let event = event as? ActionEvent<I, O> else { return }
                try await listener(event)
            }
            state.entries.append(entry)
            return ListenerHandle(id: entry.id)
        }
    }

    func detach(_ handle: ListenerHandle) -> Bool {
        state.withLock { state in
            guard let index = state.entries.firstIndex(where: { $0.id == handle.id }) else { return false }
            state.entries.remove(at: index)
            return true
        }
    }

    /// The listeners of an action, highest priority first, in attach order within a priority.
    func listeners(for action: StoreAction) -> [Entry] {
        let entries = state.withLock { $0.entries.filter { $0.action == action } }
        return entries.enumerated().sorted { a, b in
            a.element.priority != b.element.priority ? a.element.priority > b.element.priority : a.offset < b.offset
        }.map(\.element)
    }
}
