import Foundation

/// How a consumer group shares its events among its consumers.
public enum ConsumerGroupStrategy: String, Sendable, Hashable, Codable, CaseIterable {
    /// Each event to whichever consumer asks next, up to its in-flight limit.
    case roundRobin = "round_robin"
    /// The events of one stream to one consumer at a time, in stream order: a stream's next event is handed
    /// out only once its earlier ones are settled or in flight with the same consumer.
    case pinnedByStream = "pinned_by_stream"
}

/// A consumer group's settings, with KurrentDB's defaults for persistent subscriptions.
public struct ConsumerGroupSettings: Sendable, Hashable, Codable {
    /// How many times an event is handed out again (after a timeout or a `nack` with retry) before it is
    /// parked. 10 by default.
    public var maxRetries: Int
    /// How long a consumer has to acknowledge an event before it goes to another: 30 s by default, timed
    /// on the database's clock.
    public var messageTimeout: Duration
    /// How many unacknowledged events one consumer holds at most: 10 by default, at most 1,000.
    public var maxInFlightPerConsumer: Int
    /// Round robin by default.
    public var strategy: ConsumerGroupStrategy

    /// Settings, each with its default unless given; a store checks them when the group is made or updated.
    /// - Parameters:
    ///   - maxRetries: how many times an event is handed out again before it is parked: 0 to 1,000,000, 10 by
    ///     default.
    ///   - messageTimeout: how long a consumer has to acknowledge an event: 1 ms to 1 day, 30 s by default;
    ///     stored in whole milliseconds.
    ///   - maxInFlightPerConsumer: how many unacknowledged events one consumer holds at most: 1 to 1,000, 10
    ///     by default.
    ///   - strategy: how the events are shared; ``ConsumerGroupStrategy/roundRobin`` by default.
    public init(
        maxRetries: Int = 10, messageTimeout: Duration = .seconds(30), maxInFlightPerConsumer: Int = 10,
        strategy: ConsumerGroupStrategy = .roundRobin
    ) {
        self.maxRetries = maxRetries
        self.messageTimeout = messageTimeout
        self.maxInFlightPerConsumer = maxInFlightPerConsumer
        self.strategy = strategy
    }
}

/// Where a new consumer group starts.
public enum ConsumerGroupStart: Sendable, Hashable {
    /// From the first event of its target.
    case start
    /// After the events stored when the group is made: only new events.
    case end
    /// After a position of the store's order: a global position, or a composite one on a
    /// ``PartitionedEventStore`` (a group's ``ConsumerGroupInfo/position``, to start a group again there).
    case after(ProjectionPosition)

    /// After a global position.
    public static func after(_ position: GlobalPosition) -> ConsumerGroupStart { .after(.global(position)) }

    /// After a composite position (a ``PartitionedEventStore``'s). Disfavoured: `.after(.start)` is the
    /// global start, as it was before composite positions.
    @_disfavoredOverload
    public static func after(_ position: CompositePosition) -> ConsumerGroupStart { .after(.composite(position)) }
}

/// A consumer group (KurrentDB's persistent subscription): a target whose events its consumers share, each
/// event acknowledged once, retried when it fails or times out, and parked when it keeps failing.
public struct ConsumerGroup: Sendable, Hashable {
    /// The group's name: 1 to 150 bytes of UTF-8, no control characters.
    public var name: String
    /// The events it shares.
    public var target: SubscriptionTarget
    /// Only the target's events that meet it (every event when `nil`).
    public var matcher: MetadataMatcher?
    /// Retries, timeout, in-flight limit and strategy.
    public var settings: ConsumerGroupSettings

    /// A group's definition; a store checks it when the group is made or updated.
    /// - Parameters:
    ///   - name: 1 to 150 bytes of UTF-8, no control characters.
    ///   - target: the events the group shares.
    ///   - matcher: only the target's events that meet it; `nil` (the default) for every event.
    ///   - settings: the group's settings; the defaults of ``ConsumerGroupSettings`` unless given.
    public init(name: String, target: SubscriptionTarget, matcher: MetadataMatcher? = nil, settings: ConsumerGroupSettings = .init()) {
        self.name = name
        self.target = target
        self.matcher = matcher
        self.settings = settings
    }

