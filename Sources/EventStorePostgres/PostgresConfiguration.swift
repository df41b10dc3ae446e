import EventStore
import Foundation
import PostgresNIO
import NIOSSL

/// How a ``PostgresEventStore`` reaches its server and lays out its tables.
public struct PostgresConfiguration: Sendable {
    /// TLS to the server, as libpq's `sslmode`.
    public enum TLSMode: String, Sendable, CaseIterable {
        /// Never TLS.
        case disable
        /// TLS when the server offers it (the default, as libpq).
        case prefer
        /// TLS or no connection.
        case require
    }

    /// A server of the store: a host name or address and a port.
    public struct Host: Sendable, Hashable, CustomStringConvertible {
        /// The server's host name or address (an IPv6 address without brackets).
        public var host: String
        /// The server's port.
        public var port: Int

        /// A server at `host` and `port`.
        /// - Parameters:
        ///   - host: the server's host name or address.
        ///   - port: the server's port; 5432 by default.
        public init(_ host: String, port: Int = 5432) {
            (self.host, self.port) = (host, port)
        }

        /// `host:port` (`[address]:port` for an IPv6 address).
        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// The servers the store may use, in order: one, or the nodes of a high-availability cluster (a primary
    /// and its standbys, as a multi-host URL names them). With several, writes go to the one that is not in
    /// recovery (libpq's `target_session_attrs=read-write`), found by asking each (`pg_is_in_recovery()`), or
    /// Patroni (``patroniEndpoints``), when the store starts and again after a call fails (a failover or a
    /// switchover). At least one.
    public var hosts: [Host]
    /// The first server's host name or address.
    public var host: String {
        get { hosts[0].host }
        set { hosts[0].host = newValue }
    }
    /// The first server's port. 5432 by default.
    public var port: Int {
        get { hosts[0].port }
        set { hosts[0].port = newValue }
    }
    /// Patroni REST API endpoints (`http://host:8008`) that name the cluster's leader (`GET /cluster`): with
    /// several ``hosts``, the store asks them, in order, which host is the primary instead of asking every
    /// host. Empty by default. URL setting `patroni=http://h1:8008,http://h2:8008`.
    public var patroniEndpoints: [PatroniEndpoint] = []
    /// Whether reads go to the standbys among ``hosts`` (URL setting `read=standby`; `read=primary`, the
    /// default, reads where it writes). Loads, stream lookups, listings, the global order (subscriptions,
    /// projections' reads of events) and counts then go to a standby, in turn; writes, transactions,
    /// checkpoints, projection rows and leases, snapshots and the store's checks stay on the primary. A read
    /// goes to the primary instead when no standby streams within ``maxStandbyLag``. The store reads its own
    /// writes: after each write it notes the primary's WAL position, and a read waits until its standby has
    /// replayed it (up to ``maxStandbyLag``, then it reads from the primary). Each write then costs one more
    /// round trip.
    public var readsFromStandbys = false
    /// How far behind the primary a standby may be and still serve reads (``readsFromStandbys``), and how
    /// long a read waits for a standby to replay the store's own last write. 5 seconds by default. URL
    /// setting `max_standby_lag=SECONDS` (fractions allowed).
    public var maxStandbyLag: Duration = .seconds(5)
    /// The role to connect as (`postgres` when a URL names none).
    public var username: String
    /// The role's password; `nil` (the default) for none.
    public var password: String?
    /// The database; `nil` (the default) for the one named like the role.
    public var database: String?
    /// Whether to use TLS. ``TLSMode/prefer`` by default, as libpq.
    public var tls: TLSMode = .prefer
    /// The most connections the store's calls use at once through PostgresNIO. 20 by default. The pool
    /// opens one more, which the store holds while it runs to `LISTEN` for other processes' appends (a pool
    /// of one was all listener, and every call waited for it until the connect timeout). Reads through
    /// libpq (``readsThroughLibpq``) open up to as many again, as they need them: count
    /// `2 × poolSize + 1` in the server's `max_connections`.
    public var poolSize: Int = 20
    /// How long opening a connection may take. 10 seconds by default.
    public var connectTimeout: Duration = .seconds(10)
    /// How long the server may take to answer the statements of one call (an append, a page of a load, a
    /// commit); 30 seconds by default. Past it the store closes the connection (the pool opens a new one)
    /// and the call fails with `backend`: a write or commit that timed out may have committed, and its
    /// error says that the outcome is unknown. This bounds a call on a connection whose server stopped
    /// answering (a frozen server, a half-open socket), which would otherwise wait for ever; it is no
    /// `statement_timeout`, and ``PostgresEventStore/migrate()`` is not bound by it (an index built on a
    /// large table takes as long as it takes).
    public var queryTimeout: Duration = .seconds(30)
    /// How long opening the store waits while another process creates or upgrades the same tables (it holds
    /// the migration lock) before it fails with `backend`. 5 minutes by default. The migration itself is not
    /// bound by it. URL setting `migration_timeout=SECONDS`.
    public var migrationTimeout: Duration = .seconds(300)
    /// The schema of the store's tables; `nil` uses the connection's search path (normally `public`).
    public var schema: String?
    /// A prefix for the store's tables, so that several stores can share one database (ASCII letters,
    /// digits and `_`, at most 36). Empty by default.
    public var tablePrefix: String = ""
    /// How many events one read of a load fetches (a load reads its stream in batches of this size, so
    /// memory stays bounded however long the stream). 1,000 by default, at least 1 (smaller values count
    /// as 1). Formerly `loadBatchSize`.
    public var readBatchSize: Int = 1000
    /// Whether the pages of loads and of the global order are read through libpq (loaded at run time from
    /// `libpq.so.5`, Debian's `libpq5`) rather than PostgresNIO: about twice the rows per second
    /// (<doc:Configuration>). True by default; where libpq is missing, reads go through PostgresNIO and a notice says
    /// so. URL setting `reader=libpq` or `reader=postgresnio`.
    public var readsThroughLibpq = true

