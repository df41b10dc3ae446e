import EventStore
import Foundation
import Testing

/// An event of the kind prooph's tests use: `UserCreated` at version 1, `UsernameChanged` after it.
func userEvent(
    _ version: Int, name: String? = nil, metadata: Metadata = [:], createdAt: Date = Date()
) -> EventMessage {
    var meta = metadata
    meta["_aggregate_version"] = .int(version)
    let messageName = version == 1 ? "UserCreated" : "UsernameChanged"
    return EventMessage(
        messageName: messageName, payload: ["name": .string(name ?? "Name \(version)")], metadata: meta,
        createdAt: createdAt)
}

/// Events at versions `range`, named as `userEvent` names them.
func userEvents(_ range: ClosedRange<Int>) -> [EventMessage] { range.map { userEvent($0) } }

/// Asserts that `body` throws an ``EventStoreError`` with `code`, and returns it.
@discardableResult
func expectError<T>(
    _ code: EventStoreError.Code, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> T
) async -> EventStoreError? {
    do {
        let value = try await body()
        Issue.record("expected the error \(code), got \(value)", sourceLocation: sourceLocation)
        return nil
    } catch let error as EventStoreError {
        #expect(error.code == code, "expected \(code), got \(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected EventStoreError \(code), got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The stream positions of events.
func positions(_ events: [RecordedEvent]) -> [Int] { events.map(\.position) }

/// `_aggregate_version` of events.
func versions(_ events: [RecordedEvent]) -> [Int] { events.compactMap { $0.metadata["_aggregate_version"]?.intValue } }

extension EventStore {
    /// Loads a whole stream forward into an array.
    func all(_ stream: StreamName, from: Int = 1, count: Int? = nil, matching: MetadataMatcher? = nil) async throws
        -> [RecordedEvent]
    {
        try await load(stream, from: from, count: count, matching: matching).collect()
    }

    /// Loads a stream backward into an array.
    func allReverse(_ stream: StreamName, from: Int? = nil, count: Int? = nil, matching: MetadataMatcher? = nil)
        async throws -> [RecordedEvent]
    {
        try await loadReverse(stream, from: from, count: count, matching: matching).collect()
    }
}

let userStream: StreamName = "Prooph\\Model\\User"

/// A transaction of `store` held open after `body` ran in it, until ``commit()``.
struct HeldTransaction {
    private let task: Task<Void, any Error>
    private let release: AsyncStream<Void>.Continuation

    /// Runs `body` in a transaction of `store` and returns once it did, the transaction still open.
    init(on store: any EventStore, _ body: @escaping @Sendable (any EventStore) async throws -> Void) async {
        let ran = AsyncStream<Void>.makeStream()
        let release = AsyncStream<Void>.makeStream()
        task = Task {
            try await store.transaction { tx in
                try await body(tx)
                ran.continuation.yield()
                for await _ in release.stream { break }
            }
        }
        self.release = release.continuation
        // Ends with the task too, when the transaction failed before `body` returned.
        Task { [task] in _ = await task.result; ran.continuation.finish() }
        for await _ in ran.stream { break }
    }

    /// Lets the transaction commit, and waits for it.
    func commit() async throws {
        release.yield()
        try await task.value
    }
}
