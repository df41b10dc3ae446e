/// The reading half of an event store: what a read-only wrapper exposes.
public protocol ReadOnlyEventStore: Sendable {
    /// The events of a stream from position `from` on, oldest first: at most `count` of those that
    /// meet the matcher (`count` counts matched events; `from` is a raw position).
    ///
    /// The sequence reads the backend in batches, so a long stream is read in constant memory.
    /// - Throws: `streamNotFound` when the stream does not exist (an existing empty stream gives an
    ///   empty sequence); `invalidArgument` when `from` < 1 or `count` < 1.
    func load(_ stream: StreamName, from: Int, count: Int?, matching: MetadataMatcher?) async throws
        -> RecordedEventSequence

    /// The events of a stream from position `from` (the newest when `nil`) back, newest first: at most
    /// `count` of those that meet the matcher.
    /// - Throws: as ``load(_:from:count:matching:)``.
    func loadReverse(_ stream: StreamName, from: Int?, count: Int?, matching: MetadataMatcher?) async throws
        -> RecordedEventSequence

    /// `true` when the stream exists.
    func hasStream(_ stream: StreamName) async throws -> Bool

    /// The stream's metadata.
    /// - Throws: `streamNotFound` when the stream does not exist.
    func streamMetadata(of stream: StreamName) async throws -> Metadata

    /// Stream names in byte order: all, one by exact name, or those a regular expression finds; optionally
    /// only streams whose metadata meets the matcher; `limit` names after skipping `offset`.
    /// - Throws: `invalidArgument` when `limit` < 1, `offset` < 0, the regex does not compile or the
    ///   matcher tests message properties.
    func streamNames(_ filter: NameFilter, matching: MetadataMatcher?, limit: Int, offset: Int) async throws
        -> [StreamName]

    /// Category names (the part of stream names before the first `-`) in byte order, each once.
    /// - Throws: `invalidArgument` when `limit` < 1, `offset` < 0 or the regex does not compile.
    func categoryNames(_ filter: NameFilter, limit: Int, offset: Int) async throws -> [String]
}

/// An event store: streams of events, appended with optimistic concurrency and read back in order.
///
/// Every backend (in memory, SQLite, PostgreSQL, MySQL/MariaDB) behaves the same way; the
/// `EventStoreConformance` suite is the statement of that behaviour. All methods are safe to call
/// from any task at the same time.
///
/// ## Topics
/// ### Writing
/// - ``create(_:metadata:events:)``
/// - ``append(_:to:expectedVersion:)``
/// - ``delete(_:mode:)``
/// - ``delete(_:)``
/// - ``updateStreamMetadata(_:of:)``
/// ### Reading
/// - ``ReadOnlyEventStore/load(_:from:count:matching:)``
/// - ``ReadOnlyEventStore/loadReverse(_:from:count:matching:)``
/// - ``ReadOnlyEventStore/hasStream(_:)``
/// - ``ReadOnlyEventStore/streamMetadata(of:)``
/// - ``ReadOnlyEventStore/streamNames(_:matching:limit:offset:)``
/// - ``ReadOnlyEventStore/categoryNames(_:limit:offset:)``
/// ### Transactions
/// - ``transaction(_:)``
public protocol EventStore: ReadOnlyEventStore {
    /// Creates a stream with its metadata and, optionally, its first events (positions 1, 2, …).
    /// - Throws: `streamExists` when a stream of that name exists; `invalidArgument` for an event that
    ///   cannot be stored; `duplicateEvent` when two of the events share a uuid or aggregate version.
    ///   Nothing is written when it throws.
    @discardableResult
    func create(_ stream: StreamName, metadata: Metadata, events: [EventMessage]) async throws -> AppendResult

    /// Appends events to a stream, all or none of them.
    ///
    /// The events take the positions after the stream's last one, in order. An empty list writes nothing
    /// but still checks the stream and the expected version. The same events (by uuid) sent again get the
    /// first append's result, while the stream holds them where that append put them (<doc:Streams>, "Retries are safe").
    /// - Throws: `streamNotFound` when the stream does not exist (unless `expectedVersion` is
    ///   ``ExpectedVersion/noStream``, which creates it); `wrongExpectedVersion` when the stream is not
    ///   as expected; `duplicateEvent` when an event's uuid, or its `(_aggregate_type, _aggregate_id,
    ///   _aggregate_version)`, is already in the stream or twice in the list; `invalidArgument` for an
    ///   event that cannot be stored.
    @discardableResult
    func append(_ events: [EventMessage], to stream: StreamName, expectedVersion: ExpectedVersion) async throws
        -> AppendResult

