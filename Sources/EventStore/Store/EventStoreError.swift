/// The one error type of the event store.
///
/// Switch on ``code`` to tell the situations apart; the other properties carry the context of the
/// situation where it has one. New codes may be added in later versions, so a `switch` over codes
/// needs a `default`.
///
/// ```swift
/// do {
///     try await store.append(events, to: stream, expectedVersion: .exact(3))
/// } catch let error as EventStoreError where error.code == .wrongExpectedVersion {
///     print("stream is at", error.actualVersion ?? 0)
/// }
/// ```
public struct EventStoreError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case streamNotFound = "stream not found"
            case streamExists = "stream exists"
            case streamDeleted = "stream deleted"
            case wrongExpectedVersion = "wrong expected version"
            case duplicateEvent = "duplicate event"
            case invalidArgument = "invalid argument"
            case decodingFailed = "decoding failed"
            case nestedTransaction = "nested transaction"
            case transactionClosed = "transaction closed"
            case projectionNotFound = "projection not found"
            case projectionRunning = "projection running"
            case projectionLeaseLost = "projection lease lost"
            case consumerGroupNotFound = "consumer group not found"
            case consumerGroupExists = "consumer group exists"
            case busy = "busy"
            case wrongPartition = "wrong partition"
            case corrupt = "corrupt stored data"
            case backend = "backend failure"
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The stream does not exist.
        public static let streamNotFound = Code(.streamNotFound)
        /// A stream of that name exists already.
        public static let streamExists = Code(.streamExists)
        /// The stream was deleted for good (``DeleteMode/hard``): its name cannot be used again.
        public static let streamDeleted = Code(.streamDeleted)
        /// The stream's version is not the one the writer expected; nothing was written.
        public static let wrongExpectedVersion = Code(.wrongExpectedVersion)
        /// An event's uuid, or its aggregate type, id and version, is already used in the stream;
        /// nothing was written.
        public static let duplicateEvent = Code(.duplicateEvent)
        /// An argument is not acceptable; ``EventStoreError/reason`` says why.
        public static let invalidArgument = Code(.invalidArgument)
        /// A payload could not be decoded into the requested type.
        public static let decodingFailed = Code(.decodingFailed)
        /// A transaction was started inside another one, or the outer store was written to from inside
        /// a transaction's closure.
        public static let nestedTransaction = Code(.nestedTransaction)
        /// A transaction's store was used after its transaction ended.
        public static let transactionClosed = Code(.transactionClosed)
        /// No projection has that name.
        public static let projectionNotFound = Code(.projectionNotFound)
        /// Another runner holds the projection's lease: it is running somewhere else (or crashed less than
        /// its lock timeout ago).
        public static let projectionRunning = Code(.projectionRunning)
        /// A runner's lease expired and another runner took the projection over; this runner stopped
        /// without writing.
        public static let projectionLeaseLost = Code(.projectionLeaseLost)
        /// No consumer group has that name.
        public static let consumerGroupNotFound = Code(.consumerGroupNotFound)
        /// A consumer group of that name exists already.
        public static let consumerGroupExists = Code(.consumerGroupExists)
        /// The database stayed locked by another writer for longer than the configured timeout.
        public static let busy = Code(.busy)
        /// A partitioned store's write reached a member that does not own its stream's bucket (now): the map
        /// changed, or a move holds the bucket's writes. Transient: the store reloads its map and tries again;
        /// this reaches a caller only when a move held the bucket longer than the store waits.
        public static let wrongPartition = Code(.wrongPartition)
        /// The database or its driver failed; ``EventStoreError/underlying`` holds its error. Transient:
        /// the same call may succeed later.
        public static let backend = Code(.backend)
        /// A stored value cannot be read back (a row that no store of this version wrote so, or that was
        /// edited by hand): permanent, so retrying cannot help; `eventstore verify` lists such rows.
        public static let corrupt = Code(.corrupt)

        /// `true` for the codes of a failure that may pass: `backend`, `busy` and `wrongPartition`.
        /// Subscriptions and callers retry these, and no other.
        public var isTransient: Bool { self == .backend || self == .busy || self == .wrongPartition }

        /// `true` for the codes that mean another writer got there first: the caller may reload and retry.
        public var isConflict: Bool {
            self == .wrongExpectedVersion || self == .duplicateEvent || self == .streamExists || self == .consumerGroupExists
        }

        /// The code in words, as ``EventStoreError/description`` starts: `stream not found`, `backend failure`.
        public var description: String { base.rawValue }

        /// The code as one word, as metrics and logs label it: `wrong_expected_version`, `backend_failure`.
        public var label: String { base.rawValue.replacing(" ", with: "_") }

        /// The code a ``label`` names (as an HTTP problem document carries it), `nil` for an unknown one.
        public init?(label: String) {
            guard let base = Base(rawValue: label.replacing("_", with: " ")) else { return nil }
            self.init(base)
        }
    }

    /// What went wrong.
    public var code: Code
    /// The stream the failed operation was about.
    public var streamName: StreamName?
    /// For ``Code/wrongExpectedVersion``: what the writer expected.
    public var expectedVersion: ExpectedVersion?
    /// For ``Code/wrongExpectedVersion``: the stream's version, `nil` when the stream does not exist.
    public var actualVersion: Int?
    /// For ``Code/projectionNotFound``: the projection's name.
    public var projectionName: String?
    /// A sentence for a person: what was wrong and, where it helps, what to do.
    public var reason: String
    /// The error of the database or driver, for ``Code/backend`` and ``Code/busy``.
    public var underlying: (any Error & Sendable)?

    /// An error with its code, its reason and the context that applies; the factories (``streamNotFound(_:)``
    /// and the others) fill these in for each code.
    /// - Parameters:
    ///   - code: what went wrong.
    ///   - reason: a sentence for a person.
    ///   - streamName: the stream the operation was about, if any.
    ///   - expectedVersion: for ``Code/wrongExpectedVersion``, what the writer expected.
    ///   - actualVersion: for ``Code/wrongExpectedVersion``, the stream's version (`nil` when it does not exist).
    ///   - projectionName: for ``Code/projectionNotFound``, the projection's name.
    ///   - underlying: the database's or driver's error, for ``Code/backend`` and ``Code/busy``.
    public init(
        code: Code, reason: String, streamName: StreamName? = nil, expectedVersion: ExpectedVersion? = nil,
        actualVersion: Int? = nil, projectionName: String? = nil, underlying: (any Error & Sendable)? = nil
    ) {
        self.code = code
        self.reason = reason
        self.streamName = streamName
        self.expectedVersion = expectedVersion
        self.actualVersion = actualVersion
        self.projectionName = projectionName
        self.underlying = underlying
    }

    /// `<code>: <reason>`, followed by the underlying error in parentheses when there is one.
    public var description: String {
        var text = "\(code): \(reason)"
        if let underlying { text += " (\(underlying))" }
        return text
    }

    /// This error with another reason.
    public func withReason(_ reason: String) -> EventStoreError {
        var copy = self
        copy.reason = reason
        return copy
    }

    // MARK: Factories

    /// A ``Code/streamNotFound`` error about `stream`.
    /// - Parameter stream: the stream that does not exist.
    public static func streamNotFound(_ stream: StreamName) -> Self {
        .init(code: .streamNotFound, reason: "a stream named \"\(stream)\" could not be found", streamName: stream)
    }

    /// A ``Code/streamDeleted`` error about `stream`.
    /// - Parameter stream: the stream that was deleted for good.
    public static func streamDeleted(_ stream: StreamName) -> Self {
        .init(
            code: .streamDeleted, reason: "the stream \"\(stream)\" was deleted for good: its name cannot be used again",
            streamName: stream)
    }

    /// A ``Code/streamExists`` error about `stream`.
    /// - Parameter stream: the stream that exists already.
    public static func streamExists(_ stream: StreamName) -> Self {
        .init(code: .streamExists, reason: "a stream named \"\(stream)\" exists already", streamName: stream)
    }

    /// A ``Code/wrongExpectedVersion`` error about `stream`, with the expected and the actual version.
    /// - Parameters:
    ///   - stream: the stream written to.
    ///   - expected: what the writer expected.
    ///   - actual: the stream's version, `nil` when the stream does not exist.
    public static func wrongExpectedVersion(_ stream: StreamName, expected: ExpectedVersion, actual: Int?) -> Self {
        let actualText = actual.map { "is at version \($0)" } ?? "does not exist"
        return .init(
            code: .wrongExpectedVersion,
            reason: "stream \"\(stream)\" was expected to be \(expected) but \(actualText)",
            streamName: stream, expectedVersion: expected, actualVersion: actual)
    }

    /// A ``Code/duplicateEvent`` error about `stream`; its reason reads `stream "<stream>" already has <detail>`.
    /// - Parameters:
    ///   - stream: the stream written to.
    ///   - detail: what is taken, for example `event <uuid>` or an ``AggregateKey``'s description.
    public static func duplicateEvent(_ stream: StreamName, _ detail: String) -> Self {
        .init(code: .duplicateEvent, reason: "stream \"\(stream)\" already has \(detail)", streamName: stream)
    }

    /// An ``Code/invalidArgument`` error, about no stream.
    /// - Parameter reason: what is not acceptable, and why.
    public static func invalidArgument(_ reason: String) -> Self {
        .init(code: .invalidArgument, reason: reason)
    }

    /// A ``Code/projectionNotFound`` error, with the projection's name in ``projectionName``.
    /// - Parameter name: the name no projection has.
    public static func projectionNotFound(_ name: String) -> Self {
        .init(code: .projectionNotFound, reason: "a projection named \"\(name)\" could not be found", projectionName: name)
    }

    /// A ``Code/consumerGroupNotFound`` error; the name is in the reason only, as a JSON string.
    /// - Parameter name: the name no consumer group has.
    public static func consumerGroupNotFound(_ name: String) -> Self {
        .init(code: .consumerGroupNotFound, reason: "a consumer group named \(JSONValue.string(name).jsonText) could not be found")
    }

    /// A ``Code/consumerGroupExists`` error; the name is in the reason only, as a JSON string.
    /// - Parameter name: the name of the consumer group that exists already.
    public static func consumerGroupExists(_ name: String) -> Self {
        .init(code: .consumerGroupExists, reason: "a consumer group named \(JSONValue.string(name).jsonText) exists already")
    }

    /// A ``Code/corrupt`` error, about no stream.
    /// - Parameter reason: which stored value cannot be read back, and why.
    public static func corrupt(_ reason: String) -> Self {
        .init(code: .corrupt, reason: reason)
    }

    /// A ``Code/backend`` error: the database or its driver failed.
    /// - Parameters:
    ///   - reason: what failed.
    ///   - underlying: the database's or driver's error, if there is one.
    public static func backend(_ reason: String, underlying: (any Error & Sendable)? = nil) -> Self {
        .init(code: .backend, reason: reason, underlying: underlying)
    }
}