    /// The settings of one server, every other one at its default (``TLSMode/prefer``, a pool of 20, reads
    /// through libpq).
    /// - Parameters:
    ///   - host: the server's host name or address.
    ///   - port: the server's port; 5432 by default.
    ///   - username: the role to connect as.
    ///   - password: the role's password; `nil` (the default) for none.
    ///   - database: the database; `nil` (the default) for the one named like the role.
    public init(host: String, port: Int = 5432, username: String, password: String? = nil, database: String? = nil) {
        self.hosts = [Host(host, port: port)]
        (self.username, self.password, self.database) = (username, password, database)
    }

    /// Reads `postgres://user:password@host:port[,host:port…]/database?sslmode=disable|prefer|require&pool_size=N&connect_timeout=S&query_timeout=S&migration_timeout=S&schema=S&table_prefix=P&reader=libpq|postgresnio`
    /// (also `postgresql://`), with `&patroni=http://host:port,…`, `&read=primary|standby`, `&max_standby_lag=S` and
    /// `&target_session_attrs=read-write` (what the store does with several hosts anyway). Missing parts: port 5432, user `postgres`, `sslmode=prefer`. `connect_timeout`
    /// is whole seconds, `query_timeout` seconds with an optional fraction (`0.5`).
    /// - Throws: `EventStoreError` `invalidArgument` when the URL is not such a URL.
    public init(url text: String) throws(EventStoreError) {
        // URLComponents takes one host: the others of a multi-host URL are read here, and the rest of the URL
        // through it with the first host alone.
        let (oneHost, moreHosts) = try Self.splitHosts(text)
        guard let url = URLComponents(string: oneHost), let scheme = url.scheme?.lowercased(),
            scheme == "postgres" || scheme == "postgresql"
        else {
            throw .invalidArgument("\"\(text)\" is not a postgres:// URL")
        }
        guard let host = url.host, !host.isEmpty else { throw .invalidArgument("the postgres URL needs a host") }
        self.init(
            host: host, port: url.port ?? 5432, username: url.user?.removingPercentEncoding ?? "postgres",
            password: url.password?.removingPercentEncoding)
        hosts += moreHosts
        let path = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        database = path.isEmpty ? nil : (path.removingPercentEncoding ?? path)
        var settings = try URLSettings((url.queryItems ?? []).map { ($0.name, $0.value ?? "") }, of: "postgres URL")
        if let mode = try settings.choice("sslmode", of: TLSMode.self) { tls = mode }
        if let size = try settings.integer("pool_size", atLeast: 1) { poolSize = size }
        if let seconds = try settings.integer("connect_timeout", atLeast: 1, unit: "seconds") { connectTimeout = .seconds(seconds) }
        if let timeout = try Self.seconds(settings.text("query_timeout"), "query_timeout") { queryTimeout = timeout }
        if let timeout = try Self.seconds(settings.text("migration_timeout"), "migration_timeout") { migrationTimeout = timeout }
        if let read = try settings.choice("read", of: ReadFrom.self) { readsFromStandbys = read == .standby }
        if let lag = try Self.seconds(settings.text("max_standby_lag"), "max_standby_lag") { maxStandbyLag = lag }
        if let name = settings.text("schema") { schema = name }
        if let prefix = settings.text("table_prefix") { tablePrefix = prefix }
        if let reader = try settings.choice("reader", of: Reader.self) { readsThroughLibpq = reader == .libpq }
        if let endpoints = settings.text("patroni") {
            patroniEndpoints = try endpoints.split(separator: ",", omittingEmptySubsequences: false).map {
                (text) throws(EventStoreError) in try PatroniEndpoint(String(text))
            }
        }
        // libpq's setting, accepted for the semantics the store has anyway: writes go to the primary.
        _ = try settings.choice("target_session_attrs", of: TargetSessionAttributes.self)
        try settings.finish()
    }

