import EventStore

/// The tables every SQL backend keeps, named with the store's table prefix (checked here, once). A backend's
/// tables type reads them through `@dynamicMemberLookup`, in the form its SQL needs, and adds its own.
package struct SQLTableNames: Sendable {
    /// The prefix, valid by construction.
    package let prefix: String
    /// The schema's version.
    package let schemaTable: SQLIdentifier
    package let streams: SQLIdentifier
    package let events: SQLIdentifier
    package let projections: SQLIdentifier
    /// Subscriptions' checkpoints.
    package let checkpoints: SQLIdentifier
    package let snapshots: SQLIdentifier
    package let consumerGroups: SQLIdentifier
    /// A partitioned store's placement map and bucket states (``PartitionSQL``).
    package let partitions: SQLIdentifier

    /// - Parameter longest: the longest prefix the backend's identifiers leave room for (in bytes).
    /// - Throws: `invalidArgument` unless `prefix` is empty or at most `longest` ASCII letters, digits and
    ///   `_`, not starting with a digit.
    package init(prefix: String, longest: Int) throws(EventStoreError) {
        if !prefix.isEmpty, !SQLIdentifier.isValid(prefix) || prefix.utf8.count > longest {
            throw .invalidArgument(
                "table prefix \"\(prefix)\" must be at most \(longest) ASCII letters, digits and _, not starting with a digit")
        }
        self.prefix = prefix
        schemaTable = try SQLIdentifier(prefix + "event_store_schema")
        streams = try SQLIdentifier(prefix + "event_streams")
        events = try SQLIdentifier(prefix + "events")
        projections = try SQLIdentifier(prefix + "projections")
        checkpoints = try SQLIdentifier(prefix + "subscription_checkpoints")
        snapshots = try SQLIdentifier(prefix + "snapshots")
        consumerGroups = try SQLIdentifier(prefix + "consumer_groups")
        partitions = try SQLIdentifier(prefix + "partition_placement")
    }

    /// The eight tables, in the order the schema creates them.
    package var all: [SQLIdentifier] { [schemaTable, streams, events, projections, checkpoints, snapshots, consumerGroups, partitions] }

    /// Another identifier with the prefix (an index, a constraint, a backend's own table).
    package func named(_ suffix: String) throws(EventStoreError) -> SQLIdentifier {
        try SQLIdentifier(prefix + suffix)
    }
}
