import Synchronization

/// The store a ``PartitionedEventStore/transaction(_:)`` body gets: its first call for a stream opens a
/// transaction on that stream's member, and every later call must be for a stream of the same member.
///
/// The member's transaction runs in a task of its own, and every call of the body runs there, one at a
/// time: the body's task only sends the calls and waits for their answers. So a body whose task is
/// cancelled never cancels a statement on the transaction's connection halfway; its next call fails with
/// `CancellationError` before it is sent, and the transaction rolls back (or, cancelled after the body
/// returned, commits and returns).
final class PartitionedTransaction: EventStore, Sendable {
    private let store: PartitionedEventStore
    /// The map the transaction routes by, fixed when it begins.
    private let map: PlacementMap
    private let state = Mutex<State>(.idle)

    private enum State {
        case idle
        case open(Session)
        case closed
    }

    private static let closedError = EventStoreError(
        code: .transactionClosed, reason: "this transaction's store was used after its transaction ended")

    /// A member transaction in progress, and the calls sent to it.
    private final class Session: Sendable {
        let member: String
        private let inbox: AsyncStream<Message>.Continuation
        /// The member transaction: done once committed or rolled back.
        let done: Task<Void, any Error>
        /// The buckets checked so far (each once per transaction); used by the member's task only.
        let claimed = Mutex<Set<Int>>([])

        enum Message: Sendable {
            /// A call to run on the member's transaction, and how to fail it when it cannot run.
            case call(run: @Sendable (any EventStore) async -> Void, fail: @Sendable (any Error) -> Void)
            /// The body ended: commit after a success, roll back otherwise.
            case end(Result<Void, any Error>)
        }

        init(member: PartitionedEventStore.Member) {
            self.member = member.name
            let (messages, inbox) = AsyncStream<Message>.makeStream()
            self.inbox = inbox
            let store = member.store
            // Detached: the body's task is marked as inside the partitioned store's transaction, which the
            // member's own transaction would refuse as nested, and its cancellation is the body's to see.
            done = Task.detached {
                let reader = MessageReader(messages)
                do {
                    try await store.transaction { transaction in
                        while let message = await reader.next() {
                            switch message {
                            case let .call(run, _): await run(transaction)
                            case let .end(result): return try result.get()
                            }
                        }
                        throw PartitionedTransaction.closedError
                    }
                    inbox.finish()
                    await reader.failRemaining(with: PartitionedTransaction.closedError)
                } catch {
                    inbox.finish()
                    await reader.failRemaining(with: error)
                    throw error
                }
            }
        }

        /// Runs `work` on the member's transaction, in its task.
        /// - Throws: `CancellationError` when the calling task is cancelled (nothing is sent), the member's
        ///   failure to begin the transaction, or what `work` throws.
        func run<T: Sendable>(_ work: @escaping @Sendable (any EventStore) async throws -> T) async throws -> T {
            try Task.checkCancellation()
            return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                let message = Message.call(
                    run: { transaction in
                        do { continuation.resume(returning: try await work(transaction)) } catch { continuation.resume(throwing: error) }
                    },
                    fail: { continuation.resume(throwing: $0) })
                if case .terminated = inbox.yield(message) { continuation.resume(throwing: PartitionedTransaction.closedError) }
            }
        }