    /// A URL setting of seconds above 0, at most a day, with an optional fraction.
    private static func seconds(_ text: String?, _ name: String) throws(EventStoreError) -> Duration? {
        guard let text else { return nil }
        guard let seconds = Double(text), seconds.isFinite, seconds > 0, seconds <= 86_400 else {
            throw .invalidArgument("\(name) must be a number of seconds above 0, at most 86400, not \"\(text)\"")
        }
        return .milliseconds(Int64((seconds * 1000).rounded(.up)))
    }

    /// The `read` URL setting.
    private enum ReadFrom: String, CaseIterable {
        case primary, standby
    }

    /// The `target_session_attrs` values that name what the store does for writes.
    private enum TargetSessionAttributes: String, CaseIterable {
        case readWrite = "read-write", primary
    }

    /// The URL with its first host alone, and the other hosts of a multi-host URL
    /// (`postgres://u:p@h1:5432,h2:5433,[::1]:5434/db`).
    private static func splitHosts(_ text: String) throws(EventStoreError) -> (String, [Host]) {
        guard let schemeEnd = text.range(of: "://") else { return (text, []) }
        let rest = text[schemeEnd.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        let userEnd = authority.lastIndex(of: "@").map { authority.index(after: $0) } ?? authority.startIndex
        let list = authority[userEnd...].split(separator: ",", omittingEmptySubsequences: false)
        guard list.count > 1 else { return (text, []) }
        var hosts: [Host] = []
        for item in list.dropFirst() {
            var (name, port) = (Substring(item), 5432)
            if name.hasPrefix("["), let close = name.firstIndex(of: "]") {
                let after = name[name.index(after: close)...]
                name = name[name.index(after: name.startIndex)..<close]
                if !after.isEmpty {
                    guard after.hasPrefix(":"), let value = Int(after.dropFirst()) else {
                        throw .invalidArgument("\"\(item)\" in the postgres URL is not host:port")
                    }
                    port = value
                }
            } else if let colon = name.lastIndex(of: ":") {
                guard let value = Int(name[name.index(after: colon)...]) else {
                    throw .invalidArgument("\"\(item)\" in the postgres URL is not host:port")
                }
                (name, port) = (name[..<colon], value)
            }
            guard !name.isEmpty, (1...65_535).contains(port) else {
                throw .invalidArgument("\"\(item)\" in the postgres URL is not host:port")
            }
            hosts.append(Host(String(name).removingPercentEncoding ?? String(name), port: port))
        }
        return (String(text[..<userEnd] + list[0] + text[authority.endIndex...]), hosts)
    }

    /// The `reader` URL setting.
    private enum Reader: String, CaseIterable {
        case libpq, postgresnio
    }

    /// The PostgresNIO client configuration: for other clients of the same database (read models, tools).
    public func clientConfiguration() throws -> PostgresClient.Configuration {
        try clientConfiguration(for: hosts[0])
    }

    /// ``tls`` for a client: its TLS configuration and whether a connection requires it; `nil` without TLS.
    var clientTLS: (configuration: TLSConfiguration, required: Bool)? {
        switch tls {
        case .disable: nil
        case .prefer: (.makeClientConfiguration(), false)
        case .require: (.makeClientConfiguration(), true)
        }
    }

    /// The PostgresNIO client configuration for one of the ``hosts``.
    func clientConfiguration(for server: Host) throws -> PostgresClient.Configuration {
        let tlsConfiguration: PostgresClient.Configuration.TLS =
            switch clientTLS {
            case nil: .disable
            case let (configuration, required: false)?: .prefer(configuration)
            case let (configuration, required: true)?: .require(configuration)
            }
        var configuration = PostgresClient.Configuration(
            host: server.host, port: server.port, username: username, password: password, database: database, tls: tlsConfiguration)
        configuration.options.maximumConnections = max(1, poolSize) + 1
        configuration.options.connectTimeout = connectTimeout
        return configuration
    }
}
