@_spi(Backend) import EventStore

/// An append's events as multi-row `INSERT`s into the events table, for the blocking backends (SQLite,
/// MariaDB): one statement per chunk instead of one per event.
package enum EventInsert {
    /// The batch cut into chunks whose sizes are powers of two up to `largest` (100 events: 64, 32, 4), so
    /// that a connection prepares a few statement shapes, whatever the batch sizes.
    package static func chunks(of events: [EventMessage], largest: Int) -> [ArraySlice<EventMessage>] {
        var chunks: [ArraySlice<EventMessage>] = []
        var start = events.startIndex
        while start < events.endIndex {
            var size = largest
            while size > events.endIndex - start { size /= 2 }
            chunks.append(events[start..<(start + size)])
            start += size
        }
        return chunks
    }

    /// `INSERT INTO events (…) VALUES (…), …` for `chunk`, its first event at `firstPosition`; `timestamp`
    /// writes `created_at` as the backend's column takes it.
    package static func statement(
        into events: SQLQuery, _ chunk: ArraySlice<EventMessage>, streamID: Int64, firstPosition: Int,
        timestamp: (Int64) -> String
    ) -> SQLQuery {
        let rows = chunk.enumerated().map { offset, event -> SQLQuery in
            let key = event.aggregateKey
            return """
                (\(bind: streamID), \(bind: firstPosition + offset), \(bind: event.uuid.lowercased), \(bind: event.messageName),
                \(bind: event.payload.jsonText), \(bind: event.metadata.jsonText), \(bind: timestamp(event.createdAtMicros)),
                \(bind: key.map { .text($0.type) } ?? .null), \(bind: key.map { .text($0.id) } ?? .null),
                \(bind: key.map { .text($0.version) } ?? .null))
                """
        }
        return """
            INSERT INTO \(events) (stream_id, position, uuid, message_name, payload, metadata, created_at,
                aggregate_type, aggregate_id, aggregate_version)
            VALUES \(SQLQuery.joined(rows, separator: ", "))
            """
    }
}

extension BlockingSQLOperations {
    /// Says which event of a chunk the events table refused as a duplicate: the first, in order, whose uuid
    /// or aggregate version the stream already holds (a batch holds neither twice: the core refuses that
    /// first), as inserting the events one by one would have found it.
    /// - Throws: `duplicateEvent` naming it; nothing when no event of the chunk is a duplicate.
    package func explainDuplicate(_ c: Connection, _ chunk: ArraySlice<EventMessage>, streamID: Int64, stream: StreamName) throws {
        let events = tableNames.events
        for event in chunk {
            let uuid = event.uuid.lowercased
            if try !firstColumn(c, "SELECT 1 FROM \(events) WHERE stream_id = \(bind: streamID) AND uuid = \(bind: uuid)").isEmpty {
                throw EventStoreError.duplicateEvent(stream, "event \(uuid)")
            }
            guard let key = event.aggregateKey else { continue }
            let taken = try firstColumn(
                c,
                """
                SELECT 1 FROM \(events) WHERE stream_id = \(bind: streamID) AND aggregate_type = \(bind: key.type)
                    AND aggregate_id = \(bind: key.id) AND aggregate_version = \(bind: key.version)
                """)
            if !taken.isEmpty { throw EventStoreError.duplicateEvent(stream, "\(key)") }
        }
    }
}
