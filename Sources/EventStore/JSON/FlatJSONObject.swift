import Foundation

/// A flat JSON object of scalars (metadata as a store wrote it), checked and read in place.
///
/// Loading an event keeps its metadata as text: one scan checks it, a lookup scans it again for one key
/// (no hashing, nothing allocated for a plain key), and only iterating, comparing or changing the
/// metadata decodes every pair.
enum FlatJSONObject {
    /// A member found by a scan, as byte ranges into the text.
    struct Member {
        /// The key's bytes, inside the quotes.
        var key: Range<Int>
        /// Whether the key holds a backslash escape (its bytes are then not its value).
        var keyEscaped: Bool
        var value: Value
    }

    enum Value {
        /// A string's bytes inside the quotes, and whether they hold a backslash escape.
        case string(Range<Int>, escaped: Bool)
        case int(Int)
        case double(Double)
        case bool(Bool)
    }

    /// Calls `body` with each member in text order.
    /// - Throws: `invalidArgument` when the bytes are not one JSON object whose values are strings, booleans,
    ///   64-bit integers or finite numbers.
    static func scan(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (Member) -> Void) throws(EventStoreError) {
        var scanner = Scanner(bytes: bytes)
        try scanner.run(body)
    }

    /// The value under `key`, `.some(nil)` when it is absent, or `nil` when the text holds escaped keys or an
    /// escaped value for `key`, which only a full decode reads.
    static func lookup(_ key: String, in text: String) -> MetadataValue?? {
        var text = text
        var key = key
        return text.withUTF8 { bytes in
            key.withUTF8 { wanted -> MetadataValue?? in
                var found: Member?
                var escapedKeys = false
                do {
                    try scan(bytes) { member in
                        if member.keyEscaped {
                            escapedKeys = true
                        } else if equal(bytes, member.key, wanted) {
                            found = member
                        }
                    }
                } catch {
                    return nil
                }
                if escapedKeys { return nil }
                guard let found else { return .some(nil) }
                switch found.value {
                case let .string(range, escaped):
                    if escaped { return nil }
                    return .string(String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self))
                case let .int(i): return .int(i)
                case let .double(d): return .double(d)
                case let .bool(b): return .bool(b)
                }
            }
        }
    }

    /// Whether `bytes[range]` are `text`'s UTF-8 bytes.
    static func bytes(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, equal text: String) -> Bool {
        var text = text
        return text.withUTF8 { equal(bytes, range, $0) }
    }

    private static func equal(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ other: UnsafeBufferPointer<UInt8>)
        -> Bool
    {
        guard range.count == other.count else { return false }
        guard let base = bytes.baseAddress, let otherBase = other.baseAddress else { return range.isEmpty }
        return memcmp(base + range.lowerBound, otherBase, range.count) == 0
    }

    /// Compares `bytes[range]` with `other` by their bytes: negative, zero or positive.
    static func compare(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ other: UnsafeBufferPointer<UInt8>) -> Int {
        let common = min(range.count, other.count)
        if common > 0, let base = bytes.baseAddress, let otherBase = other.baseAddress {
            let c = memcmp(base + range.lowerBound, otherBase, common)
            if c != 0 { return Int(c) }
        }
        return range.count - other.count
    }

    /// Compares two strings by their UTF-8 bytes: negative, zero or positive.
    static func compare(_ a: String, _ b: String) -> Int {
        var a = a
        var b = b
        return a.withUTF8 { pa in
            b.withUTF8 { pb in
                let common = min(pa.count, pb.count)
                if common > 0, let x = pa.baseAddress, let y = pb.baseAddress {
                    let c = memcmp(x, y, common)
                    if c != 0 { return Int(c) }
                }
                return pa.count - pb.count
            }
        }
    }

    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        private func failure(_ message: String) -> EventStoreError {
            .invalidArgument("invalid metadata JSON at byte \(index): \(message)")
        }

        private var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        private mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func run(_ body: (Member) -> Void) throws(EventStoreError) {
            skipWhitespace()
            guard peek == UInt8(ascii: "{") else { throw failure("metadata must be a JSON object") }
            index += 1
            skipWhitespace()
            if peek == UInt8(ascii: "}") {
                index += 1
            } else {
                while true {
                    skipWhitespace()
                    let (key, keyEscaped) = try string()
                    skipWhitespace()
                    guard peek == UInt8(ascii: ":") else { throw failure("expected ':'") }
                    index += 1
                    skipWhitespace()
                    body(Member(key: key, keyEscaped: keyEscaped, value: try value()))
                    skipWhitespace()
                    guard let separator = peek else { throw failure("unterminated object") }
                    index += 1
                    if separator == UInt8(ascii: "}") { break }
                    guard separator == UInt8(ascii: ",") else { throw failure("expected ',' or '}'") }
                }
            }
            skipWhitespace()
            guard index == bytes.count else { throw failure("unexpected text after the object") }
        }

        /// A string's bytes inside its quotes; escapes are checked, not decoded.
        private mutating func string() throws(EventStoreError) -> (Range<Int>, Bool) {
            guard peek == UInt8(ascii: "\"") else { throw failure("expected a string") }
            index += 1
            let start = index
            var escaped = false
            while true {
                // The plain run up to a quote, a backslash or a control character.
                while index < bytes.count {
                    let b = bytes[index]
                    if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") || b < 0x20 { break }
                    index += 1
                }
                guard index < bytes.count else { break }
                switch bytes[index] {
                case UInt8(ascii: "\""):
                    let range = start..<index
                    index += 1
                    return (range, escaped)
                case UInt8(ascii: "\\"):
                    escaped = true
                    index += 1
                    guard let e = peek else { throw failure("unterminated string") }
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                        UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        index += 1
                    case UInt8(ascii: "u"):
                        guard index + 4 < bytes.count,
                            (1...4).allSatisfy({ Self.isHex(bytes[index + $0]) })
                        else { throw failure("invalid \\u escape") }
                        index += 5
                    default:
                        throw failure("invalid escape")
                    }
                default:
                    throw failure("control character in a string")
                }
            }
            throw failure("unterminated string")
        }

        private static func isHex(_ b: UInt8) -> Bool {
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66)
        }

        private mutating func word(_ text: StaticString) -> Bool {
            let count = text.utf8CodeUnitCount
            guard index + count <= bytes.count else { return false }
            let matches = text.withUTF8Buffer { w in memcmp(bytes.baseAddress! + index, w.baseAddress!, count) == 0 }
            if matches { index += count }
            return matches
        }

        private mutating func value() throws(EventStoreError) -> Value {
            switch peek {
            case UInt8(ascii: "\""):
                let (range, escaped) = try string()
                return .string(range, escaped: escaped)
            case UInt8(ascii: "t"):
                guard word("true") else { throw failure("unexpected character") }
                return .bool(true)
            case UInt8(ascii: "f"):
                guard word("false") else { throw failure("unexpected character") }
                return .bool(false)
            case UInt8(ascii: "n"):
                throw failure("metadata values must be strings, numbers or booleans, not null")
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                throw failure("metadata values must be strings, numbers or booleans")
            default:
                return try number()
            }
        }

        private func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

        /// A JSON number: an integer (no fraction, no exponent) that must fit 64 bits, else a finite double.
        private mutating func number() throws(EventStoreError) -> Value {
            let start = index
            let negative = peek == UInt8(ascii: "-")
            if negative { index += 1 }
            guard let first = peek, isDigit(first) else { throw failure("unexpected character") }
            // Accumulate negatively so that Int.min fits.
            var value = 0
            var overflow = false
            if first == 0x30 {
                index += 1
            } else {
                while let d = peek, isDigit(d) {
                    let (times, o1) = value.multipliedReportingOverflow(by: 10)
                    let (next, o2) = times.subtractingReportingOverflow(Int(d - 0x30))
                    overflow = overflow || o1 || o2
                    value = next
                    index += 1
                }
            }
            var isDouble = false
            if peek == UInt8(ascii: ".") {
                isDouble = true
                index += 1
                guard let d = peek, isDigit(d) else { throw failure("a digit must follow '.'") }
                while let d = peek, isDigit(d) { index += 1 }
            }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                isDouble = true
                index += 1
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
                guard let d = peek, isDigit(d) else { throw failure("a digit must follow the exponent") }
                while let d = peek, isDigit(d) { index += 1 }
            }
            let range = start..<index
            var text: String { String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self) }
            if isDouble {
                guard let d = Double(text), d.isFinite else {
                    throw .invalidArgument("the number \(text) is out of range for a metadata value")
                }
                return .double(d)
            }
            if negative {
                guard !overflow else { throw .invalidArgument("the integer \(text) does not fit in 64 bits") }
                return .int(value)
            }
            let (positive, o3) = (0).subtractingReportingOverflow(value)
            guard !overflow, !o3 else { throw .invalidArgument("the integer \(text) does not fit in 64 bits") }
            return .int(positive)
        }
    }
}