        /// Ends the member's transaction as the body ended.
        func end(_ result: Result<Void, any Error>) {
            inbox.yield(.end(result))
            inbox.finish()
        }
    }

    /// The messages of a session, read by the member's task alone.
    private final class MessageReader: @unchecked Sendable {
        // @unchecked: only the member's task reads, one message at a time.
        private var iterator: AsyncStream<Session.Message>.Iterator

        init(_ messages: AsyncStream<Session.Message>) { iterator = messages.makeAsyncIterator() }

        func next() async -> Session.Message? { await iterator.next() }

        /// Fails the calls still waiting once the stream is finished.
        func failRemaining(with error: any Error) async {
            while let message = await iterator.next() {
                if case let .call(_, fail) = message { fail(error) }
            }
        }
    }

    init(store: PartitionedEventStore, map: PlacementMap) {
        self.store = store
        self.map = map
    }

    /// Ends the transaction: the member's commits after a success (its failure thrown), rolls back otherwise.
    func finish(_ result: Result<Void, any Error>) async throws {
        let session: Session? = state.withLock { state in
            defer { state = .closed }
            if case let .open(session) = state { return session }
            return nil
        }
        guard let session else { return }
        session.end(result)
        do {
            try await session.done.value
        } catch {
            if case .success = result { throw error }
        }
    }

    /// Ends the transaction after its body failed with `error`: rolled back, whatever the member says.
    func rollBack(after error: any Error) async {
        try? await finish(.failure(error))
    }

    /// The open session, opened by a call for `member` when there is none.
    /// - Throws: `transactionClosed` after the body returned; `invalidArgument` for another member than the
    ///   transaction's.
    private func session(for member: PartitionedEventStore.Member, stream: StreamName?) throws -> Session {
        try state.withLock { state throws(EventStoreError) -> Session in
            switch state {
            case .closed:
                throw Self.closedError
            case let .open(session):
                if session.member != member.name {
                    throw EventStoreError.invalidArgument(
                        "a transaction of a partitioned store stays on one member: \(stream.map { "\($0)" } ?? "a stream") lives on \(member.name), the transaction's streams on \(session.member)")
                }
                return session
            case .idle:
                let session = Session(member: member)
                state = .open(session)
                return session
            }
        }
    }

    /// Runs `work` on the member transaction of `stream`'s member, its bucket checked first (once).
    /// - Throws: `invalidArgument` for a stream of another member than the transaction's;
    ///   `transactionClosed` after the body returned; `wrongPartition` when the member no longer owns the
    ///   bucket (the store's map is reloaded for the next try).
    private func call<T: Sendable>(_ stream: StreamName, _ work: @escaping @Sendable (any EventStore) async throws -> T) async throws -> T {
        let (member, bucket) = store.route(stream, in: map)
        let session = try session(for: member, stream: stream)
        let map = self.map
        do {
            return try await session.run { transaction in
                if session.claimed.withLock({ !$0.contains(bucket) }) {
                    try await PartitionedEventStore.claim(bucket, of: map, on: transaction, member: member.name)
                    session.claimed.withLock { _ = $0.insert(bucket) }
                }
                return try await work(transaction)
            }
        } catch let error as EventStoreError where error.code == .wrongPartition {
            _ = try? await store.reloadPlacement()
            throw error
        }
    }

    /// A load read whole on the member's transaction (its pages cannot be read from the body's task), served
    /// as a sequence.
    private func load(
        _ stream: StreamName, direction: RecordedEventSequence.Direction, from: Int?, count: Int?, matching: MetadataMatcher?
    ) async throws -> RecordedEventSequence {
        let events = try await call(stream) { transaction in
            direction == .forward
                ? try await transaction.load(stream, from: from ?? 1, count: count, matching: matching).collect()
                : try await transaction.loadReverse(stream, from: from, count: count, matching: matching).collect()
        }
        let start = from ?? (direction == .forward ? 1 : Int.max)
        return RecordedEventSequence(direction: direction, start: start, count: count, readBatchSize: max(events.count, 1)) { bound, limit in
            let rest = direction == .forward ? events.filter { $0.position >= bound } : events.filter { $0.position <= bound }
            return Array(rest.prefix(limit))
        }
    }

    // MARK: EventStore

    @discardableResult
    func create(_ stream: StreamName, metadata: Metadata, events: [EventMessage]) async throws -> AppendResult {
        try await call(stream) { try await $0.create(stream, metadata: metadata, events: events) }
    }

    @discardableResult
    func append(_ events: [EventMessage], to stream: StreamName, expectedVersion: ExpectedVersion) async throws -> AppendResult {
        try await call(stream) { try await $0.append(events, to: stream, expectedVersion: expectedVersion) }
    }

    func delete(_ stream: StreamName, mode: DeleteMode) async throws {
        try await call(stream) { try await $0.delete(stream, mode: mode) }
    }

    func updateStreamMetadata(_ metadata: Metadata, of stream: StreamName) async throws {
        try await call(stream) { try await $0.updateStreamMetadata(metadata, of: stream) }
    }

    func load(_ stream: StreamName, from: Int, count: Int?, matching: MetadataMatcher?) async throws -> RecordedEventSequence {
        try await load(stream, direction: .forward, from: from, count: count, matching: matching)
    }

    func loadReverse(_ stream: StreamName, from: Int?, count: Int?, matching: MetadataMatcher?) async throws -> RecordedEventSequence {
        try await load(stream, direction: .backward, from: from, count: count, matching: matching)
    }

    func hasStream(_ stream: StreamName) async throws -> Bool {
        try await call(stream) { try await $0.hasStream(stream) }
    }

    func streamMetadata(of stream: StreamName) async throws -> Metadata {
        try await call(stream) { try await $0.streamMetadata(of: stream) }
    }

    /// Every member's names; the transaction's member read on its transaction.
    func streamNames(_ filter: NameFilter, matching: MetadataMatcher?, limit: Int, offset: Int) async throws -> [StreamName] {
        let session = try openSession()
        return try await store.streamNames(
            filter, matching: matching, limit: limit, offset: offset,
            inTransaction: session.map { session in
                (session.member, { limit, offset in
                    try await session.run { try await $0.streamNames(filter, matching: matching, limit: limit, offset: offset) }
                })
            })
    }

    func categoryNames(_ filter: NameFilter, limit: Int, offset: Int) async throws -> [String] {
        let session = try openSession()
        return try await store.categoryNames(
            filter, limit: limit, offset: offset,
            inTransaction: session.map { session in
                (session.member, { wanted in try await session.run { try await $0.categoryNames(filter, limit: wanted, offset: 0) } })
            })
    }

    /// The open session, `nil` before the first call.
    private func openSession() throws -> Session? {
        try state.withLock { state throws(EventStoreError) -> Session? in
            switch state {
            case .closed: throw Self.closedError
            case let .open(session): return session
            case .idle: return nil
            }
        }
    }

    func transaction<T: Sendable>(_ body: @Sendable (any EventStore) async throws -> T) async throws -> T {
        throw EventStoreError(code: .nestedTransaction, reason: "a transaction cannot be started inside another one")
    }
}
