import Foundation

/// Conditions on events' metadata and message properties, all of which an event must meet (AND).
///
/// ```swift
/// let matcher = try MetadataMatcher()
///     .metadata("_aggregate_id", .equals, "user-1")
///     .metadata("_aggregate_version", .greaterThan, 3)
///     .property(.messageName, .regex, "^User")
/// ```
/// Comparisons are typed: the integer `5` does not equal the string `"5"`; integers and doubles compare
/// as numbers; strings compare by their UTF-8 bytes. An event without the metadata key never matches,
/// whatever the operator (`!=` and `not in` included). `regex` searches string values (it matches
/// nowhere in numbers or booleans). Field names are plain keys on every backend: dots, quotes, `$` and
/// SQL are never interpreted.
public struct MetadataMatcher: Sendable, Hashable {
    /// The nine comparison operators.
    public enum Operator: String, Sendable, Hashable, CaseIterable {
        /// The value equals the given one (`=`): strings by UTF-8 bytes, numbers by value (`5` equals `5.0`);
        /// values of different kinds (a string and a number, say) are never equal.
        case equals = "="
        /// The value differs from the given one (`!=`), a value of another kind (a string for a number) included.
        case notEquals = "!="
        /// The value sorts after the given one (`>`); a string and a number never compare.
        case greaterThan = ">"
        /// The value equals or sorts after the given one (`>=`); a string and a number never compare.
        case greaterThanOrEquals = ">="
        /// The value sorts before the given one (`<`); a string and a number never compare.
        case lessThan = "<"
        /// The value equals or sorts before the given one (`<=`); a string and a number never compare.
        case lessThanOrEquals = "<="
        /// The value equals one of a list (`in`).
        case `in` = "in"
        /// The value equals none of a list (`nin`, `not in`).
        case notIn = "nin"
        /// The value is a string in which the pattern matches somewhere (`regex`; the syntax every backend shares).
        case regex = "regex"

        /// Reads an operator by its symbol (`=`, `!=`, `>`, `>=`, `<`, `<=`, `in`, `nin`, `regex`;
        /// also `==`, `<>`, `not in` and `not_in`).
        public init?(symbol: String) {
            switch symbol.lowercased() {
            case "=", "==", "eq": self = .equals
            case "!=", "<>", "ne": self = .notEquals
            case ">", "gt": self = .greaterThan
            case ">=", "gte": self = .greaterThanOrEquals
            case "<", "lt": self = .lessThan
            case "<=", "lte": self = .lessThanOrEquals
            case "in": self = .in
            case "nin", "not in", "not_in", "notin": self = .notIn
            case "regex": self = .regex
            default: return nil
            }
        }

        var isOrdering: Bool {
            switch self {
            case .greaterThan, .greaterThanOrEquals, .lessThan, .lessThanOrEquals: return true
            default: return false
            }
        }
    }

    /// The properties of an event that conditions can test besides its metadata; the same names on
    /// every backend.
    public enum MessageProperty: String, Sendable, Hashable, CaseIterable {
        /// The event's uuid, compared as lowercase text.
        case uuid
        /// The message name.
        case messageName = "message_name"
        /// The creation time, compared as `yyyy-MM-ddTHH:mm:ss.ffffff` text (time order); values may be
        /// given in any form ``Timestamp/parseMicroseconds(_:)`` reads.
        case createdAt = "created_at"
        /// The stream position, an integer.
        case position
    }

    /// What a condition tests.
    public enum Field: Sendable, Hashable, CustomStringConvertible {
        /// The value under a metadata key.
        case metadata(String)
        /// A property of the event (not available to stream listings).
        case property(MessageProperty)

        /// The field as error messages name it: `metadata "key"` or `property message_name`.
        public var description: String {
            switch self {
            case let .metadata(key): return "metadata \"\(key)\""
            case let .property(property): return "property \(property.rawValue)"
            }
        }
    }

    /// The value a condition compares with: one scalar, or a list for `in` and `not in`.
    public enum Value: Sendable, Hashable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
        ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral
    {
        /// One value, for every operator but `in` and `not in`.
        case scalar(MetadataValue)
        /// A list of values, for `in` and `not in`.
        case list([MetadataValue])

        /// A scalar string from a string literal.
        /// - Parameter value: The string.
        public init(stringLiteral value: String) { self = .scalar(.string(value)) }
        /// A scalar integer from an integer literal.
        /// - Parameter value: The integer.
        public init(integerLiteral value: Int) { self = .scalar(.int(value)) }
        /// A scalar double from a floating-point literal.
        /// - Parameter value: The double.
        public init(floatLiteral value: Double) { self = .scalar(.double(value)) }
        /// A scalar boolean from a boolean literal.
        /// - Parameter value: The boolean.
        public init(booleanLiteral value: Bool) { self = .scalar(.bool(value)) }
        /// A list from an array literal, for `in` and `not in`.
        /// - Parameter elements: The values.
        public init(arrayLiteral elements: MetadataValue...) { self = .list(elements) }

        /// The values a condition compares with, one for a scalar.
        public var values: [MetadataValue] {
            switch self {
            case let .scalar(v): return [v]
            case let .list(vs): return vs
            }
        }
    }

    /// One condition, validated.
    public struct Condition: Sendable, Hashable {
        /// What the condition tests: a metadata key or a message property.
        public let field: Field
        /// How the field's value is compared with ``value``.
        public let op: Operator
        /// The value, normalised: uuids lowercased and timestamps in their canonical text form.
        public let value: Value
    }

