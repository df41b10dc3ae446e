import EventStore
import Foundation
import Synchronization

/// The store a client transaction's body is given: its writes are held and sent together, as one
/// `POST /append`, when the body returns (``EventStoreClient/transaction(_:)``).
final class ClientTransaction: EventStore, Sendable {
    /// The transaction the current task's body runs in.
    @TaskLocal static var current: ClientTransaction?

    let client: EventStoreClient
    private let state = Mutex(State())

    private struct State {
        var writes: [EventJSON.StreamWrite] = []
        var closed = false
    }

    init(client: EventStoreClient) { self.client = client }

    /// Throws `nestedTransaction` when `client` is written to, or asked for a transaction, inside one of its
    /// own transactions' bodies.
    static func refuseInside(_ client: EventStoreClient) throws {
        if let current, current.client === client {
            throw EventStoreError(
                code: .nestedTransaction, reason: "inside a transaction, write through the store its body is given, and start no other")
        }
    }

    /// Ends the transaction and hands over its writes.
    @discardableResult
    func close() -> [EventJSON.StreamWrite] {
        state.withLock { state in
            state.closed = true
            return state.writes
        }
    }

    private func hold(_ write: EventJSON.StreamWrite) throws {
        try state.withLock { state in
            if state.closed { throw Self.closedError }
            state.writes.append(write)
        }
    }

    /// Checks that a read may run: the transaction is open and has written nothing yet (its writes are
    /// still in the client, so a read could not see them).
    private func checkRead() throws {
        try state.withLock { state in
            if state.closed { throw Self.closedError }
            if !state.writes.isEmpty {
                throw EventStoreError.invalidArgument(
                    "a transaction of EventStoreClient reads only before it writes: its writes are sent together when its body returns")
            }
        }
    }

    private static let closedError = EventStoreError(code: .transactionClosed, reason: "the transaction's store was used after its transaction ended")

    // MARK: Writes, held

    func create(_ stream: StreamName, metadata: Metadata, events: [EventMessage]) async throws -> AppendResult {
        try hold(.init(stream: stream, operation: .create(metadata: metadata, events: client.instruments.withTraceParent(events))))
        return AppendResult(streamVersion: events.count, lastGlobalPosition: nil)
    }

    func append(_ events: [EventMessage], to stream: StreamName, expectedVersion: ExpectedVersion) async throws -> AppendResult {
        try hold(.init(stream: stream, operation: .append(client.instruments.withTraceParent(events), expectedVersion: expectedVersion)))
        switch expectedVersion {
        case let .exact(version): return AppendResult(streamVersion: version + events.count, lastGlobalPosition: nil)
        case .noStream: return AppendResult(streamVersion: events.count, lastGlobalPosition: nil)
        case .any, .streamExists: return AppendResult(streamVersion: -1, lastGlobalPosition: nil)
        }
    }

    func delete(_ stream: StreamName, mode: DeleteMode) async throws {
        try hold(.init(stream: stream, operation: .delete(mode)))
    }

    func updateStreamMetadata(_ metadata: Metadata, of stream: StreamName) async throws {
        try hold(.init(stream: stream, operation: .updateMetadata(metadata)))
    }

    func transaction<T: Sendable>(_ body: @Sendable (any EventStore) async throws -> T) async throws -> T {
        if state.withLock({ $0.closed }) { throw Self.closedError }
        throw EventStoreError(code: .nestedTransaction, reason: "a transaction cannot start another")
    }

    // MARK: Reads, before any write

    func load(_ stream: StreamName, from: Int, count: Int?, matching: MetadataMatcher?) async throws -> RecordedEventSequence {
        try checkRead()
        return try await client.load(stream, from: from, count: count, matching: matching)
    }

    func loadReverse(_ stream: StreamName, from: Int?, count: Int?, matching: MetadataMatcher?) async throws -> RecordedEventSequence {
        try checkRead()
        return try await client.loadReverse(stream, from: from, count: count, matching: matching)
    }

    func hasStream(_ stream: StreamName) async throws -> Bool {
        try checkRead()
        return try await client.hasStream(stream)
    }

    func streamMetadata(of stream: StreamName) async throws -> Metadata {
        try checkRead()
        return try await client.streamMetadata(of: stream)
    }

    func streamNames(_ filter: NameFilter, matching: MetadataMatcher?, limit: Int, offset: Int) async throws -> [StreamName] {
        try checkRead()
        return try await client.streamNames(filter, matching: matching, limit: limit, offset: offset)
    }

    func categoryNames(_ filter: NameFilter, limit: Int, offset: Int) async throws -> [String] {
        try checkRead()
        return try await client.categoryNames(filter, limit: limit, offset: offset)
    }
}
