import Foundation

/// The other side of ``EventJSON``: what a client of the HTTP API writes and reads back (`EventStoreClient`).
extension EventJSON {
    /// An event to write, as JSON: `message_name`, `uuid`, `payload` (byte for byte), `metadata` and
    /// `created_at`, the shape ``messages(fromArray:)`` reads.
    package static func object(for message: EventMessage) -> String {
        var out = "{\"message_name\":"
        JSONWriter.writeString(message.messageName, into: &out)
        out += ",\"uuid\":\"\(message.uuid.lowercased)\",\"payload\":" + message.payload.jsonText
        out += ",\"metadata\":" + message.metadata.jsonText
        out += ",\"created_at\":\"\(Timestamp.format(microseconds: message.createdAtMicros))\"}"
        return out
    }

    /// Events to write, as a JSON array (``object(for:)-(EventMessage)`` each).
    package static func array(of messages: [EventMessage]) -> String {
        "[" + messages.map { object(for: $0) }.joined(separator: ",") + "]"
    }

    /// Stream writes as the JSON array `POST /append` reads (``streamWrites(fromArray:)``).
    package static func array(of writes: [StreamWrite]) -> String {
        var out = "["
        for (index, write) in writes.enumerated() {
            if index > 0 { out += "," }
            out += "{\"stream\":"
            JSONWriter.writeString(write.stream.rawValue, into: &out)
            switch write.operation {
            case let .append(events, expectedVersion):
                out += ",\"expected_version\":\"\(expectedVersion)\",\"events\":" + array(of: events)
            case let .create(metadata, events):
                out += ",\"metadata\":" + metadata.jsonText + ",\"events\":" + array(of: events)
            case let .updateMetadata(metadata):
                out += ",\"stream_metadata\":" + metadata.jsonText
            case let .delete(mode):
                out += ",\"delete\":\"\(mode.rawValue)\""
            }
            out += "}"
        }
        return out + "]"
    }

    /// Reads an event as the HTTP API answers it with its stream (``object(for:includeStream:)`` with
    /// `includeStream`): the payload kept byte for byte, checked as a payload is on write.
    /// - Throws: ``EventStoreError`` `corrupt` when a member is missing or malformed.
    package static func recordedEvent(fromObject text: String) throws(EventStoreError) -> RecordedEvent {
        try recordedEvent(from: Array(text.utf8))
    }

    /// Reads a JSON array of events as the HTTP API answers them (``recordedEvent(fromObject:)`` each).
    package static func recordedEvents(fromArray text: String) throws(EventStoreError) -> [RecordedEvent] {
        try recordedEvents(fromArray: Array(text.utf8), validated: false)
    }

    /// `validated`: the bytes are part of a document whose UTF-8 was checked already.
    private static func recordedEvents(fromArray bytes: [UInt8], validated: Bool) throws(EventStoreError) -> [RecordedEvent] {
        let elements: [ArraySlice<UInt8>]
        do {
            elements = try JSONReader.arrayElements(bytes, validated: validated)
        } catch {
            throw .corrupt("events must be a JSON array: \(Self.reason(error))")
        }
        var events: [RecordedEvent] = []
        events.reserveCapacity(elements.count)
        for element in elements { events.append(try recordedEvent(from: Array(element), validated: true)) }
        return events
    }

    private static func recordedEvent(from bytes: [UInt8], validated: Bool = false) throws(EventStoreError) -> RecordedEvent {
        let members: [(key: String, raw: ArraySlice<UInt8>)]
        do {
            members = try JSONReader.objectMembers(bytes, validated: validated)
        } catch {
            throw .corrupt("an event must be a JSON object: \(Self.reason(error))")
        }
        var name: String?
        var uuid: UUID?
        var payload: Payload?
        var metadata: Metadata?
        var createdAt: Int64?
        var position: Int?
        var stream: StreamName?
        var global: GlobalPosition?
        // Strings without escapes and numbers are read from their bytes: a page holds thousands of them.
        func text(_ raw: ArraySlice<UInt8>) throws(EventStoreError) -> String? {
            if let plain = plainString(raw) { return plain }
            return try value(Array(raw)).textValue
        }
        do {
            for member in members {
                let raw = member.raw
                switch member.key {
                case "message_name": name = try text(raw)
                case "uuid":
                    uuid = plainBytes(raw).flatMap { inner in inner.withUnsafeBufferPointer { UUIDText.parse($0) } }
                case "payload": payload = try Payload(checkedJSON: Array(raw))
                case "metadata": metadata = try Metadata(storedJSON: String(decoding: raw, as: UTF8.self))
                case "created_at":
                    createdAt = plainBytes(raw).flatMap { inner in inner.withUnsafeBufferPointer { Timestamp.parseMicroseconds(utf8: $0) } }
                case "position":
                    if let number = Int(String(decoding: raw, as: UTF8.self)) {
                        position = number
                    } else {
                        position = try value(Array(raw)).wholeNumber
                    }
                case "stream": if let name = try text(raw) { stream = try StreamName(name) }
                case "global_position": global = GlobalPosition(plainString(raw) ?? String(decoding: raw, as: UTF8.self))
                default: continue
                }
            }
        } catch {
            throw .corrupt("an event of the server's answer cannot be read: \(error.reason)")
        }
        guard let name, let uuid, let payload, let metadata, let createdAt, let position, let stream, let global else {
            throw .corrupt("an event of the server's answer lacks a member or has one malformed")
        }
        let message = EventMessage(messageName: name, payload: payload, metadata: metadata, uuid: uuid, createdAtMicros: createdAt)
        return RecordedEvent(streamName: stream, position: position, globalPosition: global, message: message)
    }
}

