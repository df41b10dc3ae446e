/// A set of listeners that attach to an ``ActionEventEmitterEventStore`` together.
public protocol EventStorePlugin: Sendable {
    /// Attaches the plugin's listeners to `store` and returns their handles.
    func attach(to store: ActionEventEmitterEventStore) -> [ListenerHandle]
}

/// What ``ActionEventEmitterEventStore/attach(_:)`` returns: detaching it detaches every listener of the plugin.
public struct PluginHandle: Sendable, Hashable {
    let listeners: [ListenerHandle]
}

extension ActionEventEmitterEventStore {
    /// Attaches a plugin.
    @discardableResult
    public func attach(_ plugin: some EventStorePlugin) -> PluginHandle {
        PluginHandle(listeners: plugin.attach(to: self))
    }

    /// Detaches every listener of a plugin; `false` when none was attached any more.
    @discardableResult
    public func detach(_ plugin: PluginHandle) -> Bool {
        plugin.listeners.reduce(false) { detached, handle in detach(handle) || detached }
    }
}

// MARK: Metadata enrichers

/// Adds metadata to an event before it is written (a user id, a tenant, a causation id, …).
public protocol MetadataEnricher: Sendable {
    /// The message with its metadata enriched.
    func enrich(_ message: EventMessage) async throws -> EventMessage
}

/// An enricher made of a closure.
public struct ClosureMetadataEnricher: MetadataEnricher {
    private let body: @Sendable (EventMessage) async throws -> EventMessage

    /// An enricher that calls `body` for each message.
    /// - Parameter body: returns the message with its metadata enriched; an error it throws ends the write.
    public init(_ body: @escaping @Sendable (EventMessage) async throws -> EventMessage) {
        self.body = body
    }

    public func enrich(_ message: EventMessage) async throws -> EventMessage { try await body(message) }
}

/// Enrichers applied one after the other, in order.
public struct MetadataEnricherChain: MetadataEnricher {
    /// The enrichers, in the order they are applied.
    public let enrichers: [any MetadataEnricher]

    /// A chain applying `enrichers` in order, each to the message the one before returned.
    /// - Parameter enrichers: The enrichers; an empty list leaves messages unchanged.
    public init(_ enrichers: [any MetadataEnricher]) {
        self.enrichers = enrichers
    }

    public func enrich(_ message: EventMessage) async throws -> EventMessage {
        var message = message
        for enricher in enrichers { message = try await enricher.enrich(message) }
        return message
    }
}

/// Enriches every event written by `create` and `append`, before the store sees it (priority 1000 by default).
public struct MetadataEnricherPlugin: EventStorePlugin {
    /// The enricher applied to each event of a `create` or `append`.
    public let enricher: any MetadataEnricher
    /// The priority of the plugin's listeners; the default, 1000, runs them before the store writes (above 0).
    public let priority: Int

    /// A plugin applying one enricher.
    /// - Parameters:
    ///   - enricher: The enricher applied to each event written.
    ///   - priority: The priority of the plugin's listeners: above 0 to run before the store; 1000 by default.
    public init(_ enricher: any MetadataEnricher, priority: Int = 1000) {
        self.enricher = enricher
        self.priority = priority
    }

    /// A plugin applying several enrichers in order.
    public init(_ enrichers: [any MetadataEnricher], priority: Int = 1000) {
        self.init(MetadataEnricherChain(enrichers), priority: priority)
    }

    public func attach(to store: ActionEventEmitterEventStore) -> [ListenerHandle] {
        let enricher = self.enricher
        return [
            store.attach(.create, priority: priority) { event in
                event.input.events = try await enricher.enrichAll(event.input.events)
            },
            store.attach(.append, priority: priority) { event in
                event.input.events = try await enricher.enrichAll(event.input.events)
            },
        ]
    }
}

extension MetadataEnricher {
    func enrichAll(_ messages: [EventMessage]) async throws -> [EventMessage] {
        var enriched: [EventMessage] = []
        enriched.reserveCapacity(messages.count)
        for message in messages { enriched.append(try await enrich(message)) }
        return enriched
    }
}

// MARK: Upcasting

/// Turns one stored event into zero or more events of today's schema, as it is read.
///
/// The events an upcaster returns keep the stream, position and global position of the event they came
/// from.
public protocol Upcaster: Sendable {
    /// The events that replace `event` as it is read, in order: `[event.message]` leaves it unchanged, `[]`
    /// drops it.
    /// - Parameter event: The event as stored (or as the upcaster before in a chain returned it).
    /// - Throws: Any error, which fails the reading of the load's events.
    func upcast(_ event: RecordedEvent) throws -> [EventMessage]
}

/// An upcaster for one kind of event: the others pass through unchanged.
public protocol SingleEventUpcaster: Upcaster {
    /// Whether this upcaster changes `event`.
    func canUpcast(_ event: RecordedEvent) -> Bool
    /// The events that replace `event`, when ``canUpcast(_:)`` said yes.
    func doUpcast(_ event: RecordedEvent) throws -> [EventMessage]
}