    /// Checks the name, the target and the settings.
    /// - Throws: `invalidArgument`.
    func validate() throws(EventStoreError) {
        try Self.validate(name: name)
        try StoreValidation.target(target)
        if !(0...1_000_000).contains(settings.maxRetries) {
            throw .invalidArgument("maxRetries is from 0 to 1,000,000, not \(settings.maxRetries)")
        }
        if !(1...1000).contains(settings.maxInFlightPerConsumer) {
            throw .invalidArgument("maxInFlightPerConsumer is from 1 to 1000, not \(settings.maxInFlightPerConsumer)")
        }
        if settings.messageTimeout < .milliseconds(1) || settings.messageTimeout > .seconds(86_400) {
            throw .invalidArgument("messageTimeout is between 1 ms and 1 day, not \(settings.messageTimeout)")
        }
    }

    /// - Throws: `invalidArgument` for a name that is empty, longer than 150 bytes or has control characters.
    package static func validate(name: String) throws(EventStoreError) {
        if name.isEmpty || name.utf8.count > 150 || name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw .invalidArgument("a consumer group's name has 1 to 150 bytes and no control characters: \(JSONValue.string(name).jsonText)")
        }
    }
}

/// One event handed to a consumer: acknowledge it (``ConsumerGroupStore/acknowledge(_:in:)``) once it is
/// handled, or reject it (``ConsumerGroupStore/reject(_:in:action:reason:)``).
public struct ConsumerGroupDelivery: Sendable, Hashable {
    /// Names this hand-out: an acknowledgement of it counts only while it is in flight.
    public let id: UUID
    /// The event handed out.
    public let event: RecordedEvent
    /// 1 for the first time it is handed out, 2 for the first retry, …
    public let attempt: Int
}

/// What a rejected delivery becomes.
public enum ConsumerGroupNack: String, Sendable, Hashable, CaseIterable {
    /// Handed out again (to any consumer); parked once it was tried more than `maxRetries` times.
    case retry
    /// Set aside at once: listed by ``ConsumerGroupStore/parkedEvents(in:limit:)``, replayed on demand.
    case park
    /// Settled without being handled.
    case skip
}

/// A parked event and why it was parked.
public struct ParkedEvent: Sendable, Hashable {
    /// The event that was parked.
    public let event: RecordedEvent
    /// Why it was parked: the reason the consumer gave when it rejected the event, else the store's
    /// (`parked by a consumer`, `not acknowledged within …`, `rejected for a retry more than … times`).
    public let reason: String
    /// How many times it was handed out.
    public let deliveries: Int

    /// As the HTTP API and `eventstore groups parked` show it: one line of JSON, `reason`, `deliveries` and
    /// `event` (with its stream).
    public var jsonLine: String {
        "{\"reason\":\(JSONValue.string(reason).jsonText),\"deliveries\":\(deliveries),\"event\":\(EventJSON.line(for: event, includeStream: true))}"
    }
}

/// What a consumer group is doing.
public struct ConsumerGroupInfo: Sendable, Hashable {
    /// The group's definition.
    public let group: ConsumerGroup
    /// Every event of the target at or before it is acknowledged, skipped or parked: where the group would
    /// start again. A global position, or a composite one on a ``PartitionedEventStore``.
    public let position: ProjectionPosition
    /// ``position`` when it is a global position (every store but a partitioned one), ``GlobalPosition/start``
    /// otherwise.
    @available(*, deprecated, message: "read position: on a partitioned store, checkpoint is .start")
    public var checkpoint: GlobalPosition { position.global ?? .start }
    /// The consumers heard from within the last two message timeouts, by name.
    public let consumers: [String]
    /// Events handed out to a consumer and not yet acknowledged or rejected.
    public let inFlight: Int
    /// Events parked now, waiting to be replayed.
    public let parked: Int
    /// Events handed out again after a timeout or a rejection, since the group was made.
    public let retries: Int
    /// Events acknowledged since the group was made.
    public let acknowledged: Int
    /// Events rejected with ``ConsumerGroupNack/skip`` since the group was made.
    public let skipped: Int
    /// Events of the target after the checkpoint, counted up to 10,000.
    public let lagEvents: Int
    /// How long ago the oldest unsettled event was recorded, 0 when there is none.
    public let lagSeconds: Double
}

// MARK: Stored form

