import Foundation

/// A scalar metadata value: a string, a 64-bit integer, a double or a boolean.
///
/// Values are typed: the integer `5`, the double `5.5` and the string `"5"` are different values.
/// Integers and doubles compare with each other as numbers (`5 == 5.0`).
public enum MetadataValue: Sendable, Hashable, CustomStringConvertible {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)

    /// The value as JSON text.
    public var jsonText: String {
        var out = ""
        write(into: &out)
        return out
    }

    func write(into out: inout String) {
        switch self {
        case let .string(s): JSONWriter.writeString(s, into: &out)
        case let .int(i): out += String(i)
        case let .double(d): out += JSONWriter.doubleText(d)
        case let .bool(b): out += b ? "true" : "false"
        }
    }

    public var description: String {
        switch self {
        case let .string(s): return s
        case let .int(i): return String(i)
        case let .double(d): return JSONWriter.doubleText(d)
        case let .bool(b): return b ? "true" : "false"
        }
    }

    /// The string, when the value is one.
    public var stringValue: String? { if case let .string(s) = self { return s } else { return nil } }
    /// The integer, when the value is one.
    public var intValue: Int? { if case let .int(i) = self { return i } else { return nil } }

    /// Reads a JSON scalar: a string, a number (an integer when it has neither fraction nor exponent)
    /// or a boolean.
    /// - Throws: ``EventStoreError`` `invalidArgument` for `null`, arrays, objects and integers that
    ///   do not fit 64 bits.
    public init(json: JSONValue) throws(EventStoreError) {
        switch json {
        case let .string(s): self = .string(s)
        case let .bool(b): self = .bool(b)
        case let .number(text):
            if text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) {
                guard let d = Double(text), d.isFinite else {
                    throw .invalidArgument("the number \(text) is out of range for a metadata value")
                }
                self = .double(d)
            } else {
                guard let i = Int(text) else {
                    throw .invalidArgument("the integer \(text) does not fit in 64 bits")
                }
                self = .int(i)
            }
        case .null, .array, .object:
            throw .invalidArgument("metadata values must be strings, numbers or booleans, not \(json.jsonText)")
        }
    }

    public static func == (lhs: MetadataValue, rhs: MetadataValue) -> Bool {
        switch (lhs, rhs) {
        case let (.string(a), .string(b)): return a.utf8.elementsEqual(b.utf8)
        case let (.int(a), .int(b)): return a == b
        case let (.double(a), .double(b)): return a == b
        case let (.bool(a), .bool(b)): return a == b
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case let .string(s):
            hasher.combine(0)
            for byte in s.utf8 { hasher.combine(byte) }
        case let .int(i): hasher.combine(1); hasher.combine(i)
        case let .double(d): hasher.combine(2); hasher.combine(d)
        case let .bool(b): hasher.combine(3); hasher.combine(b)
        }
    }
}

extension MetadataValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension MetadataValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let b = try? container.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? container.decode(Int.self) {
            self = .int(i)
        } else if let d = try? container.decode(Double.self) {
            self = .double(d)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case let .string(s): try container.encode(s)
        case let .int(i): try container.encode(i)
        case let .double(d): try container.encode(d)
        case let .bool(b): try container.encode(b)
        }
    }
}

/// Metadata: string keys, scalar values.
///
/// Event metadata and stream metadata both use it. Keys that start with `_` are reserved for the
/// store and its helpers (`_aggregate_type`, `_aggregate_id`, `_aggregate_version`, `_causation_id`,
/// `_correlation_id`, `_position`).
public struct Metadata: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    /// The key/value pairs.
    public private(set) var values: [String: MetadataValue]

    public init(_ values: [String: MetadataValue] = [:]) { self.values = values }

    public init(dictionaryLiteral elements: (String, MetadataValue)...) {
        values = Dictionary(elements, uniquingKeysWith: { _, last in last })
    }

    /// The value under `key`.
    public subscript(key: String) -> MetadataValue? {
        get { values[key] }
        set { values[key] = newValue }
    }

    public var isEmpty: Bool { values.isEmpty }
    public var count: Int { values.count }
    public var keys: Dictionary<String, MetadataValue>.Keys { values.keys }

    public func makeIterator() -> Dictionary<String, MetadataValue>.Iterator { values.makeIterator() }

    /// This metadata with `value` under `key`.
    public func adding(_ key: String, _ value: MetadataValue) -> Metadata {
        var copy = self
        copy[key] = value
        return copy
    }

    /// The metadata as a JSON object, keys sorted by their UTF-8 bytes (the same text for the same metadata).
    public var jsonText: String {
        var out = "{"
        let sorted = values.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) })
        for (i, pair) in sorted.enumerated() {
            if i > 0 { out += "," }
            JSONWriter.writeString(pair.key, into: &out)
            out += ":"
            pair.value.write(into: &out)
        }
        out += "}"
        return out
    }

    public var description: String { jsonText }

    /// Reads metadata from a JSON object of scalars.
    /// - Throws: ``EventStoreError`` `invalidArgument` when the text is not such an object.
    public init(json text: String) throws(EventStoreError) {
        let value: JSONValue
        do {
            value = try JSONReader.parse(Array(text.utf8))
        } catch let error as EventStoreError {
            throw error
        } catch {
            throw .invalidArgument("\(error)")
        }
        try self.init(json: value)
    }

    /// Reads metadata as a store wrote it (a JSON object of scalars), by the fastest path; the same result
    /// as ``init(json:)-(String)``.
    /// - Throws: `invalidArgument` when the text is not a JSON object of scalars.
    public init(storedJSON text: String) throws(EventStoreError) {
        do {
            values = try JSONReader.metadataValues(text)
        } catch let error as EventStoreError {
            throw error
        } catch {
            throw .invalidArgument("\(error)")
        }
    }

    /// Reads metadata from a JSON object of scalars.
    public init(json value: JSONValue) throws(EventStoreError) {
        guard case let .object(members) = value else {
            throw .invalidArgument("metadata must be a JSON object, not \(value.jsonText)")
        }
        var values: [String: MetadataValue] = [:]
        for member in members {
            do {
                values[member.key] = try MetadataValue(json: member.value)
            } catch {
                throw .invalidArgument("metadata \"\(member.key)\": \(error.reason)")
            }
        }
        self.values = values
    }

    /// The reason this metadata cannot be stored, or `nil` when it can: keys must be non-empty and
    /// doubles finite.
    public var problem: String? {
        for (key, value) in values {
            if key.isEmpty { return "metadata keys must not be empty" }
            if case let .double(d) = value, !d.isFinite { return "metadata \"\(key)\" is \(d), which JSON cannot hold" }
        }
        return nil
    }
}

extension Metadata: Codable {
    public init(from decoder: any Decoder) throws {
        values = try decoder.singleValueContainer().decode([String: MetadataValue].self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(values)
    }
}

/// The metadata keys the store and its helpers use.
public enum MetadataKey {
    public static let aggregateType = "_aggregate_type"
    public static let aggregateID = "_aggregate_id"
    public static let aggregateVersion = "_aggregate_version"
    public static let causationID = "_causation_id"
    public static let correlationID = "_correlation_id"
    /// Added to every event's metadata on read with its stream position, unless the writer set it.
    public static let position = "_position"
}
