import EventStore

/// What a load knows of its stream's retention when it begins (``RetentionSQL/loadTarget(_:_:)``): `$tb` and
/// `$maxCount` hide the positions below `firstKept`, so the kept ones are dense from it and a page is the
/// `limit` positions from its bound, as without retention; `$maxAge` judges each event, so its streams'
/// pages are bounded on one side only, and filtered in the statement.
package struct LoadRetention: Sendable, Hashable {
    package var firstKept: Int
    package var judgesAge: Bool

    package init(firstKept: Int, judgesAge: Bool) { (self.firstKept, self.judgesAge) = (firstKept, judgesAge) }

    /// A stream without retention.
    package static let none = LoadRetention(firstKept: 0, judgesAge: false)
}

/// Stream retention (``StreamRetention``) in SQL, the same on every backend: the streams table keeps what
/// the metadata says in columns of its own (`retain_from` for `$tb`, `max_count`, `max_age` in seconds),
/// written with the metadata, so that a read judges each event in the statement that reads it; `removed`
/// counts the events a scavenge deleted (what `eventstore verify` allows for).
package enum RetentionSQL {
    /// The columns a stream's row gains (schema version 7 on SQLite, 8 on PostgreSQL and MariaDB), with the
    /// backend's integer type.
    package static func columns(integer: String) -> [String] {
        ["retain_from \(integer)", "max_count \(integer)", "max_age \(integer)", "removed \(integer) NOT NULL DEFAULT 0"]
    }

    /// True for an event `e` that its stream's row `s` keeps: of the stream's present life (past a soft
    /// delete, ``DeletionSQL``), within `$tb`, `$maxCount` and `$maxAge` (by the database's clock). Never null.
    package static func kept(_ dialect: some SQLMatcherDialect) -> SQLQuery {
        """
        e.position >= s.begins_at AND (s.retain_from IS NULL OR e.position >= s.retain_from) \
        AND (s.max_count IS NULL OR e.position > s.version - s.max_count) \
        AND (s.max_age IS NULL OR e.created_at >= \(dialect.now(minusSeconds: "s.max_age")))
        """
    }

    /// A load's stream, when it is live: its id, and what retention says of it when the load begins.
    package static func loadTarget(_ streams: String, _ name: StreamName) -> SQLQuery {
        "SELECT s.id, \(firstKept("s")), s.max_age FROM \(unsafeSQL: streams) AS s WHERE s.name = \(bind: name.rawValue) AND s.deleted = 0"
    }

    /// True for an event `e` of the stream `streamID` within `$maxAge` (none: true), by the stream's row as
    /// the statement reads it. Subqueries that do not depend on the event: each runs once per statement.
    package static func withinAge(_ dialect: some SQLMatcherDialect, streams: String, streamID: Int64) -> SQLQuery {
        let row: SQLQuery = "FROM \(unsafeSQL: streams) AS r WHERE r.id = \(bind: streamID)"
        return "((SELECT r.max_age \(row)) IS NULL OR e.created_at >= (SELECT \(dialect.now(minusSeconds: "r.max_age")) \(row)))"
    }

    /// The retention columns' values for `metadata` (checked by then), in the order of ``assignments(_:)``.
    private static func values(_ metadata: Metadata) -> [SQLValue] {
        let retention = (try? StreamRetention(metadata)) ?? StreamRetention()
        return [retention.truncateBefore, retention.maxCount, retention.maxAgeSeconds].map { $0.map { .int(Int64($0)) } ?? .null }
    }

    /// `retain_from = …, max_count = …, max_age = …` for an `UPDATE` of a stream's row.
    package static func assignments(_ metadata: Metadata) -> SQLQuery {
        let values = values(metadata)
        return "retain_from = \(bind: values[0]), max_count = \(bind: values[1]), max_age = \(bind: values[2])"
    }

    /// Sets the retention columns of the stream `name` from `metadata`, leaving its metadata as it is.
    package static func setColumns(_ streams: String, _ name: StreamName, from metadata: Metadata) -> SQLQuery {
        "UPDATE \(unsafeSQL: streams) SET \(assignments(metadata)) WHERE name = \(bind: name.rawValue)"
    }

    /// `, retain_from, max_count, max_age` and `, …values…` for an `INSERT` of a stream's row.
    package static func insertion(_ metadata: Metadata) -> (columns: SQLQuery, values: SQLQuery) {
        let values = values(metadata)
        return (", retain_from, max_count, max_age", ", \(bind: values[0]), \(bind: values[1]), \(bind: values[2])")
    }

    /// The ids of the streams with retention, or events hidden by a soft delete, after `id`, at most `limit`,
    /// in id order.
    package static func streamsWithRetention(_ streams: String, after id: Int64, limit: Int) -> SQLQuery {
        """
        SELECT s.id, s.version FROM \(unsafeSQL: streams) AS s
        WHERE s.id > \(bind: id) AND (s.retain_from IS NOT NULL OR s.max_count IS NOT NULL OR s.max_age IS NOT NULL OR s.begins_at > 0)
        ORDER BY s.id LIMIT \(bind: limit)
        """
    }

    /// The lowest position stored of a stream (null when it has no events).
    package static func firstPosition(_ events: String, streamID: Int64) -> SQLQuery {
        "SELECT min(position) FROM \(unsafeSQL: events) WHERE stream_id = \(bind: streamID)"
    }

    /// The first position a stream's retention surely keeps: past `$tb` and `$maxCount`, at most its version
    /// and one more; its version and one more with `$maxAge`, which judges each event.
    package static func keptFrom(_ streams: String, streamID: Int64) -> SQLQuery {
        let bound = firstKept("s")
        return """
            SELECT CASE WHEN s.max_age IS NOT NULL OR \(bound) > s.version + 1 THEN s.version + 1 ELSE \(bound) END
            FROM \(unsafeSQL: streams) AS s WHERE s.id = \(bind: streamID)
            """
    }

    /// The first position `$tb`, `$maxCount` and a soft delete keep in the stream's row aliased `row` (0
    /// without them): the largest of `retain_from`, `version - max_count + 1` and `begins_at`.
    package static func firstKept(_ row: String) -> SQLQuery {
        let (tb, count, begins) = ("COALESCE(\(row).retain_from, 0)", "COALESCE(\(row).version - \(row).max_count + 1, 0)", "\(row).begins_at")
        let larger = "(CASE WHEN \(tb) > \(count) THEN \(tb) ELSE \(count) END)"
        return "(CASE WHEN \(unsafeSQL: larger) > \(unsafeSQL: begins) THEN \(unsafeSQL: larger) ELSE \(unsafeSQL: begins) END)"
    }

    /// How many positions a scavenge looks at in one statement (and one transaction at the top level).
    package static let batch = 1000

    /// Deletes the events of one stream at positions from `low` below `high` that it no longer keeps (judged
    /// in the statement, so metadata changed meanwhile is seen), returning their positions.
    package static func delete(
        _ dialect: some SQLMatcherDialect, events: String, streams: String, streamID: Int64, from low: Int, below high: Int,
        returning: Bool
    ) -> SQLQuery {
        """
        DELETE FROM \(unsafeSQL: events)
        WHERE stream_id = \(bind: streamID) AND position >= \(bind: low) AND position < \(bind: high) AND global_position IN (
            SELECT e.global_position FROM \(unsafeSQL: events) AS e JOIN \(unsafeSQL: streams) AS s ON s.id = e.stream_id
            WHERE s.id = \(bind: streamID) AND e.stream_id = \(bind: streamID) AND e.position >= \(bind: low) AND e.position < \(bind: high)
                AND NOT (\(kept(dialect))))\(unsafeSQL: returning ? " RETURNING position" : "")
        """
    }

    /// Counts events a scavenge deleted on the stream's row.
    package static func countRemoved(_ streams: String, streamID: Int64, count: Int) -> SQLQuery {
        "UPDATE \(unsafeSQL: streams) SET removed = removed + \(bind: count) WHERE id = \(bind: streamID)"
    }
}
