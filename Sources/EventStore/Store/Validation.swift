import Foundation

/// Argument checks every backend makes the same way, before touching storage.
package enum StoreValidation {
    /// Checks a load's `from` and `count`.
    package static func load(from: Int?, count: Int?) throws(EventStoreError) {
        if let from, from < 1 { throw .invalidArgument("from must be a position of 1 or more, not \(from)") }
        if let count, count < 1 { throw .invalidArgument("count must be 1 or more, not \(count)") }
    }

    /// Checks a listing's `limit` and `offset`, and compiles its regex.
    package static func listing(_ filter: NameFilter, matching: MetadataMatcher? = nil, limit: Int, offset: Int)
        throws(EventStoreError)
    {
        if limit < 1 { throw .invalidArgument("limit must be 1 or more, not \(limit)") }
        if offset < 0 { throw .invalidArgument("offset must be 0 or more, not \(offset)") }
        if case let .regex(pattern) = filter, let problem = RegexPattern.problem(with: pattern) {
            throw .invalidArgument(problem)
        }
        if case let .exact(name) = filter { try key(name, "a name to list") }
        if let problem = matching?.streamMetadataProblem { throw .invalidArgument(problem) }
    }

    /// Checks a batch of events before it is written: each storable, no uuid and no aggregate version twice.
    package static func events(_ events: [EventMessage], for stream: StreamName) throws(EventStoreError) {
        var uuids = Set<UUID>()
        var aggregateKeys = Set<AggregateKey>()
        for event in events {
            if let problem = event.problem { throw .invalidArgument(problem) }
            if !uuids.insert(event.uuid).inserted {
                throw .duplicateEvent(stream, "event \(event.uuid.lowercased) (twice in one append)")
            }
            if let key = event.aggregateKey, !aggregateKeys.insert(key).inserted {
                throw .duplicateEvent(stream, "\(key) (twice in one append)")
            }
        }
    }

    /// Refuses a read after a position past every one the store handed out (`highest`): it comes from another
    /// store, or from before a restore or a failover that lost events, and reading after it would skip every
    /// new event until the store's positions passed it.
    package static func readPosition(_ position: GlobalPosition, highest: GlobalPosition) throws(EventStoreError) {
        if position > highest {
            throw .invalidArgument(
                "position \(position) is past every position this store handed out (\(highest)): it comes from another store, "
                    + "or from before a restore or a failover that lost events, and reading after it would skip new events; "
                    + "read again from a position of this store (documentation: Backing up, restoring and upgrading)")
        }
    }

    /// Checks a name the store keeps or looks up as a key (a checkpoint's, a projection's, a snapshot's
    /// aggregate type and id): U+0000 is refused, as no backend can store or compare it the same way.
    package static func key(_ text: String, _ what: String) throws(EventStoreError) {
        if text.utf8.contains(0) { throw .invalidArgument("\(what) must not hold U+0000") }
    }

    /// Checks a read of the global order: a `limit` of at least 1, a position with no negative part, and
    /// categories without U+0000 (PostgreSQL refuses the text, where the other backends would look for it and
    /// find nothing).
    package static func globalRead(after position: GlobalPosition, of target: SubscriptionTarget, limit: Int) throws(EventStoreError) {
        if limit < 1 { throw .invalidArgument("limit must be 1 or more, not \(limit)") }
        try self.position(position)
        try self.target(target)
    }

    /// Checks a position a reader gives: no store hands out a negative part (PostgreSQL read `-1` as the
    /// highest transaction id and found nothing after it, where the other backends read from the start).
    package static func position(_ position: GlobalPosition) throws(EventStoreError) {
        if position.commit < 0 || position.sequence < 0 {
            throw .invalidArgument("position \(position.commit):\(position.sequence) has a negative part: no store hands one out")
        }
    }

    /// Checks a target's categories: U+0000 is refused, as in every name the store looks up.
    package static func target(_ target: SubscriptionTarget) throws(EventStoreError) {
        switch target {
        case let .category(category): try key(category, "a category")
        case let .categories(categories): for category in categories { try key(category, "a category") }
        case .stream, .streams, .all: break
        }
    }

    /// Checks the keys of snapshots before they are written.
    package static func snapshots(_ snapshots: [Snapshot]) throws(EventStoreError) {
        for snapshot in snapshots {
            try key(snapshot.aggregateType, "an aggregate type")
            try key(snapshot.aggregateID, "an aggregate id")
        }
    }

    /// Checks stream metadata before it is written.
    package static func streamMetadata(_ metadata: Metadata) throws(EventStoreError) {
        if let problem = metadata.problem { throw .invalidArgument("stream metadata: \(problem)") }
        _ = try StreamRetention(metadata)
    }
}
