@_spi(Backend) import EventStore

/// A stream's row as a copy to another member reads and writes it (``StreamCopySQL``).
package struct StoredStreamRow: Sendable, Hashable {
    package var id: Int64
    package var version: Int
    /// ``DeletionSQL/live``, ``DeletionSQL/soft`` or ``DeletionSQL/tombstone``.
    package var deleted: Int
    package var beginsAt: Int
    package var removed: Int

    package init(id: Int64, version: Int, deleted: Int, beginsAt: Int, removed: Int) {
        (self.id, self.version, self.deleted, self.beginsAt, self.removed) = (id, version, deleted, beginsAt, removed)
    }
}

/// The SQL of a stream's copy from one member of a partitioned store to another, the same on every
/// backend: the stream's row whatever its state (live, soft-deleted or a tombstone), every stream row's
/// name, the row's counters set after the copy's events were appended, and a copy removed whole.
package enum StreamCopySQL {
    /// `id, version, deleted, begins_at, removed` of the stream `name`, whatever its state.
    package static func row(_ streams: String, _ name: StreamName) -> SQLQuery {
        "SELECT id, version, deleted, begins_at, removed FROM \(unsafeSQL: streams) WHERE name = \(bind: name.rawValue)"
    }

    /// The names of every stream row (live, soft-deleted or tombstone) after `name` in byte order, at most `limit`.
    package static func names(_ streams: String, after name: String, limit: Int) -> SQLQuery {
        "SELECT name FROM \(unsafeSQL: streams) WHERE name > \(bind: name) ORDER BY name LIMIT \(bind: limit)"
    }

    /// Sets the version of the stream `name` (before an append of copied events that start after it).
    package static func setVersion(_ streams: String, _ name: StreamName, _ version: Int) -> SQLQuery {
        "UPDATE \(unsafeSQL: streams) SET version = \(bind: Int64(version)) WHERE name = \(bind: name.rawValue)"
    }

    /// Sets the counters and state of the stream `name` to the copied row's.
    package static func setRow(_ streams: String, _ name: StreamName, _ row: StoredStreamRow) -> SQLQuery {
        """
        UPDATE \(unsafeSQL: streams) SET version = \(bind: Int64(row.version)), deleted = \(bind: Int64(row.deleted)),
            begins_at = \(bind: Int64(row.beginsAt)), removed = \(bind: Int64(row.removed))
        WHERE name = \(bind: name.rawValue)
        """
    }

    /// Removes the stream `id` and its events, whatever its state (a copy a move left, or replaces).
    package static func remove(events: String, streams: String, id: Int64) -> [SQLQuery] {
        [
            "DELETE FROM \(unsafeSQL: events) WHERE stream_id = \(bind: id)",
            "DELETE FROM \(unsafeSQL: streams) WHERE id = \(bind: id)",
        ]
    }
}
