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