    /// The conditions, in the order they were added.
    public private(set) var conditions: [Condition] = []

    /// A matcher without conditions, which every event meets.
    public init() {}

    /// `true` when there are no conditions.
    public var isEmpty: Bool { conditions.isEmpty }

    /// This matcher with one more condition on a metadata key.
    /// - Throws: ``EventStoreError`` `invalidArgument` when the key is empty or the value does not fit the
    ///   operator (see ``adding(_:_:_:)``).
    public func metadata(_ key: String, _ op: Operator, _ value: Value) throws(EventStoreError) -> MetadataMatcher {
        try adding(.metadata(key), op, value)
    }

    /// This matcher with one more condition on a message property.
    public func property(_ property: MessageProperty, _ op: Operator, _ value: Value) throws(EventStoreError)
        -> MetadataMatcher
    {
        try adding(.property(property), op, value)
    }

    /// This matcher with one more condition.
    /// - Throws: ``EventStoreError`` `invalidArgument` when: the metadata key is empty; `in`/`not in` get a
    ///   scalar or another operator gets a list; `regex` gets no string or a pattern that does not compile;
    ///   an ordering operator gets a boolean; a double is not finite; a property gets a value of the wrong
    ///   type (`position` takes integers, the others strings, `created_at` a timestamp).
    public func adding(_ field: Field, _ op: Operator, _ value: Value) throws(EventStoreError) -> MetadataMatcher {
        var copy = self
        copy.conditions.append(try Self.validate(field, op, value))
        return copy
    }

    private static func validate(_ field: Field, _ op: Operator, _ value: Value) throws(EventStoreError) -> Condition {
        func fail(_ reason: String) -> EventStoreError { .invalidArgument("matcher on \(field): \(reason)") }
        if case let .metadata(key) = field, key.isEmpty { throw fail("the metadata key must not be empty") }
        if case let .metadata(key) = field, key.utf8.contains(0) { throw fail("the metadata key must not hold U+0000") }
        switch (op, value) {
        case (.in, .scalar), (.notIn, .scalar):
            throw fail("the operator \(op.rawValue) needs a list of values")
        case (.in, .list), (.notIn, .list):
            break
        case (_, .list):
            throw fail("the operator \(op.rawValue) needs a single value, not a list")
        case let (.regex, .scalar(v)):
            guard case let .string(pattern) = v else { throw fail("the regex operator needs a string pattern") }
            if let problem = RegexPattern.problem(with: pattern) { throw fail(problem) }
        case let (_, .scalar(v)):
            if op.isOrdering, case .bool = v { throw fail("booleans cannot be ordered with \(op.rawValue)") }
        }
        var values: [MetadataValue] = []
        for v in value.values {
            if case let .double(d) = v, !d.isFinite { throw fail("\(d) is not a finite number") }
            // No stored value holds U+0000 (see Metadata.problem), and PostgreSQL cannot take it as a parameter.
            if case let .string(text) = v, text.utf8.contains(0) { throw fail("values must not hold U+0000") }
            guard case let .property(property) = field else {
                values.append(v)
                continue
            }
            switch (property, v) {
            case (.position, .int):
                values.append(v)
            case (.position, _):
                throw fail("positions are integers, not \(v.jsonText)")
            case (_, .string) where op == .regex:
                values.append(v)
            case let (.uuid, .string(s)):
                values.append(.string(s.lowercased()))
            case (.messageName, .string):
                values.append(v)
            case let (.createdAt, .string(s)):
                guard let micros = Timestamp.parseMicroseconds(s) else {
                    throw fail("\"\(s)\" is not a timestamp (yyyy-MM-ddTHH:mm:ss.ffffff)")
                }
                values.append(.string(Timestamp.format(microseconds: micros)))
            case (_, _):
                throw fail("the property takes strings, not \(v.jsonText)")
            }
        }
        let normalised: Value
        switch value {
        case .scalar: normalised = .scalar(values[0])
        case .list: normalised = .list(values)
        }
        return Condition(field: field, op: op, value: normalised)
    }

    /// The reason this matcher cannot filter stream metadata, or `nil` when it can (stream listings
    /// take metadata conditions only).
    public var streamMetadataProblem: String? {
        conditions.contains(where: { if case .property = $0.field { true } else { false } })
            ? "stream listings filter on stream metadata only, not on message properties" : nil
    }
}

/// Regular expressions of matchers and listings: the syntax every backend shares (see ``PortableRegex``),
/// searched anywhere in the text unless anchored with `^`/`$`.
@_spi(Backend) public enum RegexPattern {
    /// The reason the pattern is not one every backend runs the same, or `nil` when it is.
    public static func problem(with pattern: String) -> String? {
        do {
            _ = try PortableRegex(pattern)
            return nil
        } catch {
            return error.reason
        }
    }

    /// A compiled pattern.
    /// - Throws: ``EventStoreError`` `invalidArgument` when it is outside the shared syntax.
    public static func compile(_ pattern: String) throws(EventStoreError) -> CompiledRegex {
        CompiledRegex(try PortableRegex(pattern).program)
    }
}

/// A compiled regular expression, safe to share between tasks; it runs in time linear in the text.
@_spi(Backend) public struct CompiledRegex: Sendable {
    private let program: RegexProgram
    init(_ program: RegexProgram) { self.program = program }

    /// `true` when the pattern matches somewhere in `text`.
    public func matches(_ text: String) -> Bool { program.matches(text) }
}
