@_spi(Backend) import EventStore

/// A store transaction's hold on its database: what a driver's ``SQLDriver/withTransaction(_:)`` hands out
/// (its own connection, a worker), passed back to each call made inside the transaction.
package typealias SQLTransactionHandle = any Sendable

/// What a load prepares once and runs for each page (a driver's own type).
package typealias SQLPageQuery = any Sendable

/// A handle or page query passed back to the driver that made it, as the driver's own type.
/// - Throws: `backend` for a value of another driver (a defect, reported instead of a crash).
package func driverValue<T>(_ value: any Sendable, as type: T.Type) throws(EventStoreError) -> T {
    guard let typed = value as? T else {
        throw .backend("internal error: a \(Swift.type(of: value)) was passed where the driver made a \(T.self)")
    }
    return typed
}

/// A database under ``SQLEventStore``: how it holds connections, and the statements that differ.
///
/// Every operation runs whole on one connection. At the top level (`transaction` is `nil`) a write is a
/// database transaction of its own; inside a store transaction (`transaction` is the handle its
/// ``withTransaction(_:)`` handed out) it runs in a savepoint of that transaction's connection, and a read
/// runs there too, so that it sees the transaction's writes. The store validates arguments before it calls a
/// driver, and serialises the calls of one transaction; the driver reports failures as `EventStoreError`s.
package protocol SQLDriver: Sendable {
    /// Signalled after this process's commits (and, where the database tells, other processes').
    var appendNotifier: AppendNotifier { get }
    /// How long a live reader waits for a signal before it reads anyway.
    var pollInterval: Duration { get }
    /// Events per page of a load.
    var readBatchSize: Int { get }

    /// Runs `body` in a database transaction on a connection held for it: committed when `body` returns,
    /// rolled back when it throws.
    func withTransaction<T: Sendable>(_ body: (SQLTransactionHandle) async throws -> T) async throws -> T

    // MARK: Streams

    func create(_ transaction: SQLTransactionHandle?, _ stream: StreamName, metadata: Metadata, events: [EventMessage])
        async throws -> AppendResult
    func append(
        _ transaction: SQLTransactionHandle?, _ events: [EventMessage], to stream: StreamName, expectedVersion: ExpectedVersion
    ) async throws -> AppendResult
    /// Deletes as ``DeletionSQL/statements(_:of:_:events:streams:)`` says, under the stream's append lock.
    func delete(_ transaction: SQLTransactionHandle?, _ stream: StreamName, mode: DeleteMode) async throws
    /// - Throws: `streamNotFound`, or `streamDeleted` for a tombstone.
    func updateMetadata(_ transaction: SQLTransactionHandle?, _ metadata: Metadata, of stream: StreamName) async throws
    /// The live stream's row id, `nil` when it does not exist or was deleted.
    func streamID(_ transaction: SQLTransactionHandle?, _ stream: StreamName) async throws -> Int64?
    /// Whether the stream is a tombstone (``DeleteMode/hard``): what a read that found no live stream asks.
    func isTombstone(_ transaction: SQLTransactionHandle?, _ stream: StreamName) async throws -> Bool
    /// - Throws: `streamNotFound` when no live stream has the name.
    func metadata(_ transaction: SQLTransactionHandle?, of stream: StreamName) async throws -> Metadata
    /// A load's stream: its row id and its retention as the load begins, `nil` when it is not live.
    func loadTarget(_ transaction: SQLTransactionHandle?, _ stream: StreamName) async throws -> (id: Int64, retention: LoadRetention)?
    func pageQuery(streamID: Int64, direction: RecordedEventSequence.Direction, matching: MetadataMatcher?, retention: LoadRetention)
        -> SQLPageQuery
    /// At most `limit` events of one page, from position `bound` (inclusive) in the query's direction.
    func page(_ transaction: SQLTransactionHandle?, _ query: SQLPageQuery, stream: StreamName, bound: Int, limit: Int)
        async throws -> [RecordedEvent]
    func streamNames(
        _ transaction: SQLTransactionHandle?, _ filter: NameFilter, matching: MetadataMatcher?, limit: Int, offset: Int
    ) async throws -> [StreamName]
    func categoryNames(_ transaction: SQLTransactionHandle?, _ filter: NameFilter, limit: Int, offset: Int) async throws
        -> [String]

    // MARK: Global order

    /// The events of `target` after `position`, at most `limit`, and a position up to which the read saw
    /// every committed event (`nil` where it cannot tell): how far a short page looked.
    func readAll(_ transaction: SQLTransactionHandle?, after position: GlobalPosition, of target: SubscriptionTarget, limit: Int)
        async throws -> (events: [RecordedEvent], readable: GlobalPosition?)
    /// How many events of `target` are after `position`, at most `limit`.
    func eventCount(_ transaction: SQLTransactionHandle?, after position: GlobalPosition, of target: SubscriptionTarget, limit: Int)
        async throws -> Int
    func headPosition(_ transaction: SQLTransactionHandle?) async throws -> GlobalPosition
    /// The last position a reader of the global order can see now (behind ``headPosition(_:)`` while a
    /// transaction that wrote before the head is still open).
    func readableHead(_ transaction: SQLTransactionHandle?) async throws -> GlobalPosition
    /// The transactions that keep ``readableHead(_:)`` behind ``headPosition(_:)`` now.
    func globalOrderBlockers(_ transaction: SQLTransactionHandle?) async throws -> [GlobalOrderBlocker]
    /// The highest position the database has handed out or could hand out to a committed event by now (a
    /// sequence's counter, PostgreSQL's next transaction id): a read after a higher one is refused.
    func highestPosition(_ transaction: SQLTransactionHandle?) async throws -> GlobalPosition
    func checkpoint(_ transaction: SQLTransactionHandle?, named name: String) async throws -> GlobalPosition?
    func saveCheckpoint(_ transaction: SQLTransactionHandle?, _ position: GlobalPosition, named name: String) async throws

    // MARK: Projections and snapshots

    func projectionRecord(_ transaction: SQLTransactionHandle?, named name: String) async throws -> ProjectionRecord?
    func projectionNames(_ transaction: SQLTransactionHandle?, _ filter: NameFilter, limit: Int, offset: Int) async throws
        -> [String]
    /// Reads, edits and writes a projection's row in one write, deleting the stream the edit names.
    /// - Throws: ``ProjectionRowRaced`` when another writer inserted the row first (the store retries).
    func changeProjection<Result: Sendable>(
        _ transaction: SQLTransactionHandle?, named name: String,
        _ change: @escaping @Sendable (inout ProjectionRecord?) throws -> ProjectionChange<Result>
    ) async throws -> Result
    func snapshot(_ transaction: SQLTransactionHandle?, type: String, id: String) async throws -> Snapshot?
    func save(_ transaction: SQLTransactionHandle?, _ snapshots: [Snapshot]) async throws
    func removeSnapshots(_ transaction: SQLTransactionHandle?, type: String) async throws

    // MARK: Consumer groups

    func consumerGroupRecord(_ transaction: SQLTransactionHandle?, named name: String) async throws -> ConsumerGroupRecord?
    func consumerGroupNames(_ transaction: SQLTransactionHandle?, limit: Int, offset: Int) async throws -> [String]
    /// Reads (locking), edits and writes a group's row in one write, with the database's clock.
    /// - Throws: ``ProjectionRowRaced`` when another writer inserted the row first (the store retries).
    func changeConsumerGroup<Result: Sendable>(
        _ transaction: SQLTransactionHandle?, named name: String,
        _ change: @escaping @Sendable (inout ConsumerGroupRecord?, Int64) throws -> Result
    ) async throws -> Result

    // MARK: Partitions

    /// The placement map the member stores (``PartitionSQL``), `nil` when none.
    func storedPlacement(_ transaction: SQLTransactionHandle?) async throws -> PlacementMap?
    /// Stores `map` as the member `member`'s when the stored map's version is `replacing`, in one write.
    func storePlacement(_ transaction: SQLTransactionHandle?, _ map: PlacementMap, as member: String, replacing version: Int64?)
        async throws -> Bool
    /// The bucket's state under `version`, its row held shared until the transaction ends.
    func bucketState(_ transaction: SQLTransactionHandle?, _ bucket: Int, mapVersion version: Int64) async throws -> BucketState

    /// The buckets whose writes are fenced.
    func fencedBuckets(_ transaction: SQLTransactionHandle?) async throws -> [Int]

    // A stream's copy to another member (``StreamCopySQL``).

    /// The streams and events tables, as this backend's statements name them.
    var copyTables: (streams: String, events: String) { get }
    /// The placement table's statements, with this backend's row locks.
    var partitionSQL: PartitionSQL { get }
    /// The stream's row whatever its state, `nil` when there is none.
    func storedRow(_ transaction: SQLTransactionHandle?, _ stream: StreamName) async throws -> StoredStreamRow?
    /// The names of every stream row after `name`, in byte order, at most `limit`.
    func storedStreamNames(_ transaction: SQLTransactionHandle?, after name: String, limit: Int) async throws -> [String]
    /// Runs statements that return no rows, in order, as a write.
    func execute(_ transaction: SQLTransactionHandle?, _ statements: [SQLQuery]) async throws

    // MARK: Retention

    /// The ids of the streams with retention after `id`, at most `limit`, in id order.
    func streamsWithRetention(_ transaction: SQLTransactionHandle?, after id: Int64, limit: Int) async throws -> [Int64]
    /// The positions a scavenge of the stream looks at: from its first stored event to the first position its
    /// retention surely keeps (its version and one more with `$maxAge`); `nil` when it has no events.
    func scavengeRange(_ transaction: SQLTransactionHandle?, streamID: Int64) async throws -> Range<Int>?
    /// Deletes the stream's events at `positions` that its retention no longer keeps, judged in the
    /// statement, and counts them on its row. - Returns: how many.
    func scavenge(_ transaction: SQLTransactionHandle?, streamID: Int64, positions: Range<Int>) async throws -> Int

    // MARK: Verification

    /// How many events have no stream row (see ``SQLIntegrityQueries``).
    func orphanEventCount(_ transaction: SQLTransactionHandle?) async throws -> Int
    /// The raw names of the streams whose stored and removed events do not add up to their version.
    func streamsWithWrongVersions(_ transaction: SQLTransactionHandle?) async throws -> [String]

    /// Releases the driver's connections once the calls they run are done; later calls fail with `backend`.
    func close() async
}

