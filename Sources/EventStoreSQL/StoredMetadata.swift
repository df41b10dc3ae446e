import EventStore

/// A stored metadata column, decoded. - Throws: `backend` when it does not decode: the database holds what
/// no store wrote, which is not the caller's fault.
package func storedMetadata(_ text: String) throws(EventStoreError) -> Metadata {
    do {
        return try Metadata(storedJSON: text)
    } catch {
        throw .backend("stored metadata is corrupt: \(error.reason)")
    }
}
