import Foundation

// The JSON forms of consumer groups in the HTTP API: what the server reads and writes, and what
// `EventStoreClient` writes and reads back. One definition of each, so that both sides agree.

extension SubscriptionTarget {
    /// The target as the HTTP API writes it: `"all"`, or an object of one member: `{"stream":…}`,
    /// `{"streams":[…]}`, `{"category":…}` or `{"categories":[…]}`.
    package var json: JSONValue {
        switch self {
        case .all: return .string("all")
        case let .stream(name): return .object([(key: "stream", value: .string(name.rawValue))])
        case let .streams(names): return .object([(key: "streams", value: .array(names.map { .string($0.rawValue) }))])
        case let .category(category): return .object([(key: "category", value: .string(category))])
        case let .categories(categories): return .object([(key: "categories", value: .array(categories.map { .string($0) }))])
        }
    }

    /// Reads ``json``.
    /// - Throws: `invalidArgument` naming what is wrong.
    package init(json value: JSONValue) throws(EventStoreError) {
        func strings(_ value: JSONValue?) throws(EventStoreError) -> [String] {
            guard case let .array(items)? = value, !items.isEmpty else {
                throw .invalidArgument("a list of names is an array of one or more strings")
            }
            var names: [String] = []
            for item in items {
                guard case let .string(text) = item else { throw .invalidArgument("a list of names is an array of strings") }
                names.append(text)
            }
            return names
        }
        switch value {
        case .string("all"):
            self = .all
            return
        case .object:
            if case let .string(stream)? = value["stream"] {
                self = .stream(try StreamName(stream))
                return
            }
            if value["streams"] != nil {
                var names: [StreamName] = []
                for text in try strings(value["streams"]) { names.append(try StreamName(text)) }
                self = .streams(names)
                return
            }
            if case let .string(category)? = value["category"] {
                self = .category(category)
                return
            }
            if value["categories"] != nil {
                self = .categories(try strings(value["categories"]))
                return
            }
        default:
            break
        }
        throw .invalidArgument("the target is \"all\", or an object with stream, streams, category or categories")
    }
}

extension MetadataMatcher {
    /// The matcher as the HTTP API writes it: an array of conditions, each `{"field": key}` (metadata) or
    /// `{"property": name}`, with `operator` (its symbol) and `value` (a JSON scalar; an array for `in` and
    /// `nin`).
    package var json: JSONValue {
        .array(
            conditions.map { condition in
                let field: (key: String, value: JSONValue)
                switch condition.field {
                case let .metadata(key): field = (key: "field", value: .string(key))
                case let .property(property): field = (key: "property", value: .string(property.rawValue))
                }
                let value: JSONValue
                switch condition.value {
                case let .scalar(scalar): value = scalar.json
                case let .list(values): value = .array(values.map(\.json))
                }
                return .object([field, (key: "operator", value: .string(condition.op.rawValue)), (key: "value", value: value)])
            })
    }

    /// Reads ``json``; operators may also be given as ``Operator/init(symbol:)`` reads them.
    /// - Throws: `invalidArgument` naming what is wrong, or a condition a matcher refuses.
    package init(json value: JSONValue) throws(EventStoreError) {
        guard case let .array(conditions) = value else { throw .invalidArgument("a matcher is an array of conditions") }
        var matcher = MetadataMatcher()
        for condition in conditions {
            guard case .object = condition else { throw .invalidArgument("a matcher's condition is an object") }
            let field: Field
            switch (condition["field"], condition["property"]) {
            case let (.string(key)?, nil):
                field = .metadata(key)
            case let (nil, .string(name)?):
                guard let property = MessageProperty(rawValue: name) else {
                    throw .invalidArgument("unknown property \(JSONValue.string(name).jsonText) (uuid, message_name, created_at, position)")
                }
                field = .property(property)
            default:
                throw .invalidArgument("a matcher's condition names a field (metadata) or a property, not both")
            }
            guard case let .string(symbol)? = condition["operator"], let op = Operator(symbol: symbol) else {
                throw .invalidArgument("a matcher's condition has an operator: =, !=, >, >=, <, <=, in, nin or regex")
            }
            let operand: Value
            switch condition["value"] {
            case nil:
                throw .invalidArgument("a matcher's condition has a value")
            case let .array(items)?:
                var values: [MetadataValue] = []
                for item in items { values.append(try MetadataValue(json: item)) }
                operand = .list(values)
            case let scalar?:
                operand = .scalar(try MetadataValue(json: scalar))
            }
            matcher = try matcher.adding(field, op, operand)
        }
        self = matcher
    }
}

extension MetadataValue {
    /// The value as a JSON value.
    package var json: JSONValue {
        switch self {
        case let .string(text): return .string(text)
        case let .int(number): return .number(String(number))
        case let .double(number): return JSONValue(floatLiteral: number)
        case let .bool(flag): return .bool(flag)
        }
    }
}

extension ConsumerGroupStart {
    /// Where a group starts, as the HTTP API writes it: `"start"`, `"end"`, or `{"after": position}`.
    package var json: JSONValue {
        switch self {
        case .start: return .string("start")
        case .end: return .string("end")
        case let .after(position): return .object([(key: "after", value: .string(position.description))])
        }
    }

    /// Reads ``json``; `nil` is `start`.
    /// - Throws: `invalidArgument`.
    package init(json value: JSONValue?) throws(EventStoreError) {
        switch value {
        case nil, .string("start")?: self = .start
        case .string("end")?: self = .end
        case let .object(members)? where members.count == 1 && members[0].key == "after":
            guard let position = members[0].value.orderPosition else {
                throw .invalidArgument("start.after is a position, as this API writes them (global, or composite on a partitioned store)")
            }
            self = .after(position)
        default: throw .invalidArgument("start is \"start\", \"end\" or {\"after\": a position}")
        }
    }
}

