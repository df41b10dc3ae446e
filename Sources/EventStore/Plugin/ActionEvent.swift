import Synchronization

/// The operations of a store that an ``ActionEventEmitterEventStore`` turns into action events.
public enum StoreAction: String, Sendable, Hashable, CaseIterable {
    case create, append, load, loadReverse, delete, hasStream, streamMetadata, updateStreamMetadata
    case streamNames, streamNamesRegex, categoryNames, categoryNamesRegex
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
    public let name: StoreAction
    init(_ name: StoreAction) { self.name = name }
}

/// The inputs of `create`.
public struct CreateInput: Sendable, Hashable {
    public var stream: StreamName
    public var metadata: Metadata
    public var events: [EventMessage]
}

/// The inputs of `append`.
public struct AppendInput: Sendable, Hashable {
    public var stream: StreamName
    public var events: [EventMessage]
    public var expectedVersion: ExpectedVersion
}

/// The inputs of `load` and `loadReverse` (`from` is `nil` for a reverse load from the newest event).
public struct LoadInput: Sendable, Hashable {
    public var stream: StreamName
    public var from: Int?
    public var count: Int?
    public var matcher: MetadataMatcher?
}

/// The input of the actions about one stream (`hasStream`, `streamMetadata`).
public struct StreamInput: Sendable, Hashable {
    public var stream: StreamName
}

/// The inputs of `delete`.
public struct DeleteInput: Sendable, Hashable {
    public var stream: StreamName
    public var mode: DeleteMode
}

/// The inputs of `updateStreamMetadata`.
public struct UpdateStreamMetadataInput: Sendable, Hashable {
    public var stream: StreamName
    public var metadata: Metadata
}

/// The inputs of `streamNames` and `streamNamesRegex`.
public struct StreamNamesInput: Sendable, Hashable {
    public var filter: NameFilter
    public var matcher: MetadataMatcher?
    public var limit: Int
    public var offset: Int
}

/// The inputs of `categoryNames` and `categoryNamesRegex`.
public struct CategoryNamesInput: Sendable, Hashable {
    public var filter: NameFilter
    public var limit: Int
    public var offset: Int
}

/// The (empty) input and result of the transaction actions, `delete` and `updateStreamMetadata`.
public struct NoValue: Sendable, Hashable {
    public init() {}
}

extension Action where Input == CreateInput, Output == AppendResult {
    public static var create: Self { .init(.create) }
}
extension Action where Input == AppendInput, Output == AppendResult {
    public static var append: Self { .init(.append) }
}
extension Action where Input == LoadInput, Output == RecordedEventSequence {
    public static var load: Self { .init(.load) }
    public static var loadReverse: Self { .init(.loadReverse) }
}
extension Action where Input == DeleteInput, Output == NoValue {
    public static var delete: Self { .init(.delete) }
}
extension Action where Input == StreamInput, Output == Bool {
    public static var hasStream: Self { .init(.hasStream) }
}
extension Action where Input == StreamInput, Output == Metadata {
    public static var streamMetadata: Self { .init(.streamMetadata) }
}
extension Action where Input == UpdateStreamMetadataInput, Output == NoValue {
    public static var updateStreamMetadata: Self { .init(.updateStreamMetadata) }
}
extension Action where Input == StreamNamesInput, Output == [StreamName] {
    public static var streamNames: Self { .init(.streamNames) }
    public static var streamNamesRegex: Self { .init(.streamNamesRegex) }
}
extension Action where Input == CategoryNamesInput, Output == [String] {
    public static var categoryNames: Self { .init(.categoryNames) }
    public static var categoryNamesRegex: Self { .init(.categoryNamesRegex) }
}
extension Action where Input == NoValue, Output == NoValue {
    public static var beginTransaction: Self { .init(.beginTransaction) }
    public static var commit: Self { .init(.commit) }
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
