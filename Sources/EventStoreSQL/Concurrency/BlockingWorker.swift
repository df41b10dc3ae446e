import Dispatch
import EventStore

/// A connection of a blocking C client (SQLite, libmariadb) with a serial queue of its own: every call of
/// the client runs there, one job at a time, never on Swift's cooperative thread pool.
///
/// The connection is opened on the queue by `open`, at the first job (or at once with
/// ``opened(label:open:isBroken:)``), and opened again before the next job when `isBroken` says the last
/// one broke it. After ``close()`` the connection is released (its `deinit` closes it) and every job fails
/// with `backend` without touching it.
/// - Important: `Connection` is used on the queue only; jobs must not keep it.
package final class BlockingWorker<Connection>: @unchecked Sendable {
    private let queue: DispatchQueue
    private let open: @Sendable () throws -> Connection
    private let isBroken: @Sendable (Connection) -> Bool
    // Touched only on `queue`.
    private var connection: Connection?
    private var isClosed = false

    /// A worker that opens its connection at its first job.
    package init(
        label: String, open: @escaping @Sendable () throws -> Connection,
        isBroken: @escaping @Sendable (Connection) -> Bool = { _ in false }
    ) {
        self.queue = DispatchQueue(label: label)
        self.open = open
        self.isBroken = isBroken
    }

    /// A worker whose connection is opened now, so that opening errors reach the caller.
    package static func opened(
        label: String, open: @escaping @Sendable () throws -> Connection,
        isBroken: @escaping @Sendable (Connection) -> Bool = { _ in false }
    ) async throws -> BlockingWorker {
        let worker = BlockingWorker(label: label, open: open, isBroken: isBroken)
        try await worker.run { _ in }
        return worker
    }

    /// Runs `body` with the connection on the worker's queue and returns its result.
    /// - Throws: what `open` or `body` throws; `backend` after ``close()``.
    package func run<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body(self.connectionForJob()) })
            }
        }
    }

    /// Releases the connection after the jobs already queued; later jobs fail.
    package func close() async {
        await withCheckedContinuation { continuation in
            queue.async {
                self.isClosed = true
                self.connection = nil
                continuation.resume()
            }
        }
    }

    /// On `queue`: the open connection, opened (again) when there is none or the last one broke.
    private func connectionForJob() throws -> Connection {
        if isClosed { throw EventStoreError.backend("the store was closed") }
        if let connection, !isBroken(connection) { return connection }
        connection = nil
        let opened = try open()
        connection = opened
        return opened
    }
}
