import Logging
import Synchronization

/// A transaction that holds back readers of the global order: on PostgreSQL, the oldest transaction of the
/// cluster that has a transaction id and is still open (events committed after it started are not read
/// until it ends, so that none is ever passed over).
public struct GlobalOrderBlocker: Sendable, Hashable, CustomStringConvertible {
    /// Where the blocking transaction lives: in a session, or prepared for two-phase commit.
    public enum Kind: String, Sendable, Hashable {
        /// A session's open transaction (`pg_stat_activity`).
        case session
        /// A prepared (two-phase) transaction (`pg_prepared_xacts`): it outlives its session and restarts.
        case prepared
    }

    /// Whether it is a session's transaction or a prepared one.
    public var kind: Kind
    /// Its transaction id (32 bits, as `pg_stat_activity.backend_xid` shows it).
    public var transactionID: Int64
    /// How long it has been open; `nil` when the store's role may not see it (grant `pg_read_all_stats`).
    public var age: Duration?
    /// The database it runs in.
    public var database: String?
    /// The session's process id (`pg_terminate_backend` ends it).
    public var processID: Int?
    /// The session's state, `idle in transaction` for a session that forgot its transaction.
    public var state: String?
    /// The session's `application_name`.
    public var applicationName: String?
    /// The prepared transaction's name (`COMMIT PREPARED` or `ROLLBACK PREPARED` ends it).
    public var preparedName: String?

    /// A blocking transaction, as the backend found it.
    /// - Parameters:
    ///   - kind: a session's transaction or a prepared one.
    ///   - transactionID: its transaction id.
    ///   - age: how long it has been open; `nil` (the default) when it cannot be seen.
    ///   - database: the database it runs in, if known.
    ///   - processID: the session's process id, for a session's transaction.
    ///   - state: the session's state, for a session's transaction.
    ///   - applicationName: the session's `application_name`, for a session's transaction.
    ///   - preparedName: the prepared transaction's name, for a prepared one.
    public init(
        kind: Kind, transactionID: Int64, age: Duration? = nil, database: String? = nil, processID: Int? = nil,
        state: String? = nil, applicationName: String? = nil, preparedName: String? = nil
    ) {
        self.kind = kind
        self.transactionID = transactionID
        self.age = age
        self.database = database
        self.processID = processID
        self.state = state
        self.applicationName = applicationName
        self.preparedName = preparedName
    }

    /// One line for a log or a person, parts joined by `, `: `transaction <id> of session <pid>`, its state and
    /// application, or `prepared transaction "<name>" (<id>)`; then its database and how long it has been
    /// open (in seconds, to a tenth; `age not visible to this role` without ``age``).
    public var description: String {
        var parts: [String] = []
        switch kind {
        case .session:
            parts.append("transaction \(transactionID) of session \(processID.map(String.init) ?? "?")")
            if let state { parts.append(state) }
            if let applicationName, !applicationName.isEmpty { parts.append("application \(applicationName)") }
        case .prepared:
            parts.append("prepared transaction \(preparedName.map { "\"\($0)\"" } ?? "?") (\(transactionID))")
        }
        if let database { parts.append("database \(database)") }
        parts.append(age.map { "open for \(GlobalOrderStall.seconds($0)) s" } ?? "age not visible to this role")
        return parts.joined(separator: ", ")
    }
}

/// Readers of the global order held back: events are committed that no reader may see yet.
public struct GlobalOrderStall: Sendable, CustomStringConvertible {
    /// How long the events committed first behind the stall have waited, as far as the watch has seen.
    public var age: Duration
    /// The last committed event.
    public var head: GlobalPosition
    /// Below it, readers see every event.
    public var readableHead: GlobalPosition
    /// What holds them back, where the backend can tell.
    public var blockers: [GlobalOrderBlocker]

    /// `readers of the global order have waited <age> s for <cause>`: the blockers' descriptions joined by
    /// `; `, or `an open transaction` when there are none.
    public var description: String {
        let cause = blockers.isEmpty ? "an open transaction" : blockers.map(\.description).joined(separator: "; ")
        return "readers of the global order have waited \(Self.seconds(age)) s for \(cause)"
    }

    /// Seconds to a tenth, for log lines.
    static func seconds(_ duration: Duration) -> String { String((duration.seconds * 10).rounded() / 10) }
}

