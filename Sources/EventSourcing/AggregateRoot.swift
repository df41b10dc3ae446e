import EventStore

/// The state of an aggregate, rebuilt from its events: a `Codable` value (so it can be snapshotted) that
/// applies its own typed events.
///
/// ```swift
/// struct BankAccount: AggregateRoot {
///     static let aggregateType = "account"
///     static let eventTypes: [any DomainEvent.Type] = [AccountOpened.self, MoneyDeposited.self]
///     let id: String
///     var balance = 0
///     init(id: String) { self.id = id }
///     mutating func apply(_ event: any DomainEvent) throws {
///         switch event {
///         case let deposited as MoneyDeposited: balance += deposited.amount
///         case is AccountOpened: break
///         default: throw AggregateError.unknownEvent(event)
///         }
///     }
/// }
/// ```
public protocol AggregateRoot: Codable, Sendable {
    /// The aggregate's type: part of its stream names and of its events' `_aggregate_type`.
    static var aggregateType: String { get }
    /// The event types the aggregate applies, by which stored events are decoded.
    static var eventTypes: [any DomainEvent.Type] { get }
    /// The aggregate's identity.
    var id: String { get }
    /// A new aggregate, before any event.
    init(id: String)
    /// Changes the state by one event.
    /// - Throws: ``AggregateError/unknownEvent(_:)`` for an event it does not know.
    mutating func apply(_ event: any DomainEvent) throws
}

/// Errors of aggregates and repositories (store errors come through unchanged).
public enum AggregateError: Error, Sendable, CustomStringConvertible {
    /// `apply` got an event it does not handle.
    case unknownEvent(any DomainEvent)
    /// A stored event's message name is not among the aggregate's `eventTypes`.
    case unknownMessageName(String, aggregateType: String)
    /// `update` ran out of attempts; the last conflict is attached.
    case tooManyConflicts(attempts: Int, last: EventStoreError)

    /// A one-line English explanation of the error, naming the message name, aggregate type or attempts.
    public var description: String {
        switch self {
        case let .unknownEvent(event): return "the aggregate cannot apply \(type(of: event).messageName)"
        case let .unknownMessageName(name, type): return "\"\(name)\" is not an event of aggregate type \(type)"
        case let .tooManyConflicts(attempts, last): return "gave up after \(attempts) conflicting attempts: \(last)"
        }
    }
}

/// An aggregate with its version and the events it recorded since it was loaded.
public struct Aggregate<Root: AggregateRoot>: Sendable {
    /// The current state.
    public private(set) var root: Root
    /// The version of the last event applied: 0 for a new aggregate, then 1, 2, 3, …
    public private(set) var version: Int
    /// The version the aggregate had when it was loaded (or last saved).
    public private(set) var savedVersion: Int
    /// Events recorded and not saved yet, in order.
    public private(set) var pendingEvents: [any DomainEvent] = []

    /// A new aggregate.
    public init(id: String) {
        root = Root(id: id)
        version = 0
        savedVersion = 0
    }

    init(root: Root, version: Int) {
        self.root = root
        self.version = version
        self.savedVersion = version
    }

    /// The aggregate's identity: the root's ``AggregateRoot/id``.
    public var id: String { root.id }

    /// Applies a new event and keeps it for saving; its version is the next one.
    /// - Throws: what ``AggregateRoot/apply(_:)`` throws; then nothing is recorded.
    public mutating func record(_ event: some DomainEvent) throws {
        try root.apply(event)
        version += 1
        pendingEvents.append(event)
    }

    /// Applies a stored event while the aggregate is rebuilt.
    mutating func replay(_ event: any DomainEvent, version: Int) throws {
        try root.apply(event)
        self.version = version
        self.savedVersion = version
    }

    /// Takes the pending events (they are handed out once) with the version each one has.
    @_spi(Backend) public mutating func takePendingEvents() -> [(version: Int, event: any DomainEvent)] {
        let first = version - pendingEvents.count + 1
        let taken = pendingEvents.enumerated().map { (version: first + $0.offset, event: $0.element) }
        pendingEvents.removeAll()
        savedVersion = version
        return taken
    }
}
