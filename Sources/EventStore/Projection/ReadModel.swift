import Synchronization

/// Where a read-model projection writes: a table, a document, a cache. prooph's `ReadModel`, in Swift.
///
/// Handlers do not write at once: they ``stack(_:)`` operations, and the runner calls ``persist()`` every
/// persist block and at the end of each pass, just before it saves the projection's position. A crash
/// between the two replays the events since the last saved position, so operations should be idempotent
/// (an upsert rather than an insert), or the read model should keep its own position.
///
/// ``OperationStack`` keeps the stacked operations for an implementation:
///
/// ```swift
/// final class UsersReadModel: ReadModel {
///     enum Operation: Sendable { case insert(id: String, name: String), rename(id: String, name: String) }
///     let operations = OperationStack<Operation>()
///     func stack(_ operation: Operation) { operations.push(operation) }
///     func persist() async throws {
///         for operation in operations.drain() { /* write it */ }
///     }
///     // initialize(), isInitialized(), reset(), delete()
/// }
/// ```
public protocol ReadModel: Sendable {
    /// What handlers stack.
    associatedtype Operation: Sendable

    /// Creates what the read model needs (tables, say). Called by a runner when ``isInitialized()`` is false.
    func initialize() async throws
    /// `true` once ``initialize()`` has run (and ``delete()`` has not since).
    func isInitialized() async throws -> Bool
    /// Empties the read model, keeping it initialized.
    func reset() async throws
    /// Removes the read model altogether.
    func delete() async throws
    /// Remembers an operation for the next ``persist()``.
    func stack(_ operation: Operation)
    /// Carries out the stacked operations, in order, and forgets them.
    func persist() async throws
}

/// The operations a read model has stacked and not yet persisted. Safe to use from any task.
public final class OperationStack<Operation: Sendable>: Sendable {
    private let operations = Mutex<[Operation]>([])

    /// An empty stack.
    public init() {}

    /// Adds an operation.
    public func push(_ operation: Operation) {
        operations.withLock { $0.append(operation) }
    }

    /// The operations in the order they were pushed; the stack is empty afterwards.
    public func drain() -> [Operation] {
        operations.withLock { operations in
            defer { operations.removeAll() }
            return operations
        }
    }

    /// Forgets the stacked operations (on reset).
    public func clear() {
        operations.withLock { $0.removeAll() }
    }

    /// How many operations wait.
    public var count: Int { operations.withLock { $0.count } }
}
