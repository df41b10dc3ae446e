@_spi(Backend) import EventStore
// Re-exported: the store's methods are those of its base class, `SQLEventStore`.
@_exported import EventStoreSQL
import PostgresNIO
import ServiceLifecycle

/// An event store in PostgreSQL, on PostgresNIO's connection pool.
///
/// The store works while ``run()`` runs (it runs the pool, as a swift-service-lifecycle `Service`), and
/// its schema must exist: ``migrate()`` creates or upgrades it. ``withStore(configuration:logger:telemetry:_:)`` does
/// both around a closure:
/// ```swift
/// try await PostgresEventStore.withStore(configuration: try PostgresConfiguration(url: url), logger: logger) { store in
///     try await store.append(events, to: "user-1", expectedVersion: .exact(3))
/// }
/// ```
///
/// The global order is (writing transaction's id, sequence), and `readAll(after:of:limit:)` reads only
/// what every older transaction has finished with, so a transaction that commits late is never passed over;
/// writers to different streams commit in parallel. Each append is one transaction (a savepoint inside
/// `transaction(_:)`); its events go in one statement. `close()` does nothing here: the pool runs while
/// ``run()`` does.
public final class PostgresEventStore: SQLEventStore, Service, NodeReportingStore, @unchecked Sendable {
    /// The configuration the store was made with.
    public let configuration: PostgresConfiguration
    private let postgres: PostgresDriver

    /// The tables (bare names, in the connection's schema) a store with `prefix` keeps, for tools that drop
    /// them (the benchmark).
    package static func tableNames(prefix: String) throws(EventStoreError) -> [String] {
        try PostgresTables(schema: nil, prefix: prefix).names.all.map(\.name)
    }

    /// The quoted name of the append function `migrate()` creates for `prefix` (for the benchmark, which drops it
    /// with its tables).
    package static func appendFunctionName(prefix: String) throws(EventStoreError) -> String {
        try PostgresTables(schema: nil, prefix: prefix).appendFunction
    }

    /// A store for the configured server. Nothing connects until ``run()`` runs.
    /// - Throws: `invalidArgument` for a bad schema or table prefix.
    ///   - logger: where the store and its connection pool log.
    ///   - telemetry: where it records metrics and spans (`EventStoreTelemetry`): the process's own by default.
    public init(
        configuration: PostgresConfiguration, logger: Logger = Logger(label: "eventstore"),
        telemetry: EventStoreTelemetry = EventStoreTelemetry()
    ) throws {
        let postgres = try PostgresDriver(configuration: configuration, logger: logger)
        self.configuration = configuration
        self.postgres = postgres
        super.init(driver: postgres, instruments: StoreInstruments(backend: "postgresql", logger: logger, telemetry: telemetry)) {
            store, context in
            PostgresEventStore(configuration: configuration, postgres: postgres, transactionOf: store, context: context)
        }
    }

    private init(configuration: PostgresConfiguration, postgres: PostgresDriver, transactionOf store: SQLEventStore, context: TransactionContext) {
        self.configuration = configuration
        self.postgres = postgres
        super.init(transactionOf: store, context: context)
    }

