import Foundation

/// An event as it is written: a name, a uuid, a JSON payload, scalar metadata and the time it was
/// created (UTC, kept to the microsecond).
public struct EventMessage: Sendable, Hashable {
    /// Unique within its stream; two events with the same uuid in one stream are a conflict.
    public var uuid: UUID
    /// What happened, for example `UserRegistered`. Non-empty, at most ``maxNameLength`` bytes of UTF-8.
    public var messageName: String
    /// The event's data, a JSON object kept byte-for-byte.
    public var payload: Payload
    /// Scalar key/value pairs about the event.
    public var metadata: Metadata
    private var createdAtMicroseconds: Int64

    /// When the event was created, rounded to the microsecond (the precision every backend keeps).
    public var createdAt: Date {
        get { Timestamp.date(microseconds: createdAtMicroseconds) }
        set { createdAtMicroseconds = Timestamp.microseconds(newValue) }
    }

    /// ``createdAt`` as microseconds since 1970.
    public var createdAtMicros: Int64 { createdAtMicroseconds }

    /// Makes a message to write; a store checks it when it takes it (``problem``).
    /// - Parameters:
    ///   - messageName: what happened, for example `UserRegistered`.
    ///   - payload: the event's data; `{}` by default.
    ///   - metadata: scalar key/value pairs about the event; none by default.
    ///   - uuid: the event's id; a new random one by default.
    ///   - createdAt: when the event was created, rounded to the microsecond; now by default.
    public init(
        messageName: String, payload: Payload = .empty, metadata: Metadata = [:], uuid: UUID = UUID(),
        createdAt: Date = Date()
    ) {
        self.uuid = uuid
        self.messageName = messageName
        self.payload = payload
        self.metadata = metadata
        self.createdAtMicroseconds = Timestamp.microseconds(createdAt)
    }

    /// For backends: a message read back from storage, its time as microseconds since 1970.
    @_spi(Backend) public init(messageName: String, payload: Payload, metadata: Metadata, uuid: UUID, createdAtMicros: Int64) {
        self.uuid = uuid
        self.messageName = messageName
        self.payload = payload
        self.metadata = metadata
        self.createdAtMicroseconds = createdAtMicros
    }

    /// This message with `value` added to its metadata under `key`.
    public func withAddedMetadata(_ key: String, _ value: MetadataValue) -> EventMessage {
        var copy = self
        copy.metadata[key] = value
        return copy
    }

    /// The longest message name, in UTF-8 bytes.
    public static let maxNameLength = 255

    /// The reason this message cannot be stored, or `nil` when it can.
    public var problem: String? {
        if messageName.isEmpty { return "event \(uuid.lowercased): the message name must not be empty" }
        if messageName.utf8.count > Self.maxNameLength {
            return "event \(uuid.lowercased): the message name must be at most \(Self.maxNameLength) bytes of UTF-8"
        }
        if messageName.unicodeScalars.contains(where: \.isControlCharacter) {
            return "event \(uuid.lowercased): the message name must not contain control characters"
        }
        if let problem = metadata.problem { return "event \(uuid.lowercased): \(problem)" }
        return nil
    }

    /// The aggregate type, id and version from the metadata, when all three are there.
    public var aggregateKey: AggregateKey? {
        guard let type = metadata[MetadataKey.aggregateType], let id = metadata[MetadataKey.aggregateID],
            let version = metadata[MetadataKey.aggregateVersion]
        else { return nil }
        return AggregateKey(type: type.description, id: id.description, version: version.description)
    }
}

/// `(_aggregate_type, _aggregate_id, _aggregate_version)` of an event, by the text of each value: at most one
/// event in a stream may carry a given key.
public struct AggregateKey: Sendable, Hashable, CustomStringConvertible {
    /// The text of the `_aggregate_type` value.
    public let type: String
    /// The text of the `_aggregate_id` value.
    public let id: String
    /// The text of the `_aggregate_version` value (an integer version `3` is `"3"`).
    public let version: String

    /// `aggregate <type> <id> at version <version>`, as error messages name the key.
    public var description: String { "aggregate \(type) \(id) at version \(version)" }
}

extension UUID {
    /// The lowercase text form the store writes (`UUID.uuidString` is uppercase): written from the bytes,
    /// without `uuidString`'s formatting and a Unicode-aware `lowercased()` (one per event on every append).
    public var lowercased: String {
        String(unsafeUninitializedCapacity: 36) { write(into: $0) }
    }

    /// Writes ``lowercased`` into `text` (36 bytes) and returns 36.
    package func write(into text: UnsafeMutableBufferPointer<UInt8>) -> Int {
        let digits: StaticString = "0123456789abcdef"
        return withUnsafeBytes(of: uuid) { bytes in
            digits.withUTF8Buffer { hex in
                var at = 0
                for (index, byte) in bytes.enumerated() {
                    if index == 4 || index == 6 || index == 8 || index == 10 {
                        text[at] = UInt8(ascii: "-")
                        at += 1
                    }
                    text[at] = hex[Int(byte >> 4)]
                    text[at + 1] = hex[Int(byte & 0x0F)]
                    at += 2
                }
                return at
            }
        }
    }
}

extension Unicode.Scalar {
    /// A control character (general category Cc): U+0000–U+001F or U+007F–U+009F, a set Unicode keeps
    /// stable. Compared by value, without a property lookup (names are checked per event on every append).
    package var isControlCharacter: Bool { value < 0x20 || (0x7F...0x9F).contains(value) }
}
