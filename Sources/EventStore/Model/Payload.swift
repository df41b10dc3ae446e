import Foundation

/// An event's payload: a JSON object, kept byte-for-byte as it was written.
///
/// `1.0` stays `1.0`, a 20-digit integer keeps its digits and keys keep their order, on every backend.
public struct Payload: Sendable, Hashable, CustomStringConvertible {
    /// The JSON text of the object.
    public let jsonText: String

    /// The empty object, `{}`.
    public static let empty = Payload(trustedJSON: "{}")

    /// The most arrays and objects a payload may nest, itself included: the most MariaDB's `JSON_VALID`
    /// takes, so that every backend stores the same payloads.
    public static let maxDepth = 31

    /// Wraps JSON text that must be one object, nested at most ``maxDepth`` deep.
    /// - Throws: ``EventStoreError`` `invalidArgument` when the text is not such an object.
    public init(json text: String) throws(EventStoreError) {
        try self.init(checkedJSON: Array(text.utf8), text: text)
    }

    /// Wraps the bytes of one JSON object (from a larger document read already), checking its depth.
    init(checkedJSON bytes: [UInt8], text: String? = nil) throws(EventStoreError) {
        do {
            try JSONReader.validateObject(bytes, maxDepth: Self.maxDepth)
        } catch let error as EventStoreError {
            throw .invalidArgument("payload: \(error.reason)")
        } catch {
            throw .invalidArgument("payload: \(error)")
        }
        jsonText = text ?? String(decoding: bytes, as: UTF8.self)
    }

    /// Wraps UTF-8 JSON bytes that must be one object.
    public init(jsonData data: Data) throws(EventStoreError) {
        guard let text = String(data: data, encoding: .utf8) else {
            throw .invalidArgument("payload: JSON text is not valid UTF-8")
        }
        try self.init(json: text)
    }

    /// Builds a payload from an object value.
    /// - Throws: ``EventStoreError`` `invalidArgument` when the value is not an object, or nests deeper than
    ///   ``maxDepth``.
    public init(_ value: JSONValue) throws(EventStoreError) {
        guard case .object = value else { throw .invalidArgument("payload must be a JSON object, not \(value.jsonText)") }
        if value.depth > Self.maxDepth {
            throw .invalidArgument("payload: nesting deeper than \(Self.maxDepth) arrays and objects")
        }
        jsonText = value.jsonText
    }

    /// For text this module produced or already checked.
    init(trustedJSON text: String) { jsonText = text }

    /// For backends: wraps JSON text the store wrote itself after checking it, without checking it again.
    /// - Important: never pass text that did not come out of a ``Payload``.
    package init(storedJSON text: String) { jsonText = text }

    /// The payload parsed into a value.
    public func value() throws -> JSONValue { try JSONValue(parsing: jsonText) }

    /// The payload's bytes.
    public var data: Data { Data(jsonText.utf8) }

    /// The JSON text, as ``jsonText``.
    public var description: String { jsonText }

    /// `true` when both payloads have the same JSON text, byte for byte: `{"a":1}` and `{"a": 1}` differ.
    /// - Parameters:
    ///   - lhs: A payload.
    ///   - rhs: The payload to compare it with.
    public static func == (lhs: Payload, rhs: Payload) -> Bool { lhs.jsonText.utf8.elementsEqual(rhs.jsonText.utf8) }

    /// Feeds the JSON text's UTF-8 bytes into `hasher`, consistent with `==`.
    /// - Parameter hasher: The hasher to feed.
    public func hash(into hasher: inout Hasher) {
        for byte in jsonText.utf8 { hasher.combine(byte) }
    }
}

extension Payload: ExpressibleByDictionaryLiteral {
    /// A payload written in the source code: `["name": "Alice", "age": 30]`.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        jsonText = JSONValue.object(elements.map { (key: $0.0, value: $0.1) }).jsonText
    }
}
