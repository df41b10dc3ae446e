import EventStore
import EventStoreSQL
import Logging
import PostgresNIO
import Synchronization

/// Reads from the standbys of a cluster (``PostgresConfiguration/readsFromStandbys``): which standby serves
/// the next read, how far each one is behind, and the two WAL positions that keep standby reads honest.
///
/// - **Which standby.** Every host but the primary is a candidate, taken in turn. Each one's status (in
///   recovery, streaming from a primary, its replay position and its lag in seconds) is asked at most once a
///   second, in the background once known; a standby not in recovery, not streaming, further behind than
///   ``PostgresConfiguration/maxStandbyLag``, failing or not answering is passed over until its next check.
///   With none left the read goes to the primary.
/// - **Read your writes.** After each write the store notes the primary's WAL insert position (``floor``); a
///   read on a standby first waits until the standby has replayed it, up to the maximum lag (then it reads
///   from the primary).
/// - **Only what a failover keeps.** A commit is acknowledged once a synchronous standby has flushed it, but
///   an asynchronous standby may replay it before, and a failover to the synchronous standby then loses it. A
///   page of the global order read on a standby is handed over only once its replay position is at most what
///   every synchronous standby has flushed, as the primary reports (`pg_stat_replication`); otherwise a
///   reader could deliver an event that a failover takes back, and its position could run past transaction
///   ids the new primary hands out again (docs/decisions.md).
final class PostgresStandbys: Sendable {
    private let nodes: PostgresNodes
    private let configuration: PostgresConfiguration
    private let deadline: PostgresCallDeadline
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var statuses: [Int: Status] = [:]
        /// Hosts whose status check runs now.
        var checking: Set<Int> = []
        var turn = 0
        /// The store's own last write, as a WAL position.
        var floor: UInt64 = 0
        /// Writes whose position could not be noted, and how many of them a later ask of the primary covers.
        var unnoted: UInt64 = 0
        var unnotedCovered: UInt64 = 0
        /// What every synchronous standby had flushed when the primary was last asked.
        var durable: UInt64 = 0
    }

    /// What a standby said when it was last asked.
    struct Status: Sendable {
        var usable: Bool
        var replayed: UInt64
        var checkedAt: ContinuousClock.Instant
        var reason: String
    }

    /// How often a standby's status is asked while it serves reads.
    static let checkInterval: Duration = .seconds(1)

    init(nodes: PostgresNodes, configuration: PostgresConfiguration, deadline: PostgresCallDeadline, logger: Logger) {
        self.nodes = nodes
        self.configuration = configuration
        self.deadline = deadline
        self.logger = logger
    }

    /// The store's last write, as a WAL position (0 before any).
    var floor: UInt64 { state.withLock { $0.floor } }

    /// Raises the read-your-writes floor to `position` (a write's, or a token another process passed on).
    func raiseFloor(to position: UInt64) {
        state.withLock { $0.floor = max($0.floor, position) }
    }

    /// A write whose position could not be noted after it committed (its task was cancelled, its connection
    /// failed): the next standby read asks the primary for its position first, and raises the floor to it.
    func writeNotNoted() {
        state.withLock { $0.unnoted &+= 1 }
    }

    /// Raises the floor to the primary's WAL insert position when a write could not note its own.
    /// - Returns: `false` when the primary could not be asked (the read then goes to the primary).
    private func coverUnnotedWrites(primary: Int) async -> Bool {
        let unnoted = state.withLock { $0.unnoted }
        guard unnoted != state.withLock({ $0.unnotedCovered }) else { return true }
        let logger = self.logger
        let position = try? await deadline.withConnection(of: nodes.client(primary), .read) { connection in
            for try await position in try await connection.query(Self.insertPosition, logger: logger).decode(Int64.self) {
                return UInt64(max(0, position))
            }
            return nil as UInt64?
        }
        guard let position else { return false }
        state.withLock { state in
            state.floor = max(state.floor, position)
            state.unnotedCovered = max(state.unnotedCovered, unnoted)
        }
        return true
    }

    /// The primary's WAL insert position, in bytes: what a read of this store's writes waits for.
    static let insertPosition: PostgresQuery = "SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::int8"

    /// The standbys that would serve reads now, by their last check when it is recent (reads make checks).
    var usableHosts: [PostgresConfiguration.Host] {
        let statuses = state.withLock { $0.statuses }
        let now = ContinuousClock.now
        return nodes.hosts.indices.filter { index in
            guard let status = statuses[index], index != nodes.knownPrimaryIndex else { return false }
            return status.usable && now - status.checkedAt < Self.checkInterval * 3
        }.map { nodes.hosts[$0] }
    }

    /// The standby the next read goes to (its index among the hosts), or `nil` for the primary. Waits, up to
    /// the maximum lag, for the standby to replay the store's own last write.
    func standbyForRead() async -> Int? {
        guard let primary = try? await nodes.primaryIndex() else { return nil }
        let candidates = nodes.hosts.indices.filter { $0 != primary }
        guard !candidates.isEmpty, await coverUnnotedWrites(primary: primary) else { return nil }
        let first = state.withLock { state in
            state.turn &+= 1
            return state.turn
        }
        let floor = self.floor
        for offset in candidates.indices {
            let index = candidates[(first + offset) % candidates.count]
            guard let status = await status(of: index), status.usable else { continue }
            if status.replayed >= floor { return index }
            if await waitForReplay(on: index, of: floor) { return index }
        }
        return nil
    }

    /// A standby's status: the cached one while fresh (a check older than the interval starts a new one in
    /// the background), else a new check. `nil` when it has none and its check fails.
    private func status(of index: Int) async -> Status? {
        let now = ContinuousClock.now
        let (cached, startCheck) = state.withLock { state -> (Status?, Bool) in
            let cached = state.statuses[index]
            let due = cached.map { now - $0.checkedAt >= Self.checkInterval } ?? true
            let start = due && !state.checking.contains(index)
            if start { state.checking.insert(index) }
            return (cached, start)
        }
        if let cached, now - cached.checkedAt < Self.checkInterval * 3 {
            if startCheck { Task { await self.check(index) } }
            return cached
        }
        if startCheck { await check(index) }
        return state.withLock { $0.statuses[index] }.flatMap { ContinuousClock.now - $0.checkedAt < Self.checkInterval * 3 ? $0 : nil }
    }

    /// How far a standby has replayed WAL, in bytes (0 on a primary).
    static let replayedBytes = "coalesce((pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::int8, 0)"

    /// Checks a standby (``ask(_:)``) and keeps its status, logging a change.
    private func check(_ index: Int) async {
        defer { state.withLock { _ = $0.checking.remove(index) } }
        var status: Status
        // A pooled session the server ended meanwhile (a recovery conflict between two statements, an
        // administrator) says nothing of the standby: it is asked again. Every pooled session may have been
        // ended at once, and the pool hands them out one by one: asked at most once per pooled session, and
        // once more on a new one.
        var sessionsEnded = 0
        while true {
            do {
                status = try await ask(index)
                break
            } catch where Self.closedByTheServer(error) && sessionsEnded < configuration.poolSize {
                sessionsEnded += 1
            } catch {
                status = Status(usable: false, replayed: 0, checkedAt: .now, reason: "\(error)")
                break
            }
        }
        let was = state.withLock { state in
            defer { state.statuses[index] = status }
            return state.statuses[index]
        }
        if was?.usable != status.usable {
            if status.usable {
                logger.info("[EventStore] the standby \(nodes.hosts[index]) serves reads")
            } else {
                logger.notice("[EventStore] the standby \(nodes.hosts[index]) is passed over for reads: \(status.reason)")
            }
        }
    }

    /// A session the server ended under a call: its connection closed, a recovery conflict (40001), or an
    /// administrator's `pg_terminate_backend` (57P01, which a server shutting down sends too: asked again,
    /// such a standby then refuses the new connection).
    static func closedByTheServer(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError else { return false }
        return error.code == .serverClosedConnection || error.sqlState == "40001" || error.sqlState == "57P01"
    }

    /// Asks a standby whether it is in recovery and streaming, how far it has replayed, and how far behind it is.
    private func ask(_ index: Int) async throws -> Status {
        let logger = self.logger
        let maxLag = configuration.maxStandbyLag
        return try await deadline.withConnection(of: nodes.client(index), .read) { connection in
            let query: PostgresQuery = """
                SELECT pg_is_in_recovery(), \(unescaped: Self.replayedBytes),
                    coalesce((SELECT coalesce(status, 'streaming') = 'streaming' FROM pg_stat_wal_receiver), false),
                    CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                        ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8, 0) END
                """
            for try await (inRecovery, replayed, streaming, lag) in try await connection.query(query, logger: logger)
                .decode((Bool, Int64, Bool, Double).self)
            {
                let reason =
                    !inRecovery ? "not in recovery" : !streaming ? "not streaming from a primary"
                    : lag > maxLag.seconds ? "\(lag) s behind" : ""
                return Status(usable: reason.isEmpty, replayed: UInt64(max(0, replayed)), checkedAt: .now, reason: reason)
            }
            throw EventStoreError.backend("the standby's status query returned no row")
        }
    }

    /// Waits until the standby has replayed `position`, at most the maximum lag; `false` when it has not.
    private func waitForReplay(on index: Int, of position: UInt64) async -> Bool {
        let clock = ContinuousClock()
        let end = clock.now + configuration.maxStandbyLag
        let logger = self.logger
        while clock.now < end {
            let replayed = try? await deadline.withConnection(of: nodes.client(index), .read) { connection in
                for try await replayed in try await connection.query("SELECT \(unescaped: Self.replayedBytes)", logger: logger)
                    .decode(Int64.self)
                {
                    return UInt64(max(0, replayed))
                }
                return 0
            }
            guard let replayed else { return false }
            if replayed >= position { return true }
            guard (try? await Task.sleep(for: .milliseconds(2))) != nil else { return false }
        }
        return false
    }

    /// A standby read failed: the standby is passed over until its next check.
    func readFailed(on index: Int, _ error: any Error) {
        let reason = "\(error)"
        state.withLock { $0.statuses[index] = Status(usable: false, replayed: 0, checkedAt: .now, reason: reason) }
        logger.notice("[EventStore] a read on the standby \(nodes.hosts[index]) failed; reads go elsewhere until it answers again: \(reason)")
    }

    /// Returns once `replayed` (a standby's replay position when it read a page of the global order) is
    /// flushed on every synchronous standby, as the primary reports; asks the primary again every 2 ms.
    /// - Throws: `backend` when the primary does not confirm it within the query timeout, or cannot be asked.
    func waitUntilDurable(_ replayed: UInt64) async throws {
        if state.withLock({ $0.durable }) >= replayed { return }
        let clock = ContinuousClock()
        let end = clock.now + configuration.queryTimeout
        let logger = self.logger
        let deadline = self.deadline
        while true {
            let durable = try await nodes.onPrimaryClient { client in
                try await deadline.withConnection(of: client, .read) { connection in
                    // What every synchronous standby has flushed; the primary's own flush position when it has none.
                    let query: PostgresQuery = """
                        SELECT (coalesce((SELECT min(flush_lsn) FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum')),
                            pg_current_wal_flush_lsn()) - '0/0'::pg_lsn)::int8
                        """
                    for try await durable in try await connection.query(query, logger: logger).decode(Int64.self) {
                        return UInt64(max(0, durable))
                    }
                    return 0
                }
            }
            let known = state.withLock { state in
                state.durable = max(state.durable, durable)
                return state.durable
            }
            if known >= replayed { return }
            guard clock.now < end else {
                throw EventStoreError.backend(
                    "a standby replayed WAL that no synchronous standby had flushed within \(configuration.queryTimeout): its page of the global order is not handed over")
            }
            try await Task.sleep(for: .milliseconds(2))
        }
    }
}
