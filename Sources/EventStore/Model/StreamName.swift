/// The name of a stream: non-empty UTF-8 of at most 150 bytes, without control characters.
///
/// Names that start with `$` are internal (projections' own streams, for example) and are left out of
/// `fromAll` readers. The ``category`` is the part before the first `-`.
/// Names compare by their UTF-8 bytes, the order every backend lists them in.
public struct StreamName: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    /// The longest name, in UTF-8 bytes.
    public static let maxLength = 150

    /// The name as text.
    public let rawValue: String

    /// Validates and wraps a name.
    /// - Throws: ``EventStoreError`` `invalidArgument` when the name is empty, longer than
    ///   ``maxLength`` bytes or contains a control character.
    public init(_ rawValue: String) throws(EventStoreError) {
        if let problem = Self.problem(with: rawValue) {
            throw .invalidArgument("invalid stream name \(Self.quoted(rawValue)): \(problem)")
        }
        self.rawValue = rawValue
    }

    /// The reason `name` is not a valid stream name, or `nil` when it is one.
    public static func problem(with name: String) -> String? {
        if name.isEmpty { return "a stream name must not be empty" }
        if name.utf8.count > maxLength {
            return "a stream name must be at most \(maxLength) bytes of UTF-8, this one has \(name.utf8.count)"
        }
        if name.unicodeScalars.contains(where: \.isControlCharacter) {
            return "a stream name must not contain control characters"
        }
        return nil
    }

    private static func quoted(_ name: String) -> String {
        let shown = name.unicodeScalars.count > 60 ? String(name.unicodeScalars.prefix(60)) + "…" : name
        return "\"" + shown.unicodeScalars.map { $0.isControlCharacter ? $0.escaped(asASCII: true) : String($0) }.joined() + "\""
    }

    /// The part of the name before its first `-`, or `nil` when there is no `-` after the first character
    /// (`user-123` → `user`, `a-b-c` → `a`, `user` → nil).
    public var category: String? {
        guard let dash = rawValue.utf8.firstIndex(of: UInt8(ascii: "-")), dash != rawValue.utf8.startIndex else {
            return nil
        }
        return String(rawValue[..<dash])
    }

    /// `true` for names that start with `$`: streams the store and its projections keep for themselves.
    public var isInternal: Bool { rawValue.utf8.first == UInt8(ascii: "$") }

    /// The name as text, as ``rawValue``.
    public var description: String { rawValue }

    /// `true` when `lhs` sorts before `rhs` by their UTF-8 bytes, the order every backend lists names in.
    /// - Parameters:
    ///   - lhs: A name.
    ///   - rhs: The name to compare it with.
    public static func < (lhs: StreamName, rhs: StreamName) -> Bool {
        lhs.rawValue.utf8.lexicographicallyPrecedes(rhs.rawValue.utf8)
    }

    /// `true` when both names have the same UTF-8 bytes: `é` written as one scalar or as `e` and a combining accent
    /// are two names.
    /// - Parameters:
    ///   - lhs: A name.
    ///   - rhs: The name to compare it with.
    public static func == (lhs: StreamName, rhs: StreamName) -> Bool {
        lhs.rawValue.utf8.elementsEqual(rhs.rawValue.utf8)
    }

    /// Feeds the name's UTF-8 bytes into `hasher`, consistent with `==`.
    /// - Parameter hasher: The hasher to feed.
    public func hash(into hasher: inout Hasher) {
        for byte in rawValue.utf8 { hasher.combine(byte) }
    }

    /// Decodes a name from a string, checked as ``init(_:)`` checks it.
    /// - Parameter decoder: The decoder to read from.
    /// - Throws: The decoder's error when the value is not a string; ``EventStoreError`` `invalidArgument` when
    ///   the name is not valid.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        try self.init(text)
    }

    /// Encodes the name as a string.
    /// - Parameter encoder: The encoder to write to.
    /// - Throws: The encoder's error.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

extension StreamName: ExpressibleByStringLiteral {
    /// A name written in the source code.
    /// - Important: an invalid literal is a programming error and stops the program; names that come
    ///   from input must go through the throwing ``init(_:)``.
    public init(stringLiteral value: String) {
        do {
            try self.init(value)
        } catch {
            preconditionFailure("\(error)")
        }
    }
}