extension ConsumerGroup {
    /// The group's definition as the HTTP API takes it (`PUT` and `POST /groups/{name}`): `target`,
    /// `matcher` (left out when there is none) and `settings` (`max_retries`, `message_timeout_ms`,
    /// `max_in_flight`, `strategy`).
    package var definitionMembers: [(key: String, value: JSONValue)] {
        var members: [(key: String, value: JSONValue)] = [(key: "target", value: target.json)]
        if let matcher, !matcher.isEmpty { members.append((key: "matcher", value: matcher.json)) }
        members.append(
            (
                key: "settings",
                value: .object([
                    (key: "max_retries", value: JSONValue(integerLiteral: settings.maxRetries)),
                    (key: "message_timeout_ms", value: .number(String(settings.messageTimeout.microseconds / 1000))),
                    (key: "max_in_flight", value: JSONValue(integerLiteral: settings.maxInFlightPerConsumer)),
                    (key: "strategy", value: .string(settings.strategy.rawValue)),
                ])
            ))
        return members
    }

    /// Reads a definition (``definitionMembers``): the target is required, the matcher and each setting
    /// optional (the defaults).
    /// - Throws: `invalidArgument` naming what is wrong (the settings' ranges are checked when the group is made).
    package init(name: String, json body: JSONValue) throws(EventStoreError) {
        guard case .object = body else { throw .invalidArgument("a group's definition is a JSON object") }
        guard let targetValue = body["target"] else { throw .invalidArgument("a group's definition names a target") }
        var settings = ConsumerGroupSettings()
        if let given = body["settings"] {
            guard case .object = given else { throw .invalidArgument("settings is an object") }
            func integer(_ key: String) throws(EventStoreError) -> Int? {
                guard let value = given[key] else { return nil }
                // JSON's 5.0 is a whole number too.
                guard let number = value.wholeNumber else { throw .invalidArgument("settings.\(key) is a whole number") }
                return number
            }
            if let retries = try integer("max_retries") { settings.maxRetries = retries }
            if let timeout = try integer("message_timeout_ms") {
                guard (1...86_400_000).contains(timeout) else {
                    throw .invalidArgument("settings.message_timeout_ms is from 1 to 86400000, not \(timeout)")
                }
                settings.messageTimeout = .milliseconds(timeout)
            }
            if let inFlight = try integer("max_in_flight") { settings.maxInFlightPerConsumer = inFlight }
            if let strategy = given["strategy"] {
                guard case let .string(text) = strategy, let chosen = ConsumerGroupStrategy(rawValue: text) else {
                    throw .invalidArgument("settings.strategy is round_robin or pinned_by_stream")
                }
                settings.strategy = chosen
            }
        }
        let matcher: MetadataMatcher?
        switch body["matcher"] {
        case nil, .null?: matcher = nil
        case let value?:
            let read = try MetadataMatcher(json: value)
            matcher = read.isEmpty ? nil : read
        }
        self.init(name: name, target: try SubscriptionTarget(json: targetValue), matcher: matcher, settings: settings)
    }
}

extension ConsumerGroupInfo {
    /// As the HTTP API and `eventstore groups info` show it: `name`, the definition (`definitionMembers`),
    /// `checkpoint`, `consumers` and the counters, in snake case.
    public var json: JSONValue {
        .object(
            [(key: "name", value: .string(group.name))] + group.definitionMembers + [
                (key: "checkpoint", value: .string(position.description)),
                (key: "consumers", value: .array(consumers.map { .string($0) })),
                (key: "in_flight", value: JSONValue(integerLiteral: inFlight)),
                (key: "parked", value: JSONValue(integerLiteral: parked)),
                (key: "retries", value: JSONValue(integerLiteral: retries)),
                (key: "acknowledged", value: JSONValue(integerLiteral: acknowledged)),
                (key: "skipped", value: JSONValue(integerLiteral: skipped)),
                (key: "lag_events", value: JSONValue(integerLiteral: lagEvents)),
                (key: "lag_seconds", value: JSONValue(floatLiteral: lagSeconds)),
            ])
    }

    /// Reads ``json``.
    /// - Throws: `corrupt` naming what is missing or malformed.
    package init(json value: JSONValue) throws(EventStoreError) {
        func count(_ key: String) throws(EventStoreError) -> Int {
            guard let number = value[key]?.wholeNumber else { throw .corrupt("a consumer group's \(key) is not a whole number") }
            return number
        }
        guard case let .string(name)? = value["name"] else { throw .corrupt("a consumer group has no name") }
        let group: ConsumerGroup
        do {
            group = try ConsumerGroup(name: name, json: value)
        } catch {
            throw .corrupt("consumer group \(name) cannot be read: \(error.reason)")
        }
        guard let checkpoint = value["checkpoint"]?.orderPosition else { throw .corrupt("a consumer group's checkpoint is not a position") }
        guard case let .array(items)? = value["consumers"] else { throw .corrupt("a consumer group's consumers are not an array") }
        var consumers: [String] = []
        for item in items {
            guard case let .string(consumer) = item else { throw .corrupt("a consumer's name is not a string") }
            consumers.append(consumer)
        }
        guard case let .number(seconds)? = value["lag_seconds"], let lagSeconds = Double(seconds) else {
            throw .corrupt("a consumer group's lag_seconds is not a number")
        }
        self.init(
            group: group, position: checkpoint, consumers: consumers, inFlight: try count("in_flight"), parked: try count("parked"),
            retries: try count("retries"), acknowledged: try count("acknowledged"), skipped: try count("skipped"),
            lagEvents: try count("lag_events"), lagSeconds: lagSeconds)
    }
}