    /// Runs the connection pool, and a listener that turns other processes' `NOTIFY`s into wake-ups, until
    /// the task is cancelled.
    public func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.postgres.nodes.run() }
            group.addTask {
                await self.postgres.nodes.untilRunning()
                await self.listenForAppends()
            }
        }
        await postgres.reader?.close()
    }

    /// Follows the append channel; reconnects with back-off when the connection is lost.
    private func listenForAppends() async {
        var delay: Duration = .milliseconds(100)
        while !Task.isCancelled {
            do {
                for try await _ in notifications() {
                    appendNotifier.signal()
                    delay = .milliseconds(100)
                }
            } catch {
                postgres.logger.debug("append listener lost its connection: \(error)")
            }
            appendNotifier.signal()
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(5))
        }
    }

    /// Runs `body` with a store whose pool runs and whose schema is migrated, then stops the pool.
    public static func withStore<T: Sendable>(
        configuration: PostgresConfiguration, logger: Logger, telemetry: EventStoreTelemetry = EventStoreTelemetry(),
        _ body: @Sendable (PostgresEventStore) async throws -> T
    ) async throws -> T {
        let store = try PostgresEventStore(configuration: configuration, logger: logger, telemetry: telemetry)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await store.run() }
            defer { group.cancelAll() }
            await store.postgres.nodes.untilRunning()
            try await store.migrate()
            return try await body(store)
        }
    }

    /// Creates or upgrades the schema; safe when several processes start at once. Not bound by
    /// ``PostgresConfiguration/queryTimeout``: building an index on a large table takes as long as it takes.
    /// - Returns: the schema version.
    @discardableResult
    public func migrate() async throws -> Int {
        try await postgres.migrate()
    }

    // MARK: Nodes

    /// The server the store writes to: the one host, or the primary among several as the store last found
    /// it; `nil` while it does not know (before the first call, and from a failed call until the next
    /// finds the primary again).
    public var writeHost: PostgresConfiguration.Host? { postgres.nodes.knownPrimary }

    /// The server the store writes to (``writeHost``), and those it reads from: the standbys that serve
    /// reads by their last check when it reads from standbys (``PostgresConfiguration/readsFromStandbys``),
    /// else (or with none) the primary.
    public var nodes: StoreNodes {
        let primary = writeHost?.description
        let standbys = postgres.standbys?.usableHosts.map(\.description) ?? []
        return StoreNodes(writes: primary, reads: standbys.isEmpty ? primary.map { [$0] } ?? [] : standbys)
    }

    /// The primary among `configuration`'s hosts, found as a store finds it (for tools: the benchmark).
    package static func primary(of configuration: PostgresConfiguration, logger: Logger) async throws -> PostgresConfiguration.Host {
        let nodes = try PostgresNodes(configuration: configuration, logger: logger)
        return nodes.hosts[try await nodes.primaryIndex()]
    }

    /// Read your writes across processes, when reading from standbys: the primary's WAL position after this
    /// store's last write, as PostgreSQL writes it (`0/16B3748`); `nil` before any write or when the store
    /// reads from the primary. Hand it to another process's ``readAfter(_:)``.
    public var writeToken: String? {
        guard let floor = postgres.standbys?.floor, floor > 0 else { return nil }
        return String(floor >> 32, radix: 16, uppercase: true) + "/" + String(floor & 0xFFFF_FFFF, radix: 16, uppercase: true)
    }

    /// Makes this store's later reads on standbys wait until the standby has replayed `token` (another
    /// store's ``writeToken``), as they wait for the store's own writes; nothing when it reads from the primary.
    /// - Throws: `invalidArgument` when `token` is not a WAL position (`0/16B3748`).
    public func readAfter(_ token: String) throws(EventStoreError) {
        let parts = token.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let high = UInt64(parts[0], radix: 16), let low = UInt64(parts[1], radix: 16), high <= 0xFFFF_FFFF,
            low <= 0xFFFF_FFFF
        else {
            throw .invalidArgument("\"\(token)\" is not a WAL position such as 0/16B3748")
        }
        postgres.standbys?.raiseFloor(to: high << 32 | low)
    }

    // MARK: Connections

    /// Runs `body` on a connection of the store's pool: for read models and other tables kept in the same
    /// database. Inside a transaction's store, the transaction's connection. `body` is bound by
    /// ``PostgresConfiguration/queryTimeout`` as the store's own calls are: past it the connection is closed
    /// and the call fails with `backend`.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T)
        async throws -> T
    {
        try await read(.connection) { [postgres] in try await postgres.read($0, body) }
    }

    // MARK: Global order

    /// Wake-ups after appends commit: the last global position of each append, as other connections
    /// (and processes) commit them, through `LISTEN`/`NOTIFY`. Ends when the task is cancelled or the
    /// connection fails; a consumer should treat a wake-up as "read from where you are", since
    /// notifications can be coalesced or lost with a connection. The first element, `GlobalPosition.start`,
    /// says that the listener is in place: appends committed after it are signalled.
    public func notifications() -> AsyncThrowingStream<GlobalPosition, any Error> {
        let channel = postgres.operations.tables.channel
        let postgres = self.postgres
        let deadline = postgres.deadline
        let logger = postgres.logger
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    try await postgres.onPrimary { try await deadline.withConnection(of: $0, .read, timed: false) { connection in
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            group.addTask {
                                try await connection.listen(on: channel) { notifications in
                                    continuation.yield(GlobalPosition.start)
                                    for try await notification in notifications {
                                        if let position = GlobalPosition(notification.payload) {
                                            continuation.yield(position)
                                        }
                                    }
                                }
                            }
                            group.addTask {
                                // A connection that only listens hears nothing when its server stops answering:
                                // ask it something now and then, under the query deadline. When that fails (or
                                // the listener is cancelled) the connection is closed, which ends the listen.
                                do {
                                    while true {
                                        try await Task.sleep(for: Self.listenerCheckInterval)
                                        try await deadline.run(on: connection, .read) { try await $0.query("SELECT 1", logger: logger) }
                                    }
                                } catch {
                                    // Ends the sequence now: the listen itself may never return on a
                                    // connection that closed under it.
                                    continuation.finish(throwing: error)
                                    connection.close().whenComplete { _ in }
                                    throw error
                                }
                            }
                            try await group.next()
                            group.cancelAll()
                        }
                    } }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// How often the listening connection is asked whether its server still answers: 5 seconds.
    static let listenerCheckInterval: Duration = .seconds(5)
}

/// A PostgreSQL or driver error, with the SQLSTATE and the server's message when there are.
public struct PostgresFailure: Error, Sendable, CustomStringConvertible {
    /// The error's SQLSTATE (`40001`, `23505`), `nil` for an error that is not the server's.
    public let sqlState: String?
    /// The server's message; for an error without one, the driver's error code or the error's description.
    public let message: String
    init(_ error: any Error) {
        if let error = error as? PSQLError {
            sqlState = error.sqlState
            message = error.serverInfo?[.message] ?? "\(error.code)"
        } else {
            sqlState = nil
            message = String(describing: error)
        }
    }

    /// `SQLSTATE: message`, or the message alone when there is no SQLSTATE.
    public var description: String { sqlState.map { "\($0): \(message)" } ?? message }

    /// Errors of the server, the driver or the network, as opposed to those of the caller's own code.
    static func isDriverError(_ error: any Error) -> Bool {
        error is PSQLError || error is PostgresDecodingError || error is ChannelError || error is IOError
            || error is PostgresError
    }
}