/// The bytes inside a JSON string's quotes when it holds no escape, `nil` otherwise (or for another value).
private func plainBytes(_ raw: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
    guard raw.count >= 2, raw.first == UInt8(ascii: "\""), raw.last == UInt8(ascii: "\"") else { return nil }
    let inner = raw.dropFirst().dropLast()
    return inner.contains(UInt8(ascii: "\\")) ? nil : inner
}

/// A JSON string without escapes, read from its bytes (which were checked as UTF-8 with their document).
private func plainString(_ raw: ArraySlice<UInt8>) -> String? {
    plainBytes(raw).map { String(decoding: $0, as: UTF8.self) }
}

extension JSONValue {
    var textValue: String? { if case let .string(text) = self { return text } else { return nil } }
    /// A global position as the API writes it (a whole number, or a string: `"42"`, `"commit:sequence"`), `nil`
    /// for anything else: what the server and `EventStoreClient` both read.
    package var globalPosition: GlobalPosition? {
        if let number = wholeNumber { return number >= 0 ? GlobalPosition(sequence: Int64(number)) : nil }
        return textValue.flatMap(GlobalPosition.init)
    }

    /// A position of a store's order as the API writes it: a global position (``globalPosition``), or a
    /// composite one's text (a partitioned store's); `nil` for anything else.
    package var orderPosition: ProjectionPosition? {
        if let global = globalPosition { return .global(global) }
        return textValue.flatMap(ProjectionPosition.init)
    }

    /// A number that is whole (JSON's `5.0` is one too, as JSON Schema's `integer` says), within ±10^15.
    package var wholeNumber: Int? {
        guard case let .number(text) = self else { return nil }
        return Int(text) ?? Double(text).flatMap { $0.rounded() == $0 && abs($0) < 1e15 ? Int($0) : nil }
    }
}

extension EventJSON {
    /// A snapshot as JSON: `aggregate_type`, `aggregate_id`, `last_version`, `state` (byte for byte) and `created_at`.
    package static func object(for snapshot: Snapshot) -> String {
        var out = "{\"aggregate_type\":"
        JSONWriter.writeString(snapshot.aggregateType, into: &out)
        out += ",\"aggregate_id\":"
        JSONWriter.writeString(snapshot.aggregateID, into: &out)
        out += ",\"last_version\":\(snapshot.lastVersion),\"state\":" + snapshot.state.jsonText
        out += ",\"created_at\":\"\(Timestamp.format(microseconds: Timestamp.microseconds(snapshot.createdAt)))\"}"
        return out
    }

    /// Reads a snapshot from its JSON (``object(for:)-(Snapshot)``); `created_at` may be left out (now).
    /// - Throws: ``EventStoreError`` `invalidArgument` naming what is missing or malformed.
    package static func snapshot(fromObject text: String) throws(EventStoreError) -> Snapshot {
        try snapshot(from: Array(text.utf8))
    }

    /// Reads a JSON array of snapshots (``snapshot(fromObject:)`` each).
    package static func snapshots(fromArray text: String) throws(EventStoreError) -> [Snapshot] {
        let elements: [ArraySlice<UInt8>]
        do {
            elements = try JSONReader.arrayElements(Array(text.utf8))
        } catch {
            throw .invalidArgument("snapshots must be a JSON array of objects: \(Self.reason(error))")
        }
        var snapshots: [Snapshot] = []
        for (index, element) in elements.enumerated() {
            do {
                snapshots.append(try snapshot(from: Array(element)))
            } catch {
                throw .invalidArgument("snapshot \(index): \(error.reason)")
            }
        }
        return snapshots
    }

    private static func snapshot(from bytes: [UInt8]) throws(EventStoreError) -> Snapshot {
        let members: [(key: String, raw: ArraySlice<UInt8>)]
        do {
            members = try JSONReader.objectMembers(bytes)
        } catch {
            throw .invalidArgument("a snapshot must be a JSON object: \(Self.reason(error))")
        }
        var type: String?
        var id: String?
        var version: Int?
        var state: Payload?
        var createdAt = Date()
        for member in members {
            let raw = Array(member.raw)
            switch member.key {
            case "aggregate_type": type = try value(raw).textValue
            case "aggregate_id": id = try value(raw).textValue
            case "last_version": version = try value(raw).wholeNumber
            case "state": state = try Payload(checkedJSON: raw)
            case "created_at":
                guard let micros = try value(raw).textValue.flatMap(Timestamp.parseMicroseconds) else {
                    throw .invalidArgument("created_at is yyyy-MM-ddTHH:mm:ss.ffffff")
                }
                createdAt = Timestamp.date(microseconds: micros)
            default: throw .invalidArgument("unknown key \"\(member.key)\" (known: aggregate_type, aggregate_id, last_version, state, created_at)")
            }
        }
        guard let type, let id, let version, let state else {
            throw .invalidArgument("a snapshot has aggregate_type, aggregate_id, last_version and state")
        }
        return try Snapshot(aggregateType: type, aggregateID: id, lastVersion: version, state: state, createdAt: createdAt)
    }
}

