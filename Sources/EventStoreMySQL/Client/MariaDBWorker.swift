#if MySQL
import Dispatch
import EventStore

/// A connection with a serial queue of its own: every blocking libmariadb call runs there, never on Swift's
/// cooperative thread pool. A connection that broke is replaced by a new one at the next call.
final class MariaDBWorker: @unchecked Sendable {
    private let queue: DispatchQueue
    private let settings: MariaDBConnection.Settings
    // Touched only on `queue`.
    private var connection: MariaDBConnection?

    init(label: String, settings: MariaDBConnection.Settings) {
        self.queue = DispatchQueue(label: label)
        self.settings = settings
    }

    /// Runs `body` on the connection's queue, connecting first when there is no usable connection.
    func run<T: Sendable>(_ body: @escaping @Sendable (MariaDBConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(
                    with: Result {
                        if self.connection?.isBroken ?? true { self.connection = nil }
                        let connection = try self.connection ?? MariaDBConnection(self.settings)
                        self.connection = connection
                        return try body(connection)
                    })
            }
        }
    }
}

/// A small pool of workers: callers wait (suspended, not blocking) for a free one.
actor MariaDBPool {
    private let workers: [MariaDBWorker]
    private var idle: [Int]
    private var waiters: [CheckedContinuation<Int, Never>] = []

    init(size: Int, settings: MariaDBConnection.Settings) {
        workers = (0..<max(1, size)).map { MariaDBWorker(label: "eventstore.mariadb.\($0)", settings: settings) }
        idle = Array(workers.indices)
    }

    /// Takes a worker; give it back with ``release(_:)``.
    func acquire() async -> (index: Int, worker: MariaDBWorker) {
        if let index = idle.popLast() { return (index, workers[index]) }
        let index = await withCheckedContinuation { waiters.append($0) }
        return (index, workers[index])
    }

    func release(_ index: Int) {
        if waiters.isEmpty {
            idle.append(index)
        } else {
            waiters.removeFirst().resume(returning: index)
        }
    }
}
#endif
