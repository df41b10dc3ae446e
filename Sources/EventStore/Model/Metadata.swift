import Foundation

/// A scalar metadata value: a string, a 64-bit integer, a double or a boolean.
///
/// Values are typed: the integer `5`, the double `5.5` and the string `"5"` are different values.
/// `==` keeps them apart too (`.int(5) != .double(5)`); a ``MetadataMatcher`` compares integers and doubles
/// with each other as numbers, so `5` matches a condition on `5.0`.
public enum MetadataValue: Sendable, Hashable, CustomStringConvertible {
    /// A string; it compares by its UTF-8 bytes.
    case string(String)
    /// A 64-bit signed integer.
    case int(Int)
    /// A double; metadata a store takes holds finite doubles only (see ``Metadata/problem``).
    case double(Double)
    /// A boolean.
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
        case let .double(d): out += JSONWriter.storedDoubleText(d)
        case let .bool(b): out += b ? "true" : "false"
        }
    }

    /// The value as plain text: a string as it is (no quotes), an integer in decimal, a double with a fraction
    /// or exponent (`5.0`), `true` or `false`.
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

    /// `true` when both values are the same kind and equal: strings by their UTF-8 bytes, numbers by value
    /// (`-0.0 == 0.0`). An integer never equals a double here (`.int(5) != .double(5)`); matchers compare
    /// them as numbers.
    /// - Parameters:
    ///   - lhs: A value.
    ///   - rhs: The value to compare it with.
    public static func == (lhs: MetadataValue, rhs: MetadataValue) -> Bool {
        switch (lhs, rhs) {
        case let (.string(a), .string(b)): return a.utf8.elementsEqual(b.utf8)
        case let (.int(a), .int(b)): return a == b
        case let (.double(a), .double(b)): return a == b
        case let (.bool(a), .bool(b)): return a == b
        default: return false
        }
    }

    /// Feeds the kind and the value into `hasher` (a string by its UTF-8 bytes), consistent with `==`.
    /// - Parameter hasher: The hasher to feed.
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
    /// A ``string(_:)`` value from a string literal.
    /// - Parameter value: The string.
    public init(stringLiteral value: String) { self = .string(value) }
    /// An ``int(_:)`` value from an integer literal.
    /// - Parameter value: The integer.
    public init(integerLiteral value: Int) { self = .int(value) }
    /// A ``double(_:)`` value from a floating-point literal.
    /// - Parameter value: The double.
    public init(floatLiteral value: Double) { self = .double(value) }
    /// A ``bool(_:)`` value from a boolean literal.
    /// - Parameter value: The boolean.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension MetadataValue: Codable {
    /// Decodes a single value: a boolean, else an integer, else a double, else a string.
    /// - Parameter decoder: The decoder to read from.
    /// - Throws: The decoder's error when the value is none of these.
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

    /// Encodes the value as a single string, integer, double or boolean.
    /// - Parameter encoder: The encoder to write to.
    /// - Throws: The encoder's error.
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
/// `_correlation_id`, `_position`, `_projection`, `_traceparent`). Keys are compared by their UTF-8 bytes, as JSON and every backend's
/// SQL compare them; iteration is in that order.
public struct Metadata: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    /// A key and its value, as iteration yields them.
    public typealias Element = (key: String, value: MetadataValue)

    private enum Storage: Sendable {
        /// Pairs sorted by key bytes, keys unique.
        case pairs([Element])
        /// Text a store wrote and this type checked (``FlatJSONObject``), plus at most one pair whose key the
        /// text does not hold: an event's metadata as loaded, decoded only when more than a lookup needs it.
        /// `lacksPosition`: the check saw neither a `_position` key nor an escaped key.
        case stored(String, added: Element?, lacksPosition: Bool)
    }

    private var storage: Storage

    /// Metadata holding the pairs of a dictionary; empty by default.
    /// - Parameter values: The key/value pairs.
    public init(_ values: [String: MetadataValue] = [:]) {
        storage = .pairs(values.map { (key: $0.key, value: $0.value) }.sorted { FlatJSONObject.compare($0.key, $1.key) < 0 })
    }

    /// Metadata from a dictionary literal; of two equal keys (by UTF-8 bytes) the last one stays.
    /// - Parameter elements: The key/value pairs.
    public init(dictionaryLiteral elements: (String, MetadataValue)...) {
        storage = .pairs(Self.normalised(elements.map { (key: $0.0, value: $0.1) }))
    }

    /// Pairs in any order, sorted by key bytes; of equal keys the last one stays.
    private static func normalised(_ pairs: [Element]) -> [Element] {
        var sorted: [Element] = []
        sorted.reserveCapacity(pairs.count + 1)
        for pair in pairs { insert(pair, into: &sorted) }
        return sorted
    }

    /// Puts `pair` in its sorted place, replacing a pair with the same key.
    private static func insert(_ pair: Element, into pairs: inout [Element]) {
        if let last = pairs.last {
            let order = FlatJSONObject.compare(last.key, pair.key)
            if order < 0 {
                pairs.append(pair)
                return
            }
            if order == 0 {
                pairs[pairs.count - 1] = pair
                return
            }
        } else {
            pairs.append(pair)
            return
        }
        var low = 0
        var high = pairs.count
        while low < high {
            let mid = (low + high) / 2
            let order = FlatJSONObject.compare(pairs[mid].key, pair.key)
            if order == 0 {
                pairs[mid] = pair
                return
            }
            if order < 0 { low = mid + 1 } else { high = mid }
        }
        pairs.insert(pair, at: low)
    }

    /// The pairs, sorted by key bytes.
    private var pairs: [Element] {
        switch storage {
        case let .pairs(pairs):
            return pairs
        case let .stored(text, added, _):
            // The text was checked when it was wrapped, so decoding it cannot fail.
            var pairs = Self.normalised((try? JSONReader.metadataPairs(text)) ?? [])
            if let added { Self.insert(added, into: &pairs) }
            return pairs
        }
    }

    private mutating func modifyPairs(_ body: (inout [Element]) -> Void) {
        var current = pairs
        storage = .pairs([])
        body(&current)
        storage = .pairs(current)
    }

    /// The key/value pairs.
    public var values: [String: MetadataValue] {
        Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    /// The value under `key`.
    public subscript(key: String) -> MetadataValue? {
        get {
            switch storage {
            case let .pairs(pairs):
                return pairs.first(where: { FlatJSONObject.compare($0.key, key) == 0 })?.value
            case let .stored(text, added, _):
                if let added, FlatJSONObject.compare(added.key, key) == 0 { return added.value }
                if let found = FlatJSONObject.lookup(key, in: text) { return found }
                return pairs.first(where: { FlatJSONObject.compare($0.key, key) == 0 })?.value
            }
        }
        set {
            if case let .stored(text, nil, _) = storage, let newValue, self[key] == nil {
                storage = .stored(text, added: (key: key, value: newValue), lacksPosition: false)
                return
            }
            modifyPairs { pairs in
                if let newValue {
                    Self.insert((key: key, value: newValue), into: &pairs)
                } else {
                    pairs.removeAll { FlatJSONObject.compare($0.key, key) == 0 }
                }
            }
        }
    }

    /// Adds `value` under `key` unless the key is there (the store's `_position` on read): loaded metadata
    /// stays undecoded.
    mutating func addIfAbsent(_ key: String, _ value: MetadataValue) {
        if case let .stored(text, nil, true) = storage, key == MetadataKey.position {
            storage = .stored(text, added: (key: key, value: value), lacksPosition: false)
            return
        }
        if self[key] != nil { return }
        if case let .stored(text, nil, _) = storage {
            storage = .stored(text, added: (key: key, value: value), lacksPosition: false)
        } else {
            modifyPairs { Self.insert((key: key, value: value), into: &$0) }
        }
    }

    /// `true` when there is no key.
    public var isEmpty: Bool { pairs.isEmpty }
    /// The number of keys.
    public var count: Int { pairs.count }
    /// The keys, sorted by their UTF-8 bytes.
    public var keys: [String] { pairs.map(\.key) }

    /// An iterator over the pairs, in the order of their keys' UTF-8 bytes.
    public func makeIterator() -> IndexingIterator<[Element]> { pairs.makeIterator() }

    /// This metadata with `value` under `key`.
    public func adding(_ key: String, _ value: MetadataValue) -> Metadata {
        var copy = self
        copy[key] = value
        return copy
    }

    /// `true` when both hold the same keys (by UTF-8 bytes) with equal values (``MetadataValue``'s `==`).
    /// - Parameters:
    ///   - lhs: Some metadata.
    ///   - rhs: The metadata to compare it with.
    public static func == (lhs: Metadata, rhs: Metadata) -> Bool {
        if case let .stored(a, addedA, _) = lhs.storage, case let .stored(b, addedB, _) = rhs.storage,
            a.utf8.elementsEqual(b.utf8), addedA?.key == addedB?.key, addedA?.value == addedB?.value
        {
            return true
        }
        let a = lhs.pairs
        let b = rhs.pairs
        return a.count == b.count
            && zip(a, b).allSatisfy { FlatJSONObject.compare($0.key, $1.key) == 0 && $0.value == $1.value }
    }

    /// Feeds the number of pairs and each key's UTF-8 bytes and value into `hasher`, consistent with `==`.
    /// - Parameter hasher: The hasher to feed.
    public func hash(into hasher: inout Hasher) {
        let pairs = pairs
        hasher.combine(pairs.count)
        for pair in pairs {
            for byte in pair.key.utf8 { hasher.combine(byte) }
            hasher.combine(pair.value)
        }
    }

    /// The metadata as a JSON object, keys sorted by their UTF-8 bytes (the same text for the same metadata).
    public var jsonText: String {
        var out = "{"
        for (i, pair) in pairs.enumerated() {
            if i > 0 { out += "," }
            JSONWriter.writeString(pair.key, into: &out)
            out += ":"
            pair.value.write(into: &out)
        }
        out += "}"
        return out
    }

    /// Writes the metadata as JSON at the end of `out`: metadata as a store wrote it as that text, with the
    /// pair added on load (`_position`) put before the first key that sorts after it, not decoded and encoded
    /// again, so that a page of loaded events is written at the cost of copying its text. The same pairs as
    /// ``jsonText``, and the same text for text this version of the store wrote (an older row's spacing or
    /// number spelling stays as stored).
    package func writeAsStored(into out: inout JSONBytes) {
        if case let .stored(text, added, _) = storage, Self.writeStored(text, added: added, into: &out) { return }
        out.append(raw: jsonText)
    }

    /// Writes stored text with `added` before the first key that sorts after it; `false`, with nothing
    /// written, when the text holds an escaped key (whose order only a decode knows).
    private static func writeStored(_ text: String, added: Element?, into out: inout JSONBytes) -> Bool {
        guard let added else {
            out.append(raw: text)
            return true
        }
        var pair = JSONBytes()
        pair.appendQuoted(added.key)
        pair.append(":")
        pair.append(raw: added.value.jsonText)
        var text = text
        var key = added.key
        return text.withUTF8 { bytes in
            key.withUTF8 { wanted in
                guard let (offset, atClose, empty) = insertionPoint(of: wanted, in: bytes) else { return false }
                out.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[..<offset]))
                if atClose {
                    if !empty { out.append(",") }
                    out.bytes.append(contentsOf: pair.bytes)
                } else {
                    out.bytes.append(contentsOf: pair.bytes)
                    out.append(",")
                }
                out.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[offset...]))
                return true
            }
        }
    }

    /// Where `key` goes in a flat JSON object's text (checked already): the offset of the first member whose
    /// key sorts after it, or of the closing brace (`atClose`, `empty` when the object has no member); `nil`
    /// when a key holds an escape. Values are skipped, not read.
    private static func insertionPoint(of key: UnsafeBufferPointer<UInt8>, in text: UnsafeBufferPointer<UInt8>)
        -> (offset: Int, atClose: Bool, empty: Bool)?
    {
        var index = 0
        func skipWhitespace() {
            while index < text.count, text[index] == 0x20 || text[index] == 0x09 || text[index] == 0x0A || text[index] == 0x0D {
                index += 1
            }
        }
        skipWhitespace()
        guard index < text.count, text[index] == UInt8(ascii: "{") else { return nil }
        index += 1
        skipWhitespace()
        if index < text.count, text[index] == UInt8(ascii: "}") { return (index, true, true) }
        while index < text.count {
            skipWhitespace()
            guard text[index] == UInt8(ascii: "\"") else { return nil }
            let memberStart = index
            let keyStart = index + 1
            index = keyStart
            while index < text.count, text[index] != UInt8(ascii: "\"") {
                if text[index] == UInt8(ascii: "\\") { return nil }
                index += 1
            }
            if FlatJSONObject.compare(text, keyStart..<index, key) > 0 { return (memberStart, false, false) }
            index += 1
            skipWhitespace()
            index += 1  // the colon
            skipWhitespace()
            if index < text.count, text[index] == UInt8(ascii: "\"") {
                index += 1
                while index < text.count, text[index] != UInt8(ascii: "\"") {
                    index += text[index] == UInt8(ascii: "\\") ? 2 : 1
                }
                index += 1
            } else {
                while index < text.count, text[index] != UInt8(ascii: ","), text[index] != UInt8(ascii: "}") { index += 1 }
            }
            skipWhitespace()
            guard index < text.count else { return nil }
            if text[index] == UInt8(ascii: "}") { return (index, true, false) }
            index += 1  // the comma
        }
        return nil
    }

    /// The metadata as a JSON object, the same text as ``jsonText``.
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

    /// Reads metadata as a store wrote it (a JSON object of scalars): the text is checked now and decoded
    /// only when the metadata is iterated, compared or changed (a lookup scans it); the same metadata as
    /// ``init(json:)-(String)``.
    /// - Throws: `invalidArgument` when the text is not a JSON object of scalars.
    package init(storedJSON text: String) throws(EventStoreError) {
        var text = text
        var lacksPosition = true
        let checked = text.withUTF8 { bytes in
            Result { () throws(EventStoreError) in
                try FlatJSONObject.scan(bytes) { member in
                    if member.keyEscaped || (member.key.count == 9 && FlatJSONObject.bytes(bytes, member.key, equal: MetadataKey.position)) {
                        lacksPosition = false
                    }
                }
            }
        }
        try checked.get()
        storage = .stored(text, added: nil, lacksPosition: lacksPosition)
    }

    /// Reads metadata from a JSON object of scalars.
    public init(json value: JSONValue) throws(EventStoreError) {
        guard case let .object(members) = value else {
            throw .invalidArgument("metadata must be a JSON object, not \(value.jsonText)")
        }
        var pairs: [Element] = []
        // By their bytes, as keys compare everywhere else (a `Set<String>` would merge "é" and "e\u{301}").
        var keys = Set<[UInt8]>()
        for member in members {
            if !keys.insert(Array(member.key.utf8)).inserted {
                throw .invalidArgument("metadata has the key \"\(member.key)\" twice")
            }
            do {
                pairs.append((key: member.key, value: try MetadataValue(json: member.value)))
            } catch {
                throw .invalidArgument("metadata \"\(member.key)\": \(error.reason)")
            }
        }
        storage = .pairs(Self.normalised(pairs))
    }

    /// This metadata as every backend stores it: a double `-0.0` as `0.0` (PostgreSQL's `numeric` has no
    /// negative zero, so no backend keeps one; the two compare equal).
    package var storedForm: Metadata {
        guard case let .pairs(pairs) = storage,
            pairs.contains(where: { if case let .double(d) = $0.value { d == 0 && d.sign == .minus } else { false } })
        else { return self }
        var copy = self
        copy.storage = .pairs(pairs.map { pair in
            if case let .double(d) = pair.value, d == 0 { return (key: pair.key, value: .double(0)) }
            return pair
        })
        return copy
    }

    /// The reason this metadata cannot be stored, or `nil` when it can: keys must be non-empty, doubles
    /// finite, and neither keys nor strings may hold U+0000 (PostgreSQL's `jsonb` cannot, so no backend
    /// takes it).
    public var problem: String? {
        for (key, value) in pairs {
            if key.isEmpty { return "metadata keys must not be empty" }
            if key.utf8.contains(0) { return "metadata key \(Self.shown(key)) holds U+0000, which no backend stores" }
            switch value {
            case let .double(d) where !d.isFinite: return "metadata \"\(key)\" is \(d), which JSON cannot hold"
            case let .string(text) where text.utf8.contains(0):
                return "metadata \"\(key)\" holds U+0000, which no backend stores"
            default: continue
            }
        }
        return nil
    }

    private static func shown(_ key: String) -> String {
        "\"" + key.unicodeScalars.map { $0.isControlCharacter ? $0.escaped(asASCII: true) : String($0) }.joined() + "\""
    }
}

