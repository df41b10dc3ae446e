/// A strict JSON reader (RFC 8259) over UTF-8 bytes.
///
/// Besides building ``JSONValue``s it can validate a document without building anything and split an
/// object or array into the raw bytes of its members, so that a payload inside a larger document is kept
/// byte-for-byte. Nesting deeper than ``maxDepth`` is an error, never a stack overflow.
struct JSONReader {
    static let maxDepth = 512

    private let bytes: [UInt8]
    private var index = 0
    private var depth = 0
    /// The most arrays and objects one inside another this reader takes.
    private var depthLimit = JSONReader.maxDepth

    private init(_ bytes: [UInt8]) { self.bytes = bytes }

    // MARK: Entry points

    /// Parses a whole document into a value.
    static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        var reader = try JSONReader(validUTF8: bytes)
        reader.skipWhitespace()
        let value = try reader.parseValue()
        try reader.expectEnd()
        return value
    }

    /// Parses a JSON object of scalars straight into metadata pairs, in text order, without building a
    /// ``JSONValue`` first. `text` is a Swift string, so its UTF-8 needs no validation.
    static func metadataPairs(_ text: String) throws -> [(key: String, value: MetadataValue)] {
        var reader = JSONReader(Array(text.utf8))
        reader.skipWhitespace()
        guard reader.peek == UInt8(ascii: "{") else { throw reader.error("metadata must be a JSON object") }
        reader.index += 1
        var values: [(key: String, value: MetadataValue)] = []
        values.reserveCapacity(8)
        reader.skipWhitespace()
        if reader.peek == UInt8(ascii: "}") {
            reader.index += 1
        } else {
            while true {
                reader.skipWhitespace()
                let key = try reader.parseString()
                reader.skipWhitespace()
                guard reader.peek == UInt8(ascii: ":") else { throw reader.error("expected ':'") }
                reader.index += 1
                reader.skipWhitespace()
                let value: MetadataValue
                if reader.peek == UInt8(ascii: "\"") {
                    value = .string(try reader.parseString())
                } else if reader.consumeWord("true") {
                    value = .bool(true)
                } else if reader.consumeWord("false") {
                    value = .bool(false)
                } else {
                    let number = try reader.scanNumber()
                    do {
                        value = try MetadataValue(json: .number(number))
                    } catch {
                        throw EventStoreError.invalidArgument("metadata \"\(key)\": \(error.reason)")
                    }
                }
                values.append((key: key, value: value))
                reader.skipWhitespace()
                if try reader.consumeSeparator(closing: UInt8(ascii: "}")) { break }
            }
        }
        try reader.expectEnd()
        return values
    }

    /// Checks that the bytes are one JSON object, nested at most `maxDepth` deep, without building it.
    static func validateObject(_ bytes: [UInt8], maxDepth: Int = JSONReader.maxDepth) throws {
        var reader = try JSONReader(validUTF8: bytes)
        reader.depthLimit = maxDepth
        reader.skipWhitespace()
        guard reader.peek == UInt8(ascii: "{") else { throw reader.error("a JSON object was expected") }
        try reader.skipValue()
        try reader.expectEnd()
    }

    /// The members of a top-level object, each value as its raw bytes. `validated`: the bytes are part of a
    /// document whose UTF-8 was checked already.
    static func objectMembers(_ bytes: [UInt8], validated: Bool = false) throws -> [(key: String, raw: ArraySlice<UInt8>)] {
        var reader = validated ? JSONReader(bytes) : try JSONReader(validUTF8: bytes)
        reader.skipWhitespace()
        let members = try reader.rawObjectMembers()
        try reader.expectEnd()
        return members
    }

    /// The elements of a top-level array, each as its raw bytes (`validated` as for ``objectMembers(_:validated:)``).
    static func arrayElements(_ bytes: [UInt8], validated: Bool = false) throws -> [ArraySlice<UInt8>] {
        var reader = validated ? JSONReader(bytes) : try JSONReader(validUTF8: bytes)
        reader.skipWhitespace()
        guard reader.peek == UInt8(ascii: "[") else { throw reader.error("a JSON array was expected") }
        reader.index += 1
        var elements: [ArraySlice<UInt8>] = []
        reader.skipWhitespace()
        if reader.peek == UInt8(ascii: "]") {
            reader.index += 1
        } else {
            while true {
                reader.skipWhitespace()
                let start = reader.index
                try reader.skipValue()
                elements.append(bytes[start..<reader.index])
                reader.skipWhitespace()
                if try reader.consumeSeparator(closing: UInt8(ascii: "]")) { break }
            }
        }
        try reader.expectEnd()
        return elements
    }

    private init(validUTF8 bytes: [UInt8]) throws {
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw EventStoreError.invalidArgument("JSON text is not valid UTF-8")
        }
        self.init(bytes)
    }

    // MARK: Grammar

    private var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    private func error(_ message: String) -> EventStoreError {
        .invalidArgument("invalid JSON at byte \(index): \(message)")
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func expectEnd() throws {
        skipWhitespace()
        if index != bytes.count { throw error("unexpected text after the value") }
    }

    /// After a member or element: `,` continues (returns false), `closing` ends (returns true).
    private mutating func consumeSeparator(closing: UInt8) throws -> Bool {
        switch peek {
        case UInt8(ascii: ","): index += 1; return false
        case closing: index += 1; return true
        default: throw error("expected ',' or '\(Character(UnicodeScalar(closing)))'")
        }
    }

    private mutating func enter() throws {
        depth += 1
        if depth > depthLimit { throw error("nesting deeper than \(depthLimit) arrays and objects") }
    }

    private mutating func parseValue() throws -> JSONValue {
        switch peek {
        case UInt8(ascii: "{"):
            try enter()
            defer { depth -= 1 }
            index += 1
            var members: [(key: String, value: JSONValue)] = []
            skipWhitespace()
            if peek == UInt8(ascii: "}") { index += 1; return .object(members) }
            while true {
                skipWhitespace()
                let key = try parseString()
                skipWhitespace()
                guard peek == UInt8(ascii: ":") else { throw error("expected ':'") }
                index += 1
                skipWhitespace()
                members.append((key: key, value: try parseValue()))
                skipWhitespace()
                if try consumeSeparator(closing: UInt8(ascii: "}")) { return .object(members) }
            }
        case UInt8(ascii: "["):
            try enter()
            defer { depth -= 1 }
            index += 1
            var items: [JSONValue] = []
            skipWhitespace()
            if peek == UInt8(ascii: "]") { index += 1; return .array(items) }
            while true {
                skipWhitespace()
                items.append(try parseValue())
                skipWhitespace()
                if try consumeSeparator(closing: UInt8(ascii: "]")) { return .array(items) }
            }
        case UInt8(ascii: "\""):
            return .string(try parseString())
        default:
            return try parseLiteralOrNumber()
        }
    }

    private mutating func rawObjectMembers() throws -> [(key: String, raw: ArraySlice<UInt8>)] {
        guard peek == UInt8(ascii: "{") else { throw error("a JSON object was expected") }
        index += 1
        var members: [(key: String, raw: ArraySlice<UInt8>)] = []
        skipWhitespace()
        if peek == UInt8(ascii: "}") { index += 1; return members }
        while true {
            skipWhitespace()
            let key = try parseString()
            skipWhitespace()
            guard peek == UInt8(ascii: ":") else { throw error("expected ':'") }
            index += 1
            skipWhitespace()
            let start = index
            try skipValue()
            members.append((key: key, raw: bytes[start..<index]))
            skipWhitespace()
            if try consumeSeparator(closing: UInt8(ascii: "}")) { return members }
        }
    }

    /// Validates one value and moves past it, building nothing.
    private mutating func skipValue() throws {
        switch peek {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let closing = peek == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            let isObject = closing == UInt8(ascii: "}")
            try enter()
            defer { depth -= 1 }
            index += 1
            skipWhitespace()
            if peek == closing { index += 1; return }
            while true {
                skipWhitespace()
                if isObject {
                    try skipString()
                    skipWhitespace()
                    guard peek == UInt8(ascii: ":") else { throw error("expected ':'") }
                    index += 1
                    skipWhitespace()
                }
                try skipValue()
                skipWhitespace()
                if try consumeSeparator(closing: closing) { return }
            }
        case UInt8(ascii: "\""):
            try skipString()
        default:
            _ = try parseLiteralOrNumber()
        }
    }

    private mutating func parseLiteralOrNumber() throws -> JSONValue {
        if consumeWord("true") { return .bool(true) }
        if consumeWord("false") { return .bool(false) }
        if consumeWord("null") { return .null }
        return .number(try scanNumber())
    }

    private mutating func consumeWord(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        let matches = word.withUTF8Buffer { buffer in
            buffer.indices.allSatisfy { bytes[index + $0] == buffer[$0] }
        }
        if matches { index += count }
        return matches
    }

    private mutating func scanNumber() throws -> String {
        let start = index
        if peek == UInt8(ascii: "-") { index += 1 }
        guard let first = peek, isDigit(first) else { throw error("unexpected character") }
        if first == UInt8(ascii: "0") {
            index += 1
        } else {
            skipDigits()
        }
        if peek == UInt8(ascii: ".") {
            index += 1
            guard let d = peek, isDigit(d) else { throw error("a digit must follow '.'") }
            skipDigits()
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            index += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
            guard let d = peek, isDigit(d) else { throw error("a digit must follow the exponent") }
            skipDigits()
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    private func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

    private mutating func skipDigits() {
        while let b = peek, isDigit(b) { index += 1 }
    }

    private mutating func skipString() throws {
        guard peek == UInt8(ascii: "\"") else { throw error("expected a string") }
        index += 1
        while index < bytes.count {
            let b = bytes[index]
            switch b {
            case UInt8(ascii: "\""):
                index += 1
                return
            case UInt8(ascii: "\\"):
                index += 1
                guard let e = peek else { break }
                if e == UInt8(ascii: "u") {
                    index += 1
                    _ = try hex4()
                } else {
                    guard Self.simpleEscapes[e] != nil else { throw error("invalid escape") }
                    index += 1
                }
            case 0..<0x20:
                throw error("control character in a string")
            default:
                index += 1
            }
        }
        throw error("unterminated string")
    }

    private static let simpleEscapes: [UInt8: Unicode.Scalar] = [
        UInt8(ascii: "\""): "\"", UInt8(ascii: "\\"): "\\", UInt8(ascii: "/"): "/", UInt8(ascii: "b"): "\u{08}",
        UInt8(ascii: "f"): "\u{0C}", UInt8(ascii: "n"): "\n", UInt8(ascii: "r"): "\r", UInt8(ascii: "t"): "\t",
    ]

    private mutating func parseString() throws -> String {
        guard peek == UInt8(ascii: "\"") else { throw error("expected a string") }
        index += 1
        var result = ""
        var plainStart = index
        while index < bytes.count {
            let b = bytes[index]
            switch b {
            case UInt8(ascii: "\""):
                result += String(decoding: bytes[plainStart..<index], as: UTF8.self)
                index += 1
                return result
            case UInt8(ascii: "\\"):
                result += String(decoding: bytes[plainStart..<index], as: UTF8.self)
                index += 1
                guard let e = peek else { throw error("unterminated string") }
                if e == UInt8(ascii: "u") {
                    index += 1
                    result.unicodeScalars.append(try unicodeEscape())
                } else if let scalar = Self.simpleEscapes[e] {
                    index += 1
                    result.unicodeScalars.append(scalar)
                } else {
                    throw error("invalid escape")
                }
                plainStart = index
            case 0..<0x20:
                throw error("control character in a string")
            default:
                index += 1
            }
        }
        throw error("unterminated string")
    }

    /// Reads the rest of a `\uXXXX` escape (after the `u`), joining surrogate pairs. A lone surrogate
    /// becomes U+FFFD, as most JSON readers do.
    private mutating func unicodeEscape() throws -> Unicode.Scalar {
        let first = try hex4()
        if (0xD800...0xDBFF).contains(first), index + 1 < bytes.count,
            bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
        {
            let save = index
            index += 2
            let second = try hex4()
            if (0xDC00...0xDFFF).contains(second) {
                let value = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                return Unicode.Scalar(value) ?? "\u{FFFD}"
            }
            index = save
        }
        return Unicode.Scalar(first) ?? "\u{FFFD}"
    }

    private mutating func hex4() throws -> UInt32 {
        guard index + 4 <= bytes.count else { throw error("incomplete \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[index]
            let digit: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = b - UInt8(ascii: "A") + 10
            default: throw error("invalid \\u escape")
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }
}
