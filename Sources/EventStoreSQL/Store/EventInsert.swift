@_spi(Backend) import EventStore

/// An append's events as the values the events table takes (all but the stream id and position), written
/// before the write's job runs: the text of each event (uuid, JSON, timestamp, aggregate key) is built on
/// the caller's task, so that the writer's connection, which appends one batch at a time, spends its turn on
/// the database.
package struct EventRows: Sendable {
    /// Values per event, in the order of ``EventInsert/columns`` after `stream_id, position`.
    static let valuesPerEvent = 8

    package let events: [EventMessage]
    /// `valuesPerEvent` values for each event, one after the other.
    let values: [SQLValue]

    /// - Parameter timestamp: `created_at` as the backend's column takes it.
    package init(_ events: [EventMessage], timestamp: (Int64) -> String) {
        self.events = events
        var values: [SQLValue] = []
        values.reserveCapacity(events.count * Self.valuesPerEvent)
        for event in events {
            let key = event.aggregateKey
            values.append(.text(event.uuid.lowercased))
            values.append(.text(event.messageName))
            values.append(.text(event.payload.jsonText))
            values.append(.text(event.metadata.jsonText))
            values.append(.text(timestamp(event.createdAtMicros)))
            values.append(key.map { .text($0.type) } ?? .null)
            values.append(key.map { .text($0.id) } ?? .null)
            values.append(key.map { .text($0.version) } ?? .null)
        }
        self.values = values
    }

    /// The `valuesPerEvent` values of the event at `index`.
    package func values(of index: Int) -> ArraySlice<SQLValue> {
        values[(index * Self.valuesPerEvent)..<((index + 1) * Self.valuesPerEvent)]
    }

    package var count: Int { events.count }
    package var isEmpty: Bool { events.isEmpty }
}

/// An append's events as multi-row `INSERT`s into the events table, for the blocking backends (SQLite,
/// MariaDB): one statement per chunk instead of one per event.
package enum EventInsert {
    /// The batch cut into chunks whose sizes are powers of two up to `largest` (100 events: 64, 32, 4), so
    /// that a connection prepares a few statement shapes, whatever the batch sizes.
    package static func chunks(of count: Int, largest: Int) -> [Range<Int>] {
        var chunks: [Range<Int>] = []
        var start = 0
        while start < count {
            var size = largest
            while size > count - start { size /= 2 }
            chunks.append(start..<(start + size))
            start += size
        }
        return chunks
    }

    /// `INSERT INTO events (…) VALUES (?, …), …` for the events of `rows` in `chunk`, the first at
    /// `firstPosition`: the text is one row's placeholders repeated, and the values are copied once from
    /// `rows` (rendering a list of parts cost as much as SQLite's own execution of the statement).
    package static func statement(
        into events: SQLQuery, _ rows: EventRows, _ chunk: Range<Int>, streamID: Int64, firstPosition: Int
    ) -> RenderedSQL {
        let row = "(" + Array(repeating: "?", count: EventRows.valuesPerEvent + 2).joined(separator: ", ") + ")"
        let sql = "INSERT INTO " + events.render().sql
            + " (stream_id, position, uuid, message_name, payload, metadata, created_at, aggregate_type, aggregate_id, aggregate_version) VALUES "
            + Array(repeating: row, count: chunk.count).joined(separator: ", ")
        var binds: [SQLValue] = []
        binds.reserveCapacity(chunk.count * (EventRows.valuesPerEvent + 2))
        for (offset, index) in chunk.enumerated() {
            binds.append(.int(streamID))
            binds.append(.int(Int64(firstPosition + offset)))
            binds.append(contentsOf: rows.values(of: index))
        }
        return RenderedSQL(sql: sql, binds: binds)
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