/// Watches whether readers of the global order (subscriptions, projections, `readAll`) are held back, and
/// says so: ``check()`` reports the stall, and a stall older than `threshold` is logged as a warning (with
/// what holds it, where the backend can tell), again every `repeatInterval` while it lasts, and once more when
/// it ends.
///
/// On PostgreSQL a reader never passes over a transaction that is still open, anywhere in the cluster: an
/// `idle in transaction` session or a prepared transaction delays every reader until it ends. Other
/// backends make events readable in order as they commit and never stall.
public final class GlobalOrderWatch: Sendable {
    private struct State {
        /// When the watch first saw events committed that readers could not see, and the head then.
        var since: ContinuousClock.Instant?
        var waitingFor: GlobalPosition?
        var warned: ContinuousClock.Instant?
        var last: GlobalOrderStall?
    }

    /// The store whose heads the watch reads.
    public let store: any GlobalOrderEventStore
    /// How old a stall is before it is a warning, and before `/health/ready` reports it: 10 s by default.
    public let threshold: Duration
    /// How often a warning is repeated while the stall lasts: 60 s by default.
    public let repeatInterval: Duration
    private let logger: Logger
    private let state = Mutex(State())

    /// A watch of `store`'s global order; it checks nothing until ``check()`` or ``run(every:)`` is called.
    /// - Parameters:
    ///   - store: the store to watch.
    ///   - threshold: how old a stall is before it is a warning; 10 s by default.
    ///   - repeatInterval: how often a warning is repeated while the stall lasts; 60 s by default.
    ///   - logger: where the warnings go; `eventstore.global-order` by default.
    public init(
        store: any GlobalOrderEventStore, threshold: Duration = .seconds(10), repeatInterval: Duration = .seconds(60),
        logger: Logger = Logger(label: "eventstore.global-order")
    ) {
        self.store = store
        self.threshold = threshold
        self.repeatInterval = repeatInterval
        self.logger = logger
    }

    /// The stall the last check found, `nil` when there was none.
    public var lastStall: GlobalOrderStall? { state.withLock { $0.last } }

    /// Reads the store's heads once: the stall, when committed events are not readable yet.
    ///
    /// A stall's age counts from the first check that saw it, so checks must come often (``run(every:)``)
    /// for the age to be close. The blocking transactions' own ages come from the database.
    @discardableResult
    public func check() async throws -> GlobalOrderStall? {
        // The head first: a transaction that commits between the two reads then moves the readable head
        // on, where the other order would see its events as waiting.
        let head = try await store.headPosition()
        let readable = try await store.readableHead()
        let now = ContinuousClock.now
        // `readableHead` is a position below which every event is readable: the head beyond it is not.
        guard head > readable else {
            let ended = state.withLock { state in
                defer { state = State() }
                return state.warned != nil ? state.since.map { now - $0 } : nil
            }
            if let ended {
                logger.info("readers of the global order go on after waiting \(GlobalOrderStall.seconds(ended)) s")
            }
            return nil
        }
        let since = state.withLock { state -> ContinuousClock.Instant in
            // The events the watch waited for are readable now, but later ones are not: a new wait.
            if let waitingFor = state.waitingFor, readable > waitingFor { state = State() }
            if state.since == nil {
                state.since = now
                state.waitingFor = head
            }
            return state.since ?? now
        }
        let age = now - since
        let blockers = age >= threshold ? try await store.globalOrderBlockers() : []
        let stall = GlobalOrderStall(age: age, head: head, readableHead: readable, blockers: blockers)
        let warn = state.withLock { state -> Bool in
            state.last = stall
            guard age >= threshold, state.warned.map({ now - $0 >= repeatInterval }) ?? true else { return false }
            state.warned = now
            return true
        }
        if warn {
            logger.warning(
                "\(stall): end it, or bound such transactions with idle_in_transaction_session_timeout (and max_prepared_transactions = 0 where two-phase commit is not used)",
                metadata: ["stall_seconds": "\(GlobalOrderStall.seconds(age))", "head": "\(head)", "readable_head": "\(readable)"])
        }
        return stall
    }

    /// Checks every `interval` until the task is cancelled; a failed check (the database does not answer) is
    /// logged at debug level and the next one tried.
    public func run(every interval: Duration = .seconds(2)) async {
        while !Task.isCancelled {
            do {
                try await check()
            } catch {
                logger.debug("the global-order watch could not check: \(error)")
            }
            try? await Task.sleep(for: interval)
        }
    }
}
