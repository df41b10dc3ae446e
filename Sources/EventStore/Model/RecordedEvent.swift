import Foundation

/// An event read from the store: the message, its stream, its position in the stream (1, 2, 3, …) and
/// its position in the store's global order.
public struct RecordedEvent: Sendable, Hashable {
    /// The stream the event belongs to.
    public let streamName: StreamName
    /// The event's position in its stream, counted from 1 without gaps: the stream's version after it.
    public let position: Int
    /// The event's place in the order in which readers of the whole store see events.
    public let globalPosition: GlobalPosition
    /// The message; its metadata holds `_position` (the stream position) unless the writer set that key.
    public let message: EventMessage

    /// An event at its place in the store. `_position` is added to the message's metadata, with `position`,
    /// unless the metadata has that key.
    /// - Parameters:
    ///   - streamName: The stream the event belongs to.
    ///   - position: Its position in the stream, from 1.
    ///   - globalPosition: Its place in the store's global order.
    ///   - message: The event as it was written.
    public init(streamName: StreamName, position: Int, globalPosition: GlobalPosition, message: EventMessage) {
        self.streamName = streamName
        self.position = position
        self.globalPosition = globalPosition
        var message = message
        message.metadata.addIfAbsent(MetadataKey.position, .int(position))
        self.message = message
    }

    /// The message's uuid, unique within the stream.
    public var uuid: UUID { message.uuid }
    /// The message's name, for example `UserRegistered`.
    public var messageName: String { message.messageName }
    /// The message's payload, a JSON object as it was written.
    public var payload: Payload { message.payload }
    /// The message's metadata, `_position` included (see ``message``).
    public var metadata: Metadata { message.metadata }
    /// When the message was created, to the microsecond.
    public var createdAt: Date { message.createdAt }
}
