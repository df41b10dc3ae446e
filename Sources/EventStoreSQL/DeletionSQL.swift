import EventStore

/// A stream's row as a write sees it: live, soft-deleted or a tombstone (``DeletionSQL``).
package struct StreamRow: Sendable, Hashable {
    package var id: Int64
    package var version: Int
    /// ``DeletionSQL/live``, ``DeletionSQL/soft`` or ``DeletionSQL/tombstone``.
    package var deleted: Int

    package init(id: Int64, version: Int, deleted: Int) { (self.id, self.version, self.deleted) = (id, version, deleted) }

    package var isLive: Bool { deleted == DeletionSQL.live }
}

/// Stream deletion (``DeleteMode``) in SQL, the same on every backend. A stream's row says whether it is
/// live, soft-deleted or a tombstone (`deleted`), and `begins_at` is the first position of its present life:
/// a soft delete sets it past the last event, and ``RetentionSQL/kept(_:)`` hides the positions below it, so
/// that a stream started again after a soft delete shows only its new events. A soft-deleted row is left out
/// of every read by its name, and its hidden events are a scavenge's to remove; a tombstone keeps the name
/// taken, with no events.
package enum DeletionSQL {
    /// The values of `deleted`.
    package static let live = 0, soft = 1, tombstone = 2

    /// The columns a stream's row gains (schema version 8 on SQLite, 9 on PostgreSQL and MariaDB).
    package static func columns(integer: String) -> [String] {
        ["deleted \(integer) NOT NULL DEFAULT 0", "begins_at \(integer) NOT NULL DEFAULT 0"]
    }

    /// `id, version, deleted` of the stream `name` (``StreamRow``).
    package static func row(_ streams: String, _ name: StreamName) -> SQLQuery {
        "SELECT id, version, deleted FROM \(unsafeSQL: streams) WHERE name = \(bind: name.rawValue)"
    }

    /// One row when the stream `name` is a tombstone, none otherwise.
    package static func tombstone(_ streams: String, _ name: StreamName) -> SQLQuery {
        "SELECT id FROM \(unsafeSQL: streams) WHERE name = \(bind: name.rawValue) AND deleted = 2"
    }

    /// The error for a stream that no live row holds: `streamDeleted` for a tombstone, else `streamNotFound`.
    package static func missing(_ name: StreamName, isTombstone: Bool) -> EventStoreError {
        isTombstone ? .streamDeleted(name) : .streamNotFound(name)
    }

    /// The statements, to run in order under the stream's append lock, that delete the stream whose row is
    /// `row` as `mode` says. Purging or tombstoning a soft-deleted stream is allowed; soft-deleting it again
    /// is not (it reads as missing).
    /// - Throws: `streamNotFound` when there is no such (live) stream; `streamDeleted` for a tombstone.
    package static func statements(
        _ mode: DeleteMode, of row: StreamRow?, _ name: StreamName, events: String, streams: String
    ) throws(EventStoreError) -> [SQLQuery] {
        guard let row else { throw .streamNotFound(name) }
        if row.deleted == tombstone { throw .streamDeleted(name) }
        if row.deleted == soft, mode == .soft { throw .streamNotFound(name) }
        let removeEvents: SQLQuery = "DELETE FROM \(unsafeSQL: events) WHERE stream_id = \(bind: row.id)"
        switch mode {
        case .purge:
            return [removeEvents, "DELETE FROM \(unsafeSQL: streams) WHERE id = \(bind: row.id)"]
        case .soft:
            return ["UPDATE \(unsafeSQL: streams) SET deleted = 1, begins_at = version + 1 WHERE id = \(bind: row.id)"]
        case .hard:
            // Every event is gone: `removed` says so to `eventstore verify`.
            return [
                removeEvents,
                """
                UPDATE \(unsafeSQL: streams) SET deleted = 2, begins_at = version + 1, removed = version
                WHERE id = \(bind: row.id)
                """,
            ]
        }
    }

    /// Starts the soft-deleted stream `id` again with `metadata` (its numbering and `begins_at` stay).
    package static func restart(_ streams: String, id: Int64, metadata: Metadata) -> SQLQuery {
        """
        UPDATE \(unsafeSQL: streams) SET deleted = 0, metadata = \(bind: metadata.jsonText), \(RetentionSQL.assignments(metadata))
        WHERE id = \(bind: id)
        """
    }

    /// The names of live streams that `filter` and `matching` select, in order.
    package static func streamNames(
        _ dialect: some SQLMatcherDialect, streams: String, _ filter: NameFilter, matching: MetadataMatcher?, limit: Int,
        offset: Int
    ) -> SQLQuery {
        var conditions: [SQLQuery] = ["s.deleted = 0"]
        if let condition = dialect.nameCondition(filter, column: "s.name") { conditions.append(condition) }
        if let matching { conditions.append(dialect.predicate(for: matching, metadata: "s.metadata")) }
        return """
            SELECT s.name FROM \(unsafeSQL: streams) AS s WHERE \(SQLQuery.joined(conditions, separator: " AND "))
            ORDER BY s.name LIMIT \(bind: limit) OFFSET \(bind: offset)
            """
    }

    /// The categories of live streams that `filter` selects, in order.
    package static func categoryNames(
        _ dialect: some SQLMatcherDialect, streams: String, _ filter: NameFilter, limit: Int, offset: Int
    ) -> SQLQuery {
        var conditions: [SQLQuery] = ["s.category IS NOT NULL", "s.deleted = 0"]
        if let condition = dialect.nameCondition(filter, column: "s.category") { conditions.append(condition) }
        return """
            SELECT DISTINCT s.category FROM \(unsafeSQL: streams) AS s WHERE \(SQLQuery.joined(conditions, separator: " AND "))
            ORDER BY s.category LIMIT \(bind: limit) OFFSET \(bind: offset)
            """
    }
}