    /// Deletes a stream, as `mode` says (``DeleteMode``).
    /// - Throws: `streamNotFound` when the stream does not exist (or, for a soft delete, was soft-deleted);
    ///   `streamDeleted` when it was deleted for good.
    func delete(_ stream: StreamName, mode: DeleteMode) async throws

    /// Replaces the stream's metadata.
    /// - Throws: `streamNotFound` when the stream does not exist.
    func updateStreamMetadata(_ metadata: Metadata, of stream: StreamName) async throws

    /// Runs `body` in a transaction: what it writes through the store it is given becomes visible to
    /// others together when `body` returns, and is undone when it throws.
    ///
    /// - Important: inside `body`, use the store passed to it. Starting another transaction, or writing
    ///   through the outer store, throws `nestedTransaction`. The transaction's store must not be used
    ///   after `body` returns (`transactionClosed`).
    @discardableResult
    func transaction<T: Sendable>(_ body: @Sendable (any EventStore) async throws -> T) async throws -> T
}

/// Which names a listing returns.
public enum NameFilter: Sendable, Hashable {
    /// Every name.
    case all
    /// The name equal to this text, if there is one.
    case exact(String)
    /// The names in which this regular expression finds a match.
    case regex(String)
}

/// What an append or create did.
public struct AppendResult: Sendable, Hashable {
    /// The stream's version after the write: the position of its last event, 0 when it has none.
    public var streamVersion: Int
    /// The global position of the last event written, `nil` when none was.
    public var lastGlobalPosition: GlobalPosition?

    /// A result from its two parts.
    /// - Parameters:
    ///   - streamVersion: the stream's version after the write.
    ///   - lastGlobalPosition: the global position of the last event written, `nil` when none was.
    public init(streamVersion: Int, lastGlobalPosition: GlobalPosition?) {
        self.streamVersion = streamVersion
        self.lastGlobalPosition = lastGlobalPosition
    }
}

extension EventStore {
    /// Creates a stream (see ``create(_:metadata:events:)``).
    @discardableResult
    public func create(_ stream: StreamName, metadata: Metadata = [:], events: [EventMessage] = []) async throws
        -> AppendResult
    {
        try await create(stream, metadata: metadata, events: events)
    }

    /// Appends one or more events with no expectation of the version (the stream must exist).
    @discardableResult
    public func append(_ events: [EventMessage], to stream: StreamName) async throws -> AppendResult {
        try await append(events, to: stream, expectedVersion: .any)
    }

    /// Appends one event.
    @discardableResult
    public func append(_ event: EventMessage, to stream: StreamName, expectedVersion: ExpectedVersion = .any)
        async throws -> AppendResult
    {
        try await append([event], to: stream, expectedVersion: expectedVersion)
    }
}

extension ReadOnlyEventStore {
    /// Loads a stream forward (see ``load(_:from:count:matching:)``).
    public func load(_ stream: StreamName, from: Int = 1, count: Int? = nil, matching: MetadataMatcher? = nil)
        async throws -> RecordedEventSequence
    {
        try await load(stream, from: from, count: count, matching: matching)
    }

    /// Loads a stream backward (see ``loadReverse(_:from:count:matching:)``).
    public func loadReverse(
        _ stream: StreamName, from: Int? = nil, count: Int? = nil, matching: MetadataMatcher? = nil
    ) async throws -> RecordedEventSequence {
        try await loadReverse(stream, from: from, count: count, matching: matching)
    }

    /// Lists stream names (see ``streamNames(_:matching:limit:offset:)``); 20 by default, as prooph.
    public func streamNames(
        _ filter: NameFilter = .all, matching: MetadataMatcher? = nil, limit: Int = 20, offset: Int = 0
    ) async throws -> [StreamName] {
        try await streamNames(filter, matching: matching, limit: limit, offset: offset)
    }

    /// Lists category names (see ``categoryNames(_:limit:offset:)``); 20 by default, as prooph.
    public func categoryNames(_ filter: NameFilter = .all, limit: Int = 20, offset: Int = 0) async throws -> [String] {
        try await categoryNames(filter, limit: limit, offset: offset)
    }
}

extension EventStore {
    /// Deletes a stream and its events, leaving its name free (``DeleteMode/purge``, prooph's delete).
    /// - Throws: `streamNotFound` when the stream does not exist; `streamDeleted` when it was deleted for good.
    public func delete(_ stream: StreamName) async throws { try await delete(stream, mode: .purge) }
}
