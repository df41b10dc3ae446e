import EventStore

/// A stored metadata column, decoded. - Throws: `corrupt` when it does not decode: the database holds what
/// no store wrote, which is not the caller's fault and does not pass with a retry.
package func storedMetadata(_ text: String) throws(EventStoreError) -> Metadata {
    do {
        return try Metadata(storedJSON: text)
    } catch {
        throw .corrupt("stored metadata is corrupt: \(error.reason)")
    }
}

/// A stored stream name, checked. - Throws: `corrupt` when it is not a valid name (a row no store wrote).
package func storedStreamName(_ text: String) throws(EventStoreError) -> StreamName {
    do {
        return try StreamName(text)
    } catch {
        throw .corrupt("a stored stream name is invalid: \(error.reason)")
    }
}

/// The queries of `eventstore verify` that only SQL can answer, the same on every backend.
package enum SQLIntegrityQueries {
    /// How many events have no stream row (what a delete racing an append could leave before the append
    /// checked its stream).
    package static func orphanEvents(events: String, streams: String) -> SQLQuery {
        """
        SELECT count(*) FROM \(unsafeSQL: events) e
        WHERE NOT EXISTS (SELECT 1 FROM \(unsafeSQL: streams) s WHERE s.id = e.stream_id)
        """
    }

    /// The names of the streams whose events and removed events (a scavenge's) do not add up to their
    /// version, or that hold an event past it: positions are 1 to the version, each stored or removed once.
    package static func streamsWithWrongVersions(events: String, streams: String) -> SQLQuery {
        """
        SELECT s.name FROM \(unsafeSQL: streams) s
        LEFT JOIN (SELECT stream_id, max(position) AS last, count(*) AS total FROM \(unsafeSQL: events) GROUP BY stream_id) x
            ON x.stream_id = s.id
        WHERE s.version <> COALESCE(x.total, 0) + s.removed OR COALESCE(x.last, 0) > s.version
        ORDER BY s.name
        """
    }
}