extension EventJSON {
    /// The events of a stream page as `GET /stream/{name}/…` answers it (its `entries`).
    package static func entries(ofStreamPage text: String) throws(EventStoreError) -> [RecordedEvent] {
        let members = try self.members(of: text)
        guard let entries = members.first(where: { $0.key == "entries" })?.raw else {
            throw .corrupt("the server's stream page has no entries")
        }
        return try recordedEvents(fromArray: Array(entries), validated: true)
    }

    /// The events and how far the read looked, as `GET /all` answers them.
    package static func globalOrderPage(_ text: String) throws(EventStoreError) -> (events: [RecordedEvent], readThrough: GlobalPosition) {
        let members = try self.members(of: text)
        guard let events = members.first(where: { $0.key == "events" })?.raw,
            let through = members.first(where: { $0.key == "read_through" })?.raw,
            let readThrough = try value(Array(through)).globalPosition
        else { throw .corrupt("the server's page of the global order lacks events or read_through") }
        return (try recordedEvents(fromArray: Array(events), validated: true), readThrough)
    }

    private static func members(of text: String) throws(EventStoreError) -> [(key: String, raw: ArraySlice<UInt8>)] {
        do {
            return try JSONReader.objectMembers(Array(text.utf8))
        } catch {
            throw .corrupt("the server's answer is not a JSON object: \(Self.reason(error))")
        }
    }
}

extension EventJSON {
    /// The deliveries `POST /groups/{name}/take` answers: `{"deliveries":[{"id", "attempt", "event", …}]}`,
    /// each event read as ``recordedEvent(fromObject:)`` reads one.
    package static func deliveries(fromTake text: String) throws(EventStoreError) -> [ConsumerGroupDelivery] {
        let members = try self.members(of: text)
        guard let list = members.first(where: { $0.key == "deliveries" })?.raw else {
            throw .corrupt("the server's answer to take has no deliveries")
        }
        var deliveries: [ConsumerGroupDelivery] = []
        for item in try elements(of: list) {
            let fields = try self.members(of: item)
            guard let idText = try fields.first(where: { $0.key == "id" }).flatMap({ member throws(EventStoreError) in try value(Array(member.raw)).textValue }),
                let id = UUID(uuidString: idText),
                let attempt = try fields.first(where: { $0.key == "attempt" }).flatMap({ member throws(EventStoreError) in try value(Array(member.raw)).wholeNumber }),
                let event = fields.first(where: { $0.key == "event" })?.raw
            else { throw .corrupt("a delivery of the server's answer lacks its id, attempt or event") }
            deliveries.append(ConsumerGroupDelivery(id: id, event: try recordedEvent(from: Array(event), validated: true), attempt: attempt))
        }
        return deliveries
    }

    /// The parked events `GET /groups/{name}/parked` answers (``ParkedEvent/jsonLine`` each).
    package static func parkedEvents(fromArray text: String) throws(EventStoreError) -> [ParkedEvent] {
        var parked: [ParkedEvent] = []
        for item in try elements(of: Array(text.utf8)[...]) {
            let fields = try self.members(of: item)
            guard let reason = try fields.first(where: { $0.key == "reason" }).flatMap({ member throws(EventStoreError) in try value(Array(member.raw)).textValue }),
                let count = try fields.first(where: { $0.key == "deliveries" }).flatMap({ member throws(EventStoreError) in try value(Array(member.raw)).wholeNumber }),
                let event = fields.first(where: { $0.key == "event" })?.raw
            else { throw .corrupt("a parked event of the server's answer lacks its reason, deliveries or event") }
            parked.append(ParkedEvent(event: try recordedEvent(from: Array(event), validated: true), reason: reason, deliveries: count))
        }
        return parked
    }

    private static func elements(of raw: ArraySlice<UInt8>) throws(EventStoreError) -> [ArraySlice<UInt8>] {
        do {
            return try JSONReader.arrayElements(Array(raw))
        } catch {
            throw .corrupt("the server's answer holds no JSON array where one belongs: \(Self.reason(error))")
        }
    }

    private static func members(of raw: ArraySlice<UInt8>) throws(EventStoreError) -> [(key: String, raw: ArraySlice<UInt8>)] {
        do {
            return try JSONReader.objectMembers(Array(raw), validated: true)
        } catch {
            throw .corrupt("the server's answer holds no JSON object where one belongs: \(Self.reason(error))")
        }
    }
}
