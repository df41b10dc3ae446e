import EventStore
import EventStoreSQL
import PostgresNIO
import Synchronization

/// The time limits of one call on a pooled connection: the wait for a connection
/// (``PostgresConfiguration/connectTimeout``) and the server's answer (``PostgresConfiguration/queryTimeout``).
///
/// PostgresNIO does not end a query in flight when its task is cancelled, and a query on a connection whose
/// server stopped answering (a frozen server, a half-open socket after a restart or a network fault) waits
/// for ever. So a timer runs beside each call: when the deadline passes, or the caller is cancelled, it
/// closes the call's connection (the pool replaces it) and the call throws at once, without waiting for
/// what was in flight: a `backend` error that says what happened (for a write: that it may have
/// committed), or `CancellationError` for a cancelled read.
struct PostgresCallDeadline: Sendable {
    /// What a call does, for the error that reports a deadline: a write's outcome is unknown once its
    /// connection is closed under it.
    enum Kind: Sendable {
        case read
        case write
    }

    let connectTimeout: Duration
    let queryTimeout: Duration

    /// Runs `body` on a connection of `client`, under both limits; `timed: false` leaves the body unbound
    /// once it has its connection (a migration).
    ///
    /// The wait for a connection is given up at the connect timeout or when the caller is cancelled, even if
    /// the pool does not give the request up itself (after a server restart PostgresNIO's pool was seen to
    /// leave a lease request waiting for ever, cancelled or not): the request then runs on in the
    /// background and hands back any connection it gets unused.
    func withConnection<T: Sendable>(
        of client: PostgresClient, _ kind: Kind, timed: Bool = true,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let lease = Call()
        let outcome = Outcome<T>()
        let work = Task {
            do {
                let value = try await client.withConnection { connection in
                    guard lease.start(on: connection) else { throw CancellationError() }
                    defer { lease.finish() }
                    guard timed else { return try await body(connection) }
                    do {
                        return try await run(lease, on: connection, kind, body)
                    } catch {
                        // A connection this call closed goes back to the pool once it is closed (or after
                        // a second): handed out while still closing, the next call's query could be sent
                        // on a dead channel and wait for its own deadline.
                        if lease.closedReason != nil { await Self.waitForClose(of: connection, upTo: .seconds(1)) }
                        throw error
                    }
                }
                outcome.resolve(.success(value))
            } catch {
                outcome.resolve(.failure(lease.hasStarted ? error : Self.poolError(error)))
            }
        }
        let timer = connectTimer(lease, work, outcome)
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await outcome.value()
        } onCancel: {
            // Running: cancelling the work closes its connection under it, at once for a read, after the
            // grace for a write (see `watch`).
            switch kind {
            case .read:
                if lease.giveUp() { outcome.resolve(.failure(CancellationError())) }
                work.cancel()
            case .write:
                guard !lease.hasStarted else { return work.cancel() }
                // A write still waiting for its connection waits the grace too: a cancelled task's last
                // write (a projection releasing its lease) goes through when a connection is free, and
                // one that gets none in time has done nothing.
                Task {
                    try? await Task.sleep(for: Self.writeCancellationGrace)
                    if lease.giveUp() { outcome.resolve(.failure(CancellationError())) }
                    work.cancel()
                }
            }
        }
    }

    /// Runs `body` in the caller's task with a connection of `client` held for it (a transaction's), under
    /// the connect timeout; each call `body` makes on the connection is bound by ``run(on:_:_:)``.
    ///
    /// The pool's lease runs in a task of its own that hands the connection over and waits until `body`
    /// ends; `body` never runs in that task, so it can be a non-escaping closure (one kept past the call,
    /// as a lease task given up at the connect timeout kept it, ends the process).
    func withHeldConnection<T>(of client: PostgresClient, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        let lease = Call()
        let handOver = Outcome<PostgresConnection>()
        let released = Outcome<Void>()
        let holder = Task {
            do {
                try await client.withConnection { connection in
                    guard lease.start(on: connection) else { throw CancellationError() }
                    defer { lease.finish() }
                    handOver.resolve(.success(connection))
                    try? await released.value()
                }
            } catch {
                handOver.resolve(.failure(Self.poolError(error)))
            }
        }
        let timer = connectTimer(lease, holder, handOver)
        let connection: PostgresConnection
        do {
            connection = try await withTaskCancellationHandler {
                try await handOver.value()
            } onCancel: {
                if lease.giveUp() {
                    holder.cancel()
                    handOver.resolve(.failure(CancellationError()))
                }
            }
            timer.cancel()
        } catch {
            timer.cancel()
            throw error
        }
        do {
            let result = try await body(connection)
            released.resolve(.success(()))
            await holder.value
            return result
        } catch {
            released.resolve(.success(()))
            await holder.value
            throw error
        }
    }

    /// Gives the wait for a connection up at the connect timeout: cancels the lease's task and fails the
    /// caller's outcome, unless the connection came first.
    private func connectTimer<T>(_ lease: Call, _ leaseTask: Task<Void, Never>, _ outcome: Outcome<T>) -> Task<Void, Never> {
        let connectTimeout = self.connectTimeout
        return Task {
            try? await Task.sleep(for: connectTimeout)
            if lease.giveUp() {
                // Resolved before the lease is cancelled, whose own failure (the pool's "request cancelled")
                // would otherwise come first.
                outcome.resolve(
                    .failure(
                        EventStoreError.backend(
                            "no connection to PostgreSQL within \(connectTimeout): the server is down, unreachable or every pooled connection is busy")))
                leaseTask.cancel()
            }
        }
    }

    /// The error of a lease that failed before its call had a connection: the pool's own errors (shut down,
    /// a connection that could not be opened) are failures of the backend.
    private static func poolError(_ error: any Error) -> any Error {
        if error is CancellationError || error is EventStoreError { return error }
        return EventStoreError.backend("no connection from the PostgreSQL pool: \(error)")
    }

    /// Runs `body` on `connection`, which the caller holds (a transaction's), under the query deadline.
    ///
    /// When the deadline passes or the caller is cancelled (for a write: and the write did not finish
    /// within ``writeCancellationGrace``), the call closes the connection and returns its error at once,
    /// without waiting for `body`: a query written to a connection that was already closed
    /// (by a server restart, before the pool noticed) can wait for ever even after the close, so `body` is
    /// left to end, or not, in a task of its own.
    @discardableResult
    func run<T: Sendable>(
        on connection: PostgresConnection, _ kind: Kind, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let call = Call()
        _ = call.start(on: connection)
        return try await run(call, on: connection, kind, body)
    }

    /// ``run(on:_:_:)`` for a call already started on `connection`.
    private func run<T: Sendable>(
        _ call: Call, on connection: PostgresConnection, _ kind: Kind,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let outcome = Outcome<T>()
        let work = Task {
            do {
                let value = try await body(connection)
                call.finish()
                outcome.resolve(.success(value))
            } catch {
                call.finish()
                // A failure caused by the close is reported as what caused the close.
                outcome.resolve(.failure(call.closedReason.map { self.error(for: $0, kind) } ?? error))
            }
        }
        let watcher = Task {
            await watch(call, kind)
            if let reason = call.closedReason { outcome.resolve(.failure(self.error(for: reason, kind))) }
        }
        defer { watcher.cancel() }
        return try await withTaskCancellationHandler {
            try await outcome.value()
        } onCancel: {
            // The watcher closes a cancelled read's connection at once, and gives a write its grace.
            watcher.cancel()
            if kind == .read { work.cancel() }
        }
    }

    /// Waits until `connection` has closed, at most `limit` (a close that never completes is not waited for).
    private static func waitForClose(of connection: PostgresConnection, upTo limit: Duration) async {
        let closed = Outcome<Void>()
        connection.closeFuture.whenComplete { _ in closed.resolve(.success(())) }
        let timer = Task {
            try? await Task.sleep(for: limit)
            closed.resolve(.success(()))
        }
        try? await closed.value()
        timer.cancel()
    }

    /// The error of a call whose connection was closed for `reason`.
    private func error(for reason: Call.Reason, _ kind: Kind) -> any Error {
        switch (reason, kind) {
        case (.cancelled, .read):
            return CancellationError()
        case (.cancelled, .write):
            return EventStoreError.backend(
                "the call was cancelled while PostgreSQL ran a write: its connection was closed, and the write may or may not have committed (outcome unknown: read before retrying)")
        case (.timedOut, .read):
            return EventStoreError.backend(
                "PostgreSQL did not answer within \(queryTimeout): the connection was closed (the pool opens a new one)")
        case (.timedOut, .write):
            return EventStoreError.backend(
                "PostgreSQL did not answer a write within \(queryTimeout): the connection was closed, and the write may or may not have committed (outcome unknown: read before retrying)")
        }
    }

    /// How long a write whose caller was cancelled may still take to finish (``WriteCancellation/grace``).
    static let writeCancellationGrace = WriteCancellation.grace

    /// Waits until the call finishes or its deadline passes, and closes its connection in the second case.
    /// A cancellation (of this task) moves the deadline: to now for a read, to the end of the grace for a
    /// write.
    private func watch(_ call: Call, _ kind: Kind) async {
        var graceEnd: ContinuousClock.Instant?
        while case let .running(connection, since) = call.phase {
            var deadline = since + queryTimeout
            if Task.isCancelled {
                switch kind {
                case .read:
                    deadline = .now
                case .write:
                    let end = graceEnd ?? .now + Self.writeCancellationGrace
                    graceEnd = end
                    deadline = min(deadline, end)
                }
            }
            if ContinuousClock.now < deadline {
                if Task.isCancelled {
                    // A cancelled task's sleep returns at once: the grace is slept in a task of its own.
                    await Task { try? await Task.sleep(until: deadline) }.value
                } else {
                    try? await Task.sleep(until: deadline)
                }
                continue
            }
            if call.close(Task.isCancelled ? .cancelled : .timedOut) {
                connection.close().whenComplete { _ in }
            }
            return
        }
    }

    /// Where one call is, shared by its body and its timer.
    final class Call: Sendable {
        enum Reason: Sendable {
            case timedOut
            case cancelled
        }

        enum Phase: Sendable {
            case waiting
            case running(PostgresConnection, since: ContinuousClock.Instant)
            case finished
            case closed(Reason)
            case abandoned
        }

        private let state = Mutex<Phase>(.waiting)

        var phase: Phase { state.withLock { $0 } }

        /// Whether the body had its connection (it may have ended since).
        var hasStarted: Bool {
            switch phase {
            case .waiting, .abandoned: false
            case .running, .finished, .closed: true
            }
        }

        var closedReason: Reason? {
            if case let .closed(reason) = phase { return reason }
            return nil
        }

        /// The body has its connection; `false` when the call was given up while it waited for it.
        func start(on connection: PostgresConnection) -> Bool {
            state.withLock { phase in
                guard case .waiting = phase else { return false }
                phase = .running(connection, since: .now)
                return true
            }
        }

        func finish() {
            state.withLock { phase in
                if case .running = phase { phase = .finished }
            }
        }

        /// Gives up waiting for a connection; `false` when one came meanwhile.
        func giveUp() -> Bool {
            state.withLock { phase in
                guard case .waiting = phase else { return false }
                phase = .abandoned
                return true
            }
        }

        /// Marks the call closed for `reason`; `false` when it finished first.
        func close(_ reason: Reason) -> Bool {
            state.withLock { phase in
                guard case .running = phase else { return false }
                phase = .closed(reason)
                return true
            }
        }
    }
}
