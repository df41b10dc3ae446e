import Foundation

/// The JSON shapes of events outside Swift: what the command line and the HTTP API read and write.
///
/// An event written is `{"message_name", "uuid"?, "payload"?, "metadata"?, "created_at"?}`; an event read
/// is `{"message_name", "uuid", "payload", "metadata", "created_at", "position"}`, its payload the exact
/// text that was stored.
public enum EventJSON {
    /// Reads a JSON array of events to write. The payload of each is kept byte-for-byte; a missing uuid
    /// is generated, a missing payload is `{}`, a missing `created_at` is now.
    /// - Throws: ``EventStoreError`` `invalidArgument`, naming the event (counted from 0) and the problem.
    public static func messages(fromArray text: String) throws(EventStoreError) -> [EventMessage] {
        let elements: [ArraySlice<UInt8>]
        do {
            elements = try JSONReader.arrayElements(Array(text.utf8))
        } catch {
            throw .invalidArgument("events must be a JSON array of objects: \(Self.reason(error))")
        }
        var messages: [EventMessage] = []
        messages.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            do {
                messages.append(try message(from: Array(element)))
            } catch {
                throw .invalidArgument("event \(index): \(error.reason)")
            }
        }
        return messages
    }

    /// Reads one event to write from its JSON object.
    public static func message(fromObject text: String) throws(EventStoreError) -> EventMessage {
        try message(from: Array(text.utf8))
    }

    private static func message(from bytes: [UInt8]) throws(EventStoreError) -> EventMessage {
        let members: [(key: String, raw: ArraySlice<UInt8>)]
        do {
            members = try JSONReader.objectMembers(bytes)
        } catch {
            throw .invalidArgument("an event must be a JSON object: \(Self.reason(error))")
        }
        var name: String?
        var uuid = UUID()
        var payload = Payload.empty
        var metadata: Metadata = [:]
        var createdAt = Date()
        var seen = Set<String>()
        for member in members {
            // Keys here are ASCII words, so String's equality is their bytes'.
            if !seen.insert(member.key).inserted { throw .invalidArgument("the key \"\(member.key)\" is given twice") }
            let raw = Array(member.raw)
            switch member.key {
            case "message_name":
                guard case let .string(text) = try value(raw), !text.isEmpty else {
                    throw .invalidArgument("message_name must be a non-empty string")
                }
                name = text
            case "uuid":
                guard case let .string(text) = try value(raw), let parsed = UUID(uuidString: text) else {
                    throw .invalidArgument("uuid must be a UUID string such as \"\(UUID().lowercased)\"")
                }
                uuid = parsed
            case "payload":
                guard raw.first == UInt8(ascii: "{") else { throw .invalidArgument("payload must be a JSON object") }
                payload = try Payload(checkedJSON: raw)
            case "metadata":
                metadata = try Metadata(json: try value(raw))
            case "created_at":
                guard case let .string(text) = try value(raw), let micros = Timestamp.parseMicroseconds(text) else {
                    throw .invalidArgument("created_at must be a timestamp such as \"2026-11-27T10:00:00.000000\"")
                }
                createdAt = Timestamp.date(microseconds: micros)
            default:
                throw .invalidArgument(
                    "unknown key \"\(member.key)\" (known: message_name, uuid, payload, metadata, created_at)")
            }
        }
        guard let name else { throw .invalidArgument("message_name is missing") }
        return EventMessage(messageName: name, payload: payload, metadata: metadata, uuid: uuid, createdAt: createdAt)
    }

    /// One stream's part of a write to several streams at once (`POST /append`): an append, `{"stream",
    /// "expected_version"?, "events"}`; a create, `{"stream", "metadata", "events"}`; a change of the stream's
    /// metadata, `{"stream", "stream_metadata"}`; or a delete, `{"stream", "delete": "purge"|"soft"|"hard"}`.
    public struct StreamWrite: Sendable {
        /// What a write does to its stream.
        public enum Operation: Sendable {
            /// ``EventStore/append(_:to:expectedVersion:)``.
            case append([EventMessage], expectedVersion: ExpectedVersion)
            /// ``EventStore/create(_:metadata:events:)``.
            case create(metadata: Metadata, events: [EventMessage])
            /// ``EventStore/updateStreamMetadata(_:of:)``.
            case updateMetadata(Metadata)
            /// ``EventStore/delete(_:mode:)``.
            case delete(DeleteMode)
        }

        /// The stream written.
        public var stream: StreamName
        /// What the write does to the stream.
        public var operation: Operation

        /// One stream's write.
        /// - Parameters:
        ///   - stream: the stream written.
        ///   - operation: what the write does to it.
        public init(stream: StreamName, operation: Operation) {
            self.stream = stream
            self.operation = operation
        }
    }

    /// Reads a JSON array of stream writes (``StreamWrite``); each one's events as ``messages(fromArray:)``
    /// reads them, payloads byte for byte.
    /// - Throws: ``EventStoreError`` `invalidArgument`, naming the write (counted from 0) and the problem.
    public static func streamWrites(fromArray text: String) throws(EventStoreError) -> [StreamWrite] {
        let elements: [ArraySlice<UInt8>]
        do {
            elements = try JSONReader.arrayElements(Array(text.utf8))
        } catch {
            throw .invalidArgument("the body must be a JSON array of {\"stream\", \"events\"} objects: \(Self.reason(error))")
        }
        guard !elements.isEmpty else { throw .invalidArgument("the body must name at least one stream") }
        var writes: [StreamWrite] = []
        for (index, element) in elements.enumerated() {
            do {
                writes.append(try streamWrite(from: Array(element)))
            } catch {
                throw .invalidArgument("write \(index): \(error.reason)")
            }
        }
        return writes
    }

    private static func streamWrite(from bytes: [UInt8]) throws(EventStoreError) -> StreamWrite {
        let members: [(key: String, raw: ArraySlice<UInt8>)]
        do {
            members = try JSONReader.objectMembers(bytes)
        } catch {
            throw .invalidArgument("a write must be a JSON object: \(Self.reason(error))")
        }
        var stream: StreamName?
        var expected: ExpectedVersion?
        var metadata: Metadata?
        var streamMetadata: Metadata?
        var deleteMode: DeleteMode?
        var events: [EventMessage]?
        var seen = Set<String>()
        for member in members {
            if !seen.insert(member.key).inserted { throw .invalidArgument("the key \"\(member.key)\" is given twice") }
            let raw = Array(member.raw)
            switch member.key {
            case "stream":
                guard case let .string(text) = try value(raw) else { throw .invalidArgument("stream must be a string") }
                stream = try StreamName(text)
            case "expected_version":
                // A string as the ES-ExpectedVersion header spells it, or a version as a number.
                let given = try value(raw)
                if case let .string(text) = given {
                    expected = ExpectedVersion(text)
                } else {
                    expected = given.wholeNumber.flatMap { $0 >= 0 ? .exact($0) : nil }
                }
                if expected == nil { throw .invalidArgument("expected_version is any, no-stream, exists or a version number") }
            case "metadata":
                metadata = try Metadata(json: try value(raw))
            case "stream_metadata":
                streamMetadata = try Metadata(json: try value(raw))
            case "delete":
                guard case let .string(text) = try value(raw), let mode = DeleteMode(rawValue: text) else {
                    throw .invalidArgument("delete is purge, soft or hard")
                }
                deleteMode = mode
            case "events":
                guard raw.first == UInt8(ascii: "[") else { throw .invalidArgument("events must be a JSON array") }
                events = try messages(fromArray: String(decoding: raw, as: UTF8.self))
            default:
                throw .invalidArgument(
                    "unknown key \"\(member.key)\" (known: stream, expected_version, metadata, events, stream_metadata, delete)")
            }
        }
        guard let stream else { throw .invalidArgument("stream is missing") }
        let shapes = [events != nil, streamMetadata != nil, deleteMode != nil].filter { $0 }.count
        guard shapes == 1 else {
            throw .invalidArgument("a write has exactly one of events, stream_metadata and delete")
        }
        if let streamMetadata {
            guard metadata == nil, expected == nil else { throw .invalidArgument("stream_metadata comes alone with stream") }
            return StreamWrite(stream: stream, operation: .updateMetadata(streamMetadata))
        }
        if let deleteMode {
            guard metadata == nil, expected == nil else { throw .invalidArgument("delete comes alone with stream") }
            return StreamWrite(stream: stream, operation: .delete(deleteMode))
        }
        let list = events ?? []
        if let metadata {
            guard expected == nil else {
                throw .invalidArgument("a write with metadata creates its stream: it takes no expected_version")
            }
            return StreamWrite(stream: stream, operation: .create(metadata: metadata, events: list))
        }
        return StreamWrite(stream: stream, operation: .append(list, expectedVersion: expected ?? .any))
    }

    static func value(_ raw: [UInt8]) throws(EventStoreError) -> JSONValue {
        do {
            return try JSONReader.parse(raw)
        } catch {
            throw .invalidArgument(Self.reason(error))
        }
    }

    static func reason(_ error: any Error) -> String {
        (error as? EventStoreError)?.reason ?? "\(error)"
    }

    /// An event read, as one line of JSON (for JSON lines and Server-Sent Events `data:`): ``object(for:includeStream:)``
    /// with the line breaks a payload's whitespace may hold (CR, LF) written as spaces, so that the line
    /// holds the same JSON and nothing a reader takes for the end of a line.
    public static func line(for event: RecordedEvent, includeStream: Bool = false) -> String {
        object(for: event, includeStream: includeStream, singleLine: true)
    }

    /// An event read, as JSON: `message_name`, `uuid`, `payload` (as stored, byte for byte), `metadata`,
    /// `created_at` and `position`; with `includeStream`, also `stream` and `global_position`.
    public static func object(for event: RecordedEvent, includeStream: Bool = false) -> String {
        object(for: event, includeStream: includeStream, singleLine: false)
    }

    private static func object(for event: RecordedEvent, includeStream: Bool, singleLine: Bool) -> String {
        var out = JSONBytes(capacity: 256)
        write(event, includeStream: includeStream, singleLine: singleLine, into: &out)
        return String(decoding: out.bytes, as: UTF8.self)
    }

    /// Writes ``object(for:includeStream:)`` (or ``line(for:includeStream:)``, `singleLine`) at the end of `out`:
    /// a page of events is written into one buffer of bytes.
    package static func write(_ event: RecordedEvent, includeStream: Bool, singleLine: Bool = false, into out: inout JSONBytes) {
        out.append("{\"message_name\":")
        out.appendQuoted(event.messageName)
        out.append(",\"uuid\":\"")
        out.append(uuid: event.uuid)
        out.append("\",\"payload\":")
        let payload = event.payload.jsonText
        // Outside strings only: JSON strings cannot hold a raw CR or LF, so each one is whitespace.
        if singleLine, payload.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D }) {
            out.bytes.append(contentsOf: payload.utf8.map { $0 == 0x0A || $0 == 0x0D ? 0x20 : $0 })
        } else {
            out.append(raw: payload)
        }
        out.append(",\"metadata\":")
        event.metadata.writeAsStored(into: &out)
        out.append(",\"created_at\":\"")
        out.append(timestampMicroseconds: event.message.createdAtMicros)
        out.append("\",\"position\":")
        out.append(event.position)
        if includeStream {
            out.append(",\"stream\":")
            out.appendQuoted(event.streamName.rawValue)
            out.append(",\"global_position\":")
            let global = event.globalPosition
            if global.commit == 0 {
                out.append(global.sequence)
            } else {
                out.append("\"")
                out.append(raw: global.description)
                out.append("\"")
            }
        }
        out.append("}")
    }

    /// An event of a partitioned store's merged order as one line of JSON: ``line(for:includeStream:)`` with
    /// the stream, plus `member` (where it lives; `global_position` is in that member's order) and
    /// `composite_position` (where a reader that handled it resumes).
    public static func line(for event: PartitionedEvent) -> String {
        var out = JSONBytes(capacity: 320)
        write(event, into: &out)
        return String(decoding: out.bytes, as: UTF8.self)
    }

    /// Writes ``line(for:)-(PartitionedEvent)`` at the end of `out`.
    package static func write(_ event: PartitionedEvent, into out: inout JSONBytes) {
        write(event.event, includeStream: true, singleLine: true, into: &out)
        out.bytes.removeLast()  // the object's `}`: two more members follow.
        out.append(",\"member\":")
        out.appendQuoted(event.member)
        out.append(",\"composite_position\":")
        out.appendQuoted(event.position.description)
        out.append("}")
    }

    /// Reads a matcher value the way the command line and the HTTP API do: as JSON when it parses (`4` an
    /// integer, `"4"` a string, `[1,2]` a list, `true` a boolean), as a plain string otherwise.
    public static func matcherValue(_ text: String) throws(EventStoreError) -> MetadataMatcher.Value {
        guard let json = try? JSONValue(parsing: text) else { return .scalar(.string(text)) }
        switch json {
        case let .array(items):
            var values: [MetadataValue] = []
            for item in items { values.append(try MetadataValue(json: item)) }
            return .list(values)
        case .null, .object:
            return .scalar(.string(text))
        default:
            return .scalar(try MetadataValue(json: json))
        }
    }
}
