import EventStore
import EventStoreSQL
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import Synchronization

/// The servers of a ``PostgresEventStore``: one, or the nodes of a high-availability cluster, of which the
/// store writes to the primary.
///
/// Each host has a PostgresNIO pool of its own (opening no connection until used). With one host every call
/// goes to it, as it always did. With several, the primary is found when a call first needs it, by asking
/// each host at once on a connection of its own whether it is in recovery (`pg_is_in_recovery()`), or by
/// asking Patroni's REST API for the leader when ``PostgresConfiguration/patroniEndpoints`` are given. A call
/// that fails with a driver or deadline error forgets the primary, so the next call looks again: after a
/// failover (the old primary's connections fail, or a demoted node refuses writes as a standby) the new
/// primary is found by the first call after Patroni promotes it. Lookups run one at a time; calls that
/// arrive meanwhile wait for the running lookup. This is all the failover logic the store has: choosing
/// and promoting a primary is Patroni's.
final class PostgresNodes: Sendable {
    let hosts: [PostgresConfiguration.Host]
    private let clients: [PostgresClient]
    private let configuration: PostgresConfiguration
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        /// The index of the host believed to be the primary.
        var primary: Int?
        /// The lookup running now, which later callers wait for.
        var lookup: Task<Int, any Error>?
    }

    init(configuration: PostgresConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        hosts = configuration.hosts
        let poolLogger = Logger(label: logger.label) { _ in PoolLogHandler(base: logger.handler) }
        clients = try configuration.hosts.map {
            PostgresClient(configuration: try configuration.clientConfiguration(for: $0), backgroundLogger: poolLogger)
        }
    }

    /// The pool of host `index`. A call before ``run()`` started the pools waits in PostgresNIO until it
    /// does (or its deadline passes): that is logged once, as a warning.
    func client(_ index: Int) -> PostgresClient {
        let warn = starts.withLock { starts in
            defer { starts.warned = true }
            return starts.count < clients.count && !starts.warned
        }
        if warn {
            logger.warning("[EventStore] a call to PostgreSQL came before the store's run(): it waits until run() runs, or fails at its deadline")
        }
        return clients[index]
    }

    /// How many pools have started to run, and who waits for all of them (``untilRunning()``).
    private let starts = Mutex<(count: Int, waiters: [CheckedContinuation<Void, Never>], warned: Bool)>((0, [], false))

    /// Runs every host's pool until the task is cancelled.
    func run() async {
        await withDiscardingTaskGroup { group in
            for client in clients {
                group.addTask {
                    self.poolStarts()
                    // Nothing suspends before the pool's `run()` marks it running.
                    await client.run()
                }
            }
        }
    }

    private func poolStarts() {
        let waiters = starts.withLock { starts in
            starts.count += 1
            guard starts.count == clients.count else { return [CheckedContinuation<Void, Never>]() }
            defer { starts.waiters = [] }
            return starts.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once ``run()`` has started every pool (each pool's own `run()` is then called at once, without
    /// suspending).
    func untilRunning() async {
        await withCheckedContinuation { waiter in
            let started = starts.withLock { starts in
                if starts.count == clients.count { return true }
                starts.waiters.append(waiter)
                return false
            }
            if started { waiter.resume() }
        }
    }

    /// The primary's pool: found first when it is not known.
    /// - Throws: `backend` when no host is a primary now (a failover under way), saying what each host answered.
    func primary() async throws -> PostgresClient {
        try await client(primaryIndex())
    }

    /// The host believed to be the primary, when one is known.
    var knownPrimary: PostgresConfiguration.Host? {
        state.withLock { $0.primary }.map { hosts[$0] } ?? (hosts.count == 1 ? hosts[0] : nil)
    }

    /// The index of the host believed to be the primary, when one is known.
    var knownPrimaryIndex: Int? { hosts.count == 1 ? 0 : state.withLock { $0.primary } }

    /// Runs `body` with the primary's pool; a `backend` failure (or a driver error) makes the next call look
    /// for the primary again.
    func onPrimaryClient<T>(_ body: (PostgresClient) async throws -> T) async throws -> T {
        let client = try await primary()
        do {
            return try await body(client)
        } catch where (error as? EventStoreError)?.code == .backend || PostgresFailure.isDriverError(error) {
            callFailed(on: client, error)
            throw error
        }
    }

    private enum Known {
        case primary(Int)
        case lookup(Task<Int, any Error>)
    }

    func primaryIndex() async throws -> Int {
        guard hosts.count > 1 else { return 0 }
        let known: Known = state.withLock { state in
            if let primary = state.primary { return .primary(primary) }
            if let running = state.lookup { return .lookup(running) }
            let task = Task { [self] in
                defer { self.state.withLock { $0.lookup = nil } }
                let index = try await findPrimary()
                self.state.withLock { $0.primary = index }
                return index
            }
            state.lookup = task
            return .lookup(task)
        }
        switch known {
        case .primary(let primary): return primary
        case .lookup(let lookup): return try await lookup.value
        }
    }

    /// A call to `client` failed in a way that may mean it is no longer the primary: the next call looks again.
    func callFailed(on client: PostgresClient, _ error: any Error) {
        guard hosts.count > 1 else { return }
        state.withLock { state in
            guard let primary = state.primary, clients[primary] === client else { return }
            state.primary = nil
            logger.notice("[EventStore] a call to the PostgreSQL primary \(hosts[primary]) failed, the next call looks for the primary again: \(PostgresFailure.isDriverError(error) ? "\(PostgresFailure(error))" : "\(error)")")
        }
    }

    // MARK: Finding the primary

    private func findPrimary() async throws -> Int {
        if !configuration.patroniEndpoints.isEmpty { return try await askPatroni() }
        return try await askHosts()
    }

    /// Asks every host at once whether it is in recovery; the first that is not is the primary. Each host
    /// has the connect and query timeouts to answer, and the lookup does not wait for a host that is late
    /// once another has answered (a node that accepts connections but never completes a startup).
    private func askHosts() async throws -> Int {
        let limit = configuration.connectTimeout + configuration.queryTimeout
        let found = Outcome<Int>()
        let answers = Answers()
        let questions = hosts.indices.map { index in
            Task { [self] in
                let answer: Result<Bool, any Error>
                do {
                    answer = .success(try await Self.unlessLate(limit, "\(hosts[index])") { try await self.isInRecovery(self.hosts[index]) })
                } catch {
                    answer = .failure(error)
                }
                if case .success(false) = answer {
                    logger.info("[EventStore] the PostgreSQL primary is \(hosts[index])")
                    return found.resolve(.success(index))
                }
                if let all = answers.add(answer, of: index, expecting: hosts.count) { found.resolve(.failure(noPrimary(all))) }
            }
        }
        defer { for question in questions { question.cancel() } }
        return try await withTaskCancellationHandler {
            try await found.value()
        } onCancel: {
            found.resolve(.failure(CancellationError()))
        }
    }

    /// The hosts' answers so far.
    private final class Answers: Sendable {
        private let state = Mutex<[Int: Result<Bool, any Error>]>([:])

        /// Adds the answer of host `index`; all of them once there are `count`.
        func add(_ answer: Result<Bool, any Error>, of index: Int, expecting count: Int) -> [Int: Result<Bool, any Error>]? {
            state.withLock { answers in
                answers[index] = answer
                return answers.count == count ? answers : nil
            }
        }
    }

    private func noPrimary(_ answers: [Int: Result<Bool, any Error>]) -> EventStoreError {
        let said = hosts.indices.map { index in
            switch answers[index] {
            case .success: "\(hosts[index]) is a standby"
            case .failure(let error): "\(hosts[index]): \(Self.describe(error))"
            case nil: "\(hosts[index]): no answer"
            }
        }
        return .backend("no PostgreSQL host is a primary now (\(said.joined(separator: "; "))): a failover may be under way")
    }

    /// `body`'s result, or a `backend` error once `limit` has passed (`body` is then cancelled and left to end
    /// in the background).
    private static func unlessLate<T: Sendable>(
        _ limit: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let outcome = Outcome<T>()
        let work = Task {
            do { outcome.resolve(.success(try await body())) } catch { outcome.resolve(.failure(error)) }
        }
        let timer = Task {
            try await Task.sleep(for: limit)
            outcome.resolve(.failure(EventStoreError.backend("\(what) did not answer within \(limit)")))
            work.cancel()
        }
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await outcome.value()
        } onCancel: {
            outcome.resolve(.failure(CancellationError()))
            work.cancel()
        }
    }

    /// `pg_is_in_recovery()` on a connection of its own, under the connect and query timeouts.
    private func isInRecovery(_ host: PostgresConfiguration.Host) async throws -> Bool {
        var connection = PostgresConnection.Configuration(
            host: host.host, port: host.port, username: configuration.username, password: configuration.password,
            database: configuration.database, tls: try tls())
        connection.options.connectTimeout = .nanoseconds(configuration.connectTimeout.nanoseconds)
        let opened = try await PostgresConnection.connect(configuration: connection, id: 0, logger: logger)
        let deadline = PostgresCallDeadline(connectTimeout: configuration.connectTimeout, queryTimeout: configuration.queryTimeout)
        let logger = self.logger
        // Closed before it is released, whatever the query did (PostgresNIO requires it).
        do {
            let inRecovery = try await deadline.run(on: opened, .read) { connection in
                for try await inRecovery in try await connection.query("SELECT pg_is_in_recovery()", logger: logger).decode(Bool.self) {
                    return inRecovery
                }
                throw EventStoreError.backend("pg_is_in_recovery() returned no row")
            }
            try? await opened.close()
            return inRecovery
        } catch {
            try? await opened.close()
            throw error
        }
    }

    private func tls() throws -> PostgresConnection.Configuration.TLS {
        switch configuration.clientTLS {
        case nil: .disable
        case let (tls, required)?: required ? .require(try NIOSSLContext(configuration: tls)) : .prefer(try NIOSSLContext(configuration: tls))
        }
    }

    /// Asks the Patroni endpoints, in order, for the cluster's leader (`GET /cluster`), and finds it among the
    /// hosts by its address and port.
    private func askPatroni() async throws -> Int {
        var said: [String] = []
        for endpoint in configuration.patroniEndpoints {
            do {
                let body = try await Self.unlessLate(configuration.connectTimeout, "\(endpoint)") {
                    try await endpoint.get("/cluster", timeout: self.configuration.connectTimeout)
                }
                guard let leader = try PatroniCluster.runningLeader(in: body) else {
                    said.append("\(endpoint) names no running leader")
                    continue
                }
                guard let index = hosts.firstIndex(where: { $0.host == leader.host && $0.port == leader.port }) else {
                    throw EventStoreError.invalidArgument(
                        "Patroni's leader \(leader.name) (\(leader.host):\(leader.port)) is none of the URL's hosts (\(hosts.map(\.description).joined(separator: ", ")))")
                }
                logger.info("[EventStore] the PostgreSQL primary is \(hosts[index]) (Patroni's leader \(leader.name))")
                return index
            } catch let error as EventStoreError where error.code == .invalidArgument {
                throw error
            } catch {
                said.append("\(endpoint): \(Self.describe(error))")
            }
        }
        throw EventStoreError.backend("Patroni names no primary now (\(said.joined(separator: "; "))): a failover may be under way")
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? EventStoreError { return error.reason }
        if PostgresFailure.isDriverError(error) { return PostgresFailure(error).description }
        return String(describing: error)
    }
}

/// A Patroni REST API endpoint, `http://host:port`.
public struct PatroniEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// The host name or address of the Patroni REST API.
    public let host: String
    /// The port of the Patroni REST API (`8008` in ``PostgresConfiguration/patroniEndpoints``'s example).
    public let port: Int

    /// Reads an endpoint from its URL, `http://host:port` (a trailing `/` allowed).
    /// - Parameter text: the URL: `http`, a host and a port, and no user, path or query.
    /// - Throws: `invalidArgument` when `text` is not `http://host:port`.
    public init(_ text: String) throws(EventStoreError) {
        guard let url = URLComponents(string: text), url.scheme?.lowercased() == "http", let host = url.host, !host.isEmpty,
            let port = url.port, url.path.isEmpty || url.path == "/", url.query == nil, url.user == nil
        else {
            throw .invalidArgument("a Patroni endpoint is http://host:port, not \"\(text)\"")
        }
        (self.host, self.port) = (host, port)
    }

    /// The endpoint as its URL, `http://host:port`.
    public var description: String { "http://\(host):\(port)" }

    /// The body of `GET path` when the endpoint answers 200, within `timeout`.
    func get(_ path: String, timeout: Duration) async throws -> [UInt8] {
        let response = try await HTTPGet.fetch(host: host, port: port, path: path, timeout: timeout)
        guard response.status == 200 else { throw EventStoreError.backend("\(self)\(path) answered \(response.status)") }
        return response.body
    }
}

