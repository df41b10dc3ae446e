import Dispatch
import EventStore

/// A connection with a serial queue of its own: every blocking SQLite call runs there, never on Swift's
/// cooperative thread pool, and one job at a time.
final class SQLiteWorker: @unchecked Sendable {
    private let queue: DispatchQueue
    // Touched only on `queue`.
    private let connection: SQLiteConnection

    init(queue: DispatchQueue, connection: SQLiteConnection) {
        self.queue = queue
        self.connection = connection
    }

    /// Runs `body` on the connection's queue and returns its result.
    func run<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body(self.connection) })
            }
        }
    }
}
