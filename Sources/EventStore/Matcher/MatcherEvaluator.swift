/// Evaluates a ``MetadataMatcher`` in memory, with the semantics every backend implements: the
/// reference the SQL compilers are tested against.
@_spi(Backend) public struct MatcherEvaluator: Sendable {
    private let checks: [(condition: MetadataMatcher.Condition, regex: CompiledRegex?)]

    /// Prepares a matcher (compiles its regular expressions once).
    public init(_ matcher: MetadataMatcher) throws(EventStoreError) {
        var checks: [(condition: MetadataMatcher.Condition, regex: CompiledRegex?)] = []
        for condition in matcher.conditions {
            var regex: CompiledRegex?
            if condition.op == .regex, case let .scalar(.string(pattern)) = condition.value {
                regex = try RegexPattern.compile(pattern)
            }
            checks.append((condition, regex))
        }
        self.checks = checks
    }

    /// `true` when an event meets every condition. `metadata` is the metadata as written (without the
    /// `_position` added on read).
    public func matches(_ message: EventMessage, position: Int) -> Bool {
        checks.allSatisfy { check in
            let actual: MetadataValue?
            switch check.condition.field {
            case let .metadata(key): actual = message.metadata[key]
            case .property(.uuid): actual = .string(message.uuid.lowercased)
            case .property(.messageName): actual = .string(message.messageName)
            case .property(.createdAt): actual = .string(Timestamp.format(microseconds: message.createdAtMicros))
            case .property(.position): actual = .int(position)
            }
            return Self.evaluate(check.condition, check.regex, actual)
        }
    }

    /// `true` when stream metadata meets every (metadata) condition.
    public func matches(streamMetadata: Metadata) -> Bool {
        checks.allSatisfy { check in
            guard case let .metadata(key) = check.condition.field else { return false }
            return Self.evaluate(check.condition, check.regex, streamMetadata[key])
        }
    }

    private static func evaluate(_ condition: MetadataMatcher.Condition, _ regex: CompiledRegex?, _ actual: MetadataValue?)
        -> Bool
    {
        guard let actual else { return false }
        let values = condition.value.values
        switch condition.op {
        case .equals: return compare(actual, values[0]) == 0
        case .notEquals: return compare(actual, values[0]) != 0
        case .greaterThan: return compare(actual, values[0]).map { $0 > 0 } ?? false
        case .greaterThanOrEquals: return compare(actual, values[0]).map { $0 >= 0 } ?? false
        case .lessThan: return compare(actual, values[0]).map { $0 < 0 } ?? false
        case .lessThanOrEquals: return compare(actual, values[0]).map { $0 <= 0 } ?? false
        case .in: return values.contains { compare(actual, $0) == 0 }
        case .notIn: return !values.contains { compare(actual, $0) == 0 }
        case .regex:
            guard case let .string(text) = actual, let regex else { return false }
            return regex.matches(text)
        }
    }

    /// -1, 0 or 1, or `nil` when the two values are of kinds that do not compare (a string and a number,
    /// a boolean and anything else). Strings compare by UTF-8 bytes; numbers numerically.
    static func compare(_ a: MetadataValue, _ b: MetadataValue) -> Int? {
        switch (a, b) {
        case let (.string(x), .string(y)):
            if x.utf8.elementsEqual(y.utf8) { return 0 }
            return x.utf8.lexicographicallyPrecedes(y.utf8) ? -1 : 1
        case let (.int(x), .int(y)): return x == y ? 0 : (x < y ? -1 : 1)
        case let (.int(x), .double(y)): return order(Double(x), y)
        case let (.double(x), .int(y)): return order(x, Double(y))
        case let (.double(x), .double(y)): return order(x, y)
        case let (.bool(x), .bool(y)): return x == y ? 0 : (!x ? -1 : 1)
        default: return nil
        }
    }

    private static func order(_ x: Double, _ y: Double) -> Int { x == y ? 0 : (x < y ? -1 : 1) }
}