extension SQLDriver {
    /// One writer at a time makes the head readable as soon as it commits.
    package func readableHead(_ transaction: SQLTransactionHandle?) async throws -> GlobalPosition {
        try await headPosition(transaction)
    }

    /// Nothing holds back a head that is readable as soon as it commits.
    package func globalOrderBlockers(_ transaction: SQLTransactionHandle?) async throws -> [GlobalOrderBlocker] { [] }
}

/// The expected-version check of an append, once for every backend.
package enum ExpectedVersionCheck {
    /// Checks `expected` against the stream's current version (`nil`: no stream).
    /// - Returns: `true` when the stream exists and is appended to, `false` when the append creates it.
    /// - Throws: `wrongExpectedVersion`, or `streamNotFound` for a missing stream not expected to be missing.
    package static func check(_ expected: ExpectedVersion, current: Int?, of stream: StreamName) throws(EventStoreError) -> Bool {
        guard let current else {
            guard expected == .noStream else { throw .streamNotFound(stream) }
            return false
        }
        switch expected {
        case .noStream:
            throw .wrongExpectedVersion(stream, expected: expected, actual: current)
        case let .exact(version) where version != current:
            throw .wrongExpectedVersion(stream, expected: expected, actual: current)
        default:
            return true
        }
    }
}

extension EventStoreError {
    /// The error of an append that found its stream's row gone when it set the stream's version (deleted by
    /// a writer that did not take the stream's lock): its events would belong to no stream, so it fails and
    /// they are rolled back.
    package static func deletedWhileAppending(_ stream: StreamName) -> EventStoreError {
        EventStoreError.streamNotFound(stream).withReason(
            "stream \"\(stream)\" was deleted while this append ran; nothing was written")
    }
}