extension SingleEventUpcaster {
    /// ``SingleEventUpcaster/doUpcast(_:)``'s events when ``SingleEventUpcaster/canUpcast(_:)`` is `true`,
    /// otherwise the event's message unchanged.
    /// - Parameter event: The event as stored.
    /// - Throws: What ``SingleEventUpcaster/doUpcast(_:)`` throws.
    public func upcast(_ event: RecordedEvent) throws -> [EventMessage] {
        canUpcast(event) ? try doUpcast(event) : [event.message]
    }
}

/// An upcaster made of a closure.
public struct ClosureUpcaster: Upcaster {
    private let body: @Sendable (RecordedEvent) throws -> [EventMessage]

    /// An upcaster that calls `body` for each event read.
    /// - Parameter body: returns the events that replace the event it is given (`[event.message]` to keep
    ///   it, `[]` to drop it).
    public init(_ body: @escaping @Sendable (RecordedEvent) throws -> [EventMessage]) {
        self.body = body
    }

    public func upcast(_ event: RecordedEvent) throws -> [EventMessage] { try body(event) }
}

/// Upcasters applied one after the other: each gets every event the one before produced. An empty chain
/// passes events through unchanged.
public struct UpcasterChain: Upcaster {
    /// The upcasters, in the order they are applied.
    public let upcasters: [any Upcaster]

    /// A chain applying `upcasters` in order.
    /// - Parameter upcasters: The upcasters; an empty list passes events through unchanged.
    public init(_ upcasters: [any Upcaster]) {
        self.upcasters = upcasters
    }

    /// Applies each upcaster to every event the one before produced, all of them at the stream, position and
    /// global position of `event`.
    /// - Parameter event: The event as stored.
    /// - Throws: The first error an upcaster throws.
    public func upcast(_ event: RecordedEvent) throws -> [EventMessage] {
        var events = [event]
        for upcaster in upcasters {
            events = try events.flatMap { current in try upcaster.upcast(current).map { current.replacingMessage($0) } }
        }
        return events.map(\.message)
    }
}

/// Upcasts the events of every `load` and `loadReverse` after the store read them (priority -1000 by default).
public struct UpcastingPlugin: EventStorePlugin {
    /// The upcaster applied to the events a `load` or `loadReverse` returns.
    public let upcaster: any Upcaster
    /// The priority of the plugin's listeners; the default, -1000, runs them after the store read (0 or below).
    public let priority: Int

    /// A plugin applying one upcaster.
    /// - Parameters:
    ///   - upcaster: The upcaster applied to each event read.
    ///   - priority: The priority of the plugin's listeners: 0 or below to run after the store; -1000 by default.
    public init(_ upcaster: any Upcaster, priority: Int = -1000) {
        self.upcaster = upcaster
        self.priority = priority
    }

    /// A plugin applying several upcasters in order.
    public init(_ upcasters: [any Upcaster], priority: Int = -1000) {
        self.init(UpcasterChain(upcasters), priority: priority)
    }

    public func attach(to store: ActionEventEmitterEventStore) -> [ListenerHandle] {
        let upcaster = self.upcaster
        let listener: @Sendable (ActionEvent<LoadInput, RecordedEventSequence>) async throws -> Void = { event in
            guard case let .success(events)? = event.result else { return }
            event.result = .success(events.flatMapEvents { recorded in
                try upcaster.upcast(recorded).map { recorded.replacingMessage($0) }
            })
        }
        return [store.attach(.load, priority: priority, listener), store.attach(.loadReverse, priority: priority, listener)]
    }
}

extension RecordedEvent {
    /// This event's place (stream, position, global position) with another message.
    public func replacingMessage(_ message: EventMessage) -> RecordedEvent {
        RecordedEvent(streamName: streamName, position: position, globalPosition: globalPosition, message: message)
    }
}

// MARK: Read-only

/// Exposes only the reading operations of a store.
public struct ReadOnlyEventStoreWrapper: ReadOnlyEventStore {
    private let store: any ReadOnlyEventStore

    /// A wrapper that passes the reading operations to `store`.
    /// - Parameter store: The store to read from.
    public init(_ store: any ReadOnlyEventStore) {
        self.store = store
    }

    public func load(_ stream: StreamName, from: Int, count: Int?, matching: MetadataMatcher?) async throws
        -> RecordedEventSequence
    {
        try await store.load(stream, from: from, count: count, matching: matching)
    }

    public func loadReverse(_ stream: StreamName, from: Int?, count: Int?, matching: MetadataMatcher?) async throws
        -> RecordedEventSequence
    {
        try await store.loadReverse(stream, from: from, count: count, matching: matching)
    }

    public func hasStream(_ stream: StreamName) async throws -> Bool { try await store.hasStream(stream) }

    public func streamMetadata(of stream: StreamName) async throws -> Metadata { try await store.streamMetadata(of: stream) }

    public func streamNames(_ filter: NameFilter, matching: MetadataMatcher?, limit: Int, offset: Int) async throws
        -> [StreamName]
    {
        try await store.streamNames(filter, matching: matching, limit: limit, offset: offset)
    }

    public func categoryNames(_ filter: NameFilter, limit: Int, offset: Int) async throws -> [String] {
        try await store.categoryNames(filter, limit: limit, offset: offset)
    }
}
