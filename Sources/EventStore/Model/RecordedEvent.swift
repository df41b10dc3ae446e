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

    public init(streamName: StreamName, position: Int, globalPosition: GlobalPosition, message: EventMessage) {
        self.streamName = streamName
        self.position = position
        self.globalPosition = globalPosition
        var message = message
        message.metadata.addIfAbsent(MetadataKey.position, .int(position))
        self.message = message
    }

    public var uuid: UUID { message.uuid }
    public var messageName: String { message.messageName }
    public var payload: Payload { message.payload }
    public var metadata: Metadata { message.metadata }
    public var createdAt: Date { message.createdAt }
}
