import Foundation

/// A typed event: a `Codable` type with its message name declared once.
///
/// ```swift
/// struct UserRegistered: DomainEvent {
///     static let messageName = "UserRegistered"
///     var name: String
/// }
/// let message = try EventMessage(UserRegistered(name: "Alice"))
/// let event = try recorded.decode(UserRegistered.self)
/// ```
/// Dates in the payload are written as `yyyy-MM-ddTHH:mm:ss.ffffffZ`.
public protocol DomainEvent: Codable, Sendable {
    /// The message name stored with every event of this type. Changing it orphans stored events:
    /// keep it stable, or upcast.
    static var messageName: String { get }
}

enum DomainEventCoding {
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp.format(date) + "Z")
        }
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }

    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let micros = Timestamp.parseMicroseconds(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a timestamp: \(text)")
            }
            return Timestamp.date(microseconds: micros)
        }
        return decoder
    }
}

extension EventMessage {
    /// The message of a typed event.
    /// - Throws: ``EventStoreError`` `invalidArgument` when the event does not encode to a JSON object.
    public init<E: DomainEvent>(
        _ event: E, metadata: Metadata = [:], uuid: UUID = UUID(), createdAt: Date = Date()
    ) throws(EventStoreError) {
        let data: Data
        do {
            data = try DomainEventCoding.encoder().encode(event)
        } catch {
            throw .invalidArgument("\(E.self) could not be encoded: \(error)")
        }
        let payload = try Payload(jsonData: data)
        self.init(messageName: E.messageName, payload: payload, metadata: metadata, uuid: uuid, createdAt: createdAt)
    }

    /// The payload decoded as a typed event.
    /// - Throws: ``EventStoreError`` `decodingFailed` when the message name is not `E.messageName` or the
    ///   payload does not decode.
    public func decode<E: DomainEvent>(_ type: E.Type = E.self) throws(EventStoreError) -> E {
        guard messageName == E.messageName else {
            throw EventStoreError(
                code: .decodingFailed, reason: "message \"\(messageName)\" is not a \(E.self) (\"\(E.messageName)\")")
        }
        do {
            return try DomainEventCoding.decoder().decode(E.self, from: payload.data)
        } catch {
            throw EventStoreError(code: .decodingFailed, reason: "the payload of \"\(messageName)\" does not decode as \(E.self): \(error)")
        }
    }
}

extension RecordedEvent {
    /// The payload decoded as a typed event (see ``EventMessage/decode(_:)``).
    public func decode<E: DomainEvent>(_ type: E.Type = E.self) throws(EventStoreError) -> E {
        try message.decode(type)
    }
}
