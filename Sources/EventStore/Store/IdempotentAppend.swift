/// Appends are idempotent by event id, as KurrentDB defines it: a client that lost an append's reply can
/// send the same events again and gets the first append's result instead of a conflict.
///
/// - With ``ExpectedVersion/exact(_:)`` n (``ExpectedVersion/noStream``: 0), the retry succeeds when the
///   events' uuids are the stream's events n+1 … n+k, in that order.
/// - With ``ExpectedVersion/any`` or ``ExpectedVersion/streamExists``, when they are the stream's last k
///   events, in that order.
///
/// Anything else (some of the uuids, or all of them at other positions) stays the conflict it was.
enum IdempotentAppend {
    /// Whether an append refused with `error` may be the retry of one that was stored.
    static func mayBeRetry(_ error: any Error, of events: [EventMessage]) -> Bool {
        guard !events.isEmpty, let error = error as? EventStoreError else { return false }
        return error.code == .wrongExpectedVersion || error.code == .duplicateEvent
    }

    /// The result of the earlier append of `events` to `stream`, `nil` when the stream does not hold them
    /// as that append would have written them.
    static func earlierResult(
        of events: [EventMessage], to stream: StreamName, expectedVersion: ExpectedVersion, in store: some EventStore
    ) async throws -> AppendResult? {
        let stored: [RecordedEvent]
        do {
            switch expectedVersion {
            case .noStream: stored = try await store.load(stream, from: 1, count: events.count).collect()
            case let .exact(version):
                stored = try await store.load(stream, from: version + 1, count: events.count).collect()
            case .any, .streamExists:
                stored = try await store.loadReverse(stream, from: nil, count: events.count).collect().reversed()
            }
        } catch let error as EventStoreError where error.code == .streamNotFound || error.code == .streamDeleted {
            return nil
        }
        guard stored.map(\.uuid) == events.map(\.uuid), let last = stored.last else { return nil }
        return AppendResult(streamVersion: last.position, lastGlobalPosition: last.globalPosition)
    }
}

extension EventStore {
    /// Runs `append`; when it is refused as a conflict, returns the earlier append's result if the stream
    /// holds these events as that append wrote them (``IdempotentAppend``). Backend API.
    @_spi(Backend) public func idempotentAppend(
        _ events: [EventMessage], to stream: StreamName, expectedVersion: ExpectedVersion,
        isolation: isolated (any Actor)? = #isolation, _ append: () async throws -> AppendResult
    ) async throws -> AppendResult {
        do {
            return try await append()
        } catch let error where IdempotentAppend.mayBeRetry(error, of: events) {
            if let earlier = try await IdempotentAppend.earlierResult(
                of: events, to: stream, expectedVersion: expectedVersion, in: self)
            {
                return earlier
            }
            throw error
        }
    }
}