extension Metadata: Codable {
    /// Decodes a keyed container of ``MetadataValue``s (a JSON object of scalars).
    /// - Parameter decoder: The decoder to read from.
    /// - Throws: The decoder's error when the value is not such a container.
    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode([String: MetadataValue].self))
    }

    /// Encodes the pairs as a dictionary of ``MetadataValue``s (``values``, so keys come in the encoder's order,
    /// not sorted as in ``jsonText``).
    /// - Parameter encoder: The encoder to write to.
    /// - Throws: The encoder's error.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(values)
    }
}

/// The metadata keys the store and its helpers use.
public enum MetadataKey {
    /// `_aggregate_type`: the type of the aggregate the event belongs to (an `AggregateRepository` sets it).
    public static let aggregateType = "_aggregate_type"
    /// `_aggregate_id`: the id of the aggregate the event belongs to (an `AggregateRepository` sets it).
    public static let aggregateID = "_aggregate_id"
    /// `_aggregate_version`: the aggregate's version after the event, an integer from 1. A stream holds at most
    /// one event with a given type, id and version (``AggregateKey``).
    public static let aggregateVersion = "_aggregate_version"
    /// `_causation_id`: the id of the command or event that caused this event. Reserved; the store does not set it.
    public static let causationID = "_causation_id"
    /// `_correlation_id`: the id shared by the events of one conversation or workflow. Reserved; the store does
    /// not set it.
    public static let correlationID = "_correlation_id"
    /// Added to every event's metadata on read with its stream position, unless the writer set it.
    public static let position = "_position"
    /// On the streams an emitting projection created and the events it wrote: the projection's name (a reset
    /// deletes only the streams that carry it and hold nothing else).
    public static let projection = "_projection"
    /// The W3C `traceparent` of the span that appended the event, when one was current: a consumer continues
    /// the trace from it (``EventStoreTelemetry``).
    public static let traceParent = "_traceparent"
}