extension ConsumerGroup: Codable {
    private enum CodingKeys: String, CodingKey {
        case name, target, matcher, maxRetries = "max_retries", messageTimeout = "message_timeout_ms"
        case maxInFlightPerConsumer = "max_in_flight", strategy
    }

    /// One matcher condition as stored: the field, the operator's symbol, and tagged values.
    private struct StoredCondition: Codable {
        var metadata: String?
        var property: String?
        var op: String
        var values: [StoredValue]
        var list: Bool
    }

    /// A metadata value, under the key of its type.
    private struct StoredValue: Codable {
        var s: String?
        var i: Int?
        var d: Double?
        var b: Bool?
    }

    /// Reads the stored form that ``encode(to:)`` writes.
    /// - Parameter decoder: the decoder of the group's row.
    /// - Throws: `corrupt` for a target, an operator, a field or a value this build cannot read;
    ///   `invalidArgument` for a condition the matcher refuses (``MetadataMatcher/adding(_:_:_:)``); the
    ///   decoder's errors.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        target = try SubscriptionTarget(storedText: try container.decode(String.self, forKey: .target))
        settings = ConsumerGroupSettings(
            maxRetries: try container.decode(Int.self, forKey: .maxRetries),
            messageTimeout: .milliseconds(try container.decode(Int64.self, forKey: .messageTimeout)),
            maxInFlightPerConsumer: try container.decode(Int.self, forKey: .maxInFlightPerConsumer),
            strategy: try container.decode(ConsumerGroupStrategy.self, forKey: .strategy))
        if let conditions = try container.decodeIfPresent([StoredCondition].self, forKey: .matcher) {
            var matcher = MetadataMatcher()
            for condition in conditions {
                guard let op = MetadataMatcher.Operator(rawValue: condition.op) else {
                    throw EventStoreError.corrupt("a consumer group's matcher has the operator \"\(condition.op)\"")
                }
                let field: MetadataMatcher.Field
                if let key = condition.metadata {
                    field = .metadata(key)
                } else if let property = condition.property.flatMap(MetadataMatcher.MessageProperty.init(rawValue:)) {
                    field = .property(property)
                } else {
                    throw EventStoreError.corrupt("a consumer group's matcher has a condition on no field")
                }
                let values: [MetadataValue] = try condition.values.map { stored in
                    if let text = stored.s { return .string(text) }
                    if let number = stored.i { return .int(number) }
                    if let number = stored.d { return .double(number) }
                    if let flag = stored.b { return .bool(flag) }
                    throw EventStoreError.corrupt("a consumer group's matcher has a value of no known type")
                }
                let value: MetadataMatcher.Value = condition.list ? .list(values) : (values.first.map(MetadataMatcher.Value.scalar) ?? .list([]))
                matcher = try matcher.adding(field, op, value)
            }
            self.matcher = matcher
        } else {
            matcher = nil
        }
    }

    /// Writes the stored form a group's row keeps: `name`, `target` (as text), `max_retries`,
    /// `message_timeout_ms` (whole milliseconds), `max_in_flight`, `strategy`, and the matcher's conditions
    /// under `matcher` when there is one.
    /// - Parameter encoder: the encoder of the group's row.
    /// - Throws: the encoder's errors.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(target.storedText, forKey: .target)
        try container.encode(settings.maxRetries, forKey: .maxRetries)
        try container.encode(settings.messageTimeout.microseconds / 1000, forKey: .messageTimeout)
        try container.encode(settings.maxInFlightPerConsumer, forKey: .maxInFlightPerConsumer)
        try container.encode(settings.strategy, forKey: .strategy)
        if let matcher {
            let conditions = matcher.conditions.map { condition in
                var stored = StoredCondition(op: condition.op.rawValue, values: [], list: false)
                switch condition.field {
                case let .metadata(key): stored.metadata = key
                case let .property(property): stored.property = property.rawValue
                }
                if case .list = condition.value { stored.list = true }
                stored.values = condition.value.values.map { value in
                    switch value {
                    case let .string(text): StoredValue(s: text)
                    case let .int(number): StoredValue(i: number)
                    case let .double(number): StoredValue(d: number)
                    case let .bool(flag): StoredValue(b: flag)
                    }
                }
                return stored
            }
            try container.encode(conditions, forKey: .matcher)
        }
    }
}