/// What the store reads of Patroni's `GET /cluster`.
enum PatroniCluster {
    struct Leader: Equatable {
        let name: String
        let host: String
        let port: Int
    }

    /// The member whose role is leader (or standby_leader is not: a standby cluster's leader takes no writes)
    /// and whose state is running, when there is one.
    static func runningLeader(in body: [UInt8]) throws -> Leader? {
        guard let cluster = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
            let members = cluster["members"] as? [[String: Any]]
        else { throw EventStoreError.backend("Patroni's /cluster is not the JSON it documents") }
        for member in members where member["role"] as? String == "leader" && member["state"] as? String == "running" {
            guard let name = member["name"] as? String, let host = member["host"] as? String, let port = member["port"] as? Int else {
                continue
            }
            return Leader(name: name, host: host, port: port)
        }
        return nil
    }
}

/// One HTTP/1.0 `GET` on a connection of its own, read to its end: all the store asks of Patroni.
enum HTTPGet {
    struct Response {
        let status: Int
        let body: [UInt8]
    }

    static func fetch(host: String, port: Int, path: String, timeout: Duration) async throws -> Response {
        let received = Received()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.nanoseconds(timeout.nanoseconds))
            .channelInitializer { channel in channel.pipeline.addHandler(Collector(received)) }
            .connect(host: host, port: port).get()
        let closer = channel.eventLoop.scheduleTask(in: .nanoseconds(timeout.nanoseconds)) { channel.close(promise: nil) }
        defer { closer.cancel() }
        let request = "GET \(path) HTTP/1.0\r\nHost: \(host):\(port)\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
        try await withTaskCancellationHandler {
            try await channel.writeAndFlush(ByteBuffer(string: request)).get()
            try await channel.closeFuture.get()
        } onCancel: {
            channel.close(promise: nil)
        }
        try Task.checkCancellation()
        let bytes = received.bytes
        guard let headerEnd = bytes.firstRange(of: Array("\r\n\r\n".utf8)) else {
            throw EventStoreError.backend("http://\(host):\(port)\(path) sent no whole answer within \(timeout)")
        }
        let statusLine = String(decoding: bytes[..<(bytes.firstIndex(of: 13) ?? headerEnd.lowerBound)], as: UTF8.self)
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let status = Int(parts[1]) else {
            throw EventStoreError.backend("http://\(host):\(port)\(path) did not answer in HTTP")
        }
        return Response(status: status, body: Array(bytes[headerEnd.upperBound...]))
    }

    private final class Received: Sendable {
        private let state = Mutex<[UInt8]>([])
        func append(_ buffer: ByteBuffer) { state.withLock { $0 += buffer.readableBytesView } }
        var bytes: [UInt8] { state.withLock { $0 } }
    }

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        private let received: Received
        init(_ received: Received) { self.received = received }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            received.append(unwrapInboundIn(data))
        }
    }
}

/// The logger PostgresNIO's pools log to: the store's, without PostgresNIO's warning at every connection leased
/// before the pool's `run()` has marked it running. A store's first call can come in that moment (its
/// `withStore` waits until the pools start, not until PostgresNIO marks them), where the lease waits for the
/// pool as it would a moment later; a call truly before the store runs is logged by ``PostgresNodes/client(_:)``.
struct PoolLogHandler: LogHandler {
    var base: any LogHandler

    var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { base.metadataProvider }
        set { base.metadataProvider = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        if event.level == .warning, "\(event.message)".hasPrefix("Trying to lease connection from `PostgresClient`") { return }
        base.log(event: event)
    }
}
