/// A JSON value that keeps numbers as their exact text and objects in their key order.
///
/// Numbers are never converted to binary floating point: `1.0` stays `1.0` and a 20-digit integer keeps
/// every digit, which is what the event store promises for payloads.
public enum JSONValue: Sendable, Equatable {
    /// JSON's `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number, as the exact text that stood in the document (or that a literal produced).
    case number(String)
    /// A string, unescaped.
    case string(String)
    /// An array, its items in order.
    case array([JSONValue])
    /// An object, its members in document order.
    case object([(key: String, value: JSONValue)])

    /// Whether two values are the same JSON: numbers by their text (`1` is not `1.0`), strings as Swift
    /// compares them, arrays item by item, and objects member by member in order (the same members in
    /// another order are another value).
    /// - Parameters:
    ///   - lhs: a value.
    ///   - rhs: the value to compare it with.
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.number(a), .number(b)): return a == b
        case let (.string(a), .string(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// Parses one JSON document.
    /// - Throws: ``EventStoreError`` with code `invalidArgument` when the text is not JSON.
    public init(parsing text: String) throws {
        self = try JSONReader.parse(Array(text.utf8))
    }

    /// How many arrays and objects nest here, this value included (0 for a scalar).
    public var depth: Int {
        switch self {
        case let .array(items): return 1 + (items.map(\.depth).max() ?? 0)
        case let .object(members): return 1 + (members.map(\.value.depth).max() ?? 0)
        default: return 0
        }
    }

    /// The value's member named `key`, when the value is an object that has it.
    public subscript(key: String) -> JSONValue? {
        guard case let .object(members) = self else { return nil }
        return members.first(where: { $0.key == key })?.value
    }

    /// The compact JSON text of this value.
    public var jsonText: String {
        var out = ""
        write(into: &out)
        return out
    }

    /// Appends `string` to `out` as a JSON string (quoted and escaped), without a value or a string between.
    package static func appendString(_ string: String, to out: inout String) { JSONWriter.writeString(string, into: &out) }

    func write(into out: inout String) {
        switch self {
        case .null: out += "null"
        case let .bool(b): out += b ? "true" : "false"
        case let .number(n): out += n
        case let .string(s): JSONWriter.writeString(s, into: &out)
        case let .array(items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(into: &out)
            }
            out += "]"
        case let .object(members):
            out += "{"
            for (i, member) in members.enumerated() {
                if i > 0 { out += "," }
                JSONWriter.writeString(member.key, into: &out)
                out += ":"
                member.value.write(into: &out)
            }
            out += "}"
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    /// A string literal: ``string(_:)``.
    /// - Parameter value: the string.
    public init(stringLiteral value: String) { self = .string(value) }
    /// An integer literal: ``number(_:)`` with its decimal text.
    /// - Parameter value: the integer.
    public init(integerLiteral value: Int) { self = .number(String(value)) }
    /// A float literal; a value that is not finite becomes `null`, since JSON has no such number.
    public init(floatLiteral value: Double) { self = value.isFinite ? .number(JSONWriter.storedDoubleText(value)) : .null }
    /// A boolean literal: ``bool(_:)``.
    /// - Parameter value: the boolean.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// An array literal: ``array(_:)``.
    /// - Parameter elements: the items, in order.
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// A dictionary literal: ``object(_:)``, its members in the literal's order (a key written twice is kept
    /// twice).
    /// - Parameter elements: the members, as key and value.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(elements.map { (key: $0.0, value: $0.1) })
    }
    /// The `nil` literal: ``null``.
    /// - Parameter nilLiteral: nothing.
    public init(nilLiteral: ()) { self = .null }
}

/// Writes JSON text.
enum JSONWriter {
    static func writeString(_ s: String, into out: inout String) {
        out.append("\"")
        // Most keys and values need no escape: one scan, one append. The scan runs over the string's
        // contiguous bytes where it has them (native strings do), a tight loop where the view's iterator is not.
        func needsEscape(_ byte: UInt8) -> Bool { byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") }
        let plain = s.utf8.withContiguousStorageIfAvailable { !$0.contains(where: needsEscape) } ?? !s.utf8.contains(where: needsEscape)
        if plain {
            out.append(s)
            out.append("\"")
            return
        }
        // Every byte to escape is ASCII, and bytes of multi-byte UTF-8 sequences are all 0x80 or more, so the
        // scan runs over bytes and copies the plain runs between escapes whole (as scalar slices: a Character
        // slice would round an index inside a grapheme such as `"` + U+0301 down to its start).
        let utf8 = s.utf8
        var plainStart = utf8.startIndex
        var index = plainStart
        while index != utf8.endIndex {
            let byte = utf8[index]
            if needsEscape(byte) {
                out.append(contentsOf: Substring(s.unicodeScalars[plainStart..<index]))
                switch byte {
                case UInt8(ascii: "\""): out.append("\\\"")
                case UInt8(ascii: "\\"): out.append("\\\\")
                case UInt8(ascii: "\n"): out.append("\\n")
                case UInt8(ascii: "\r"): out.append("\\r")
                case UInt8(ascii: "\t"): out.append("\\t")
                case 0x08: out.append("\\b")
                case 0x0C: out.append("\\f")
                default:
                    let hex = String(byte, radix: 16)
                    out.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
                }
                plainStart = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        out.append(contentsOf: Substring(s.unicodeScalars[plainStart..<utf8.endIndex]))
        out.append("\"")
    }

    /// The shortest text that reads back as the same `Double`, always with a fraction or exponent so
    /// that it reads back as a double rather than an integer.
    static func doubleText(_ value: Double) -> String {
        let text = value.description
        if text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) { return text }
        return text + ".0"
    }

    /// The digits of the shortest text that reads back as the same `Double`, written without an exponent and
    /// always with a fraction (`1e19` as `10000000000000000000.0`), and `-0.0` as `0.0`: the one form every
    /// backend keeps as written. PostgreSQL's `jsonb` rewrites `1e+19` as `10000000000000000000`, which
    /// would read back as an integer (or as none), but keeps the digits and the scale of a plain decimal;
    /// its `numeric` has no negative zero.
    static func storedDoubleText(_ value: Double) -> String {
        if value == 0 { return "0.0" }
        let text = value.description
        guard let exponentIndex = text.firstIndex(where: { $0 == "e" || $0 == "E" }) else {
            return text.contains(".") ? text : text + ".0"
        }
        guard let exponent = Int(text[text.index(after: exponentIndex)...]) else { return doubleText(value) }
        var mantissa = text[..<exponentIndex]
        let sign = mantissa.hasPrefix("-") ? "-" : ""
        if !sign.isEmpty { mantissa = mantissa.dropFirst() }
        let whole = mantissa.prefix { $0 != "." }
        let fraction = mantissa.drop { $0 != "." }.dropFirst()
        let digits = String(whole + fraction)
        // Where the decimal point falls in `digits`.
        let point = whole.count + exponent
        if point <= 0 { return sign + "0." + String(repeating: "0", count: -point) + digits }
        if point >= digits.count { return sign + digits + String(repeating: "0", count: point - digits.count) + ".0" }
        let split = digits.index(digits.startIndex, offsetBy: point)
        return sign + digits[..<split] + "." + digits[split...]
    }
}
