#if MySQL
import EventStore
import Foundation

/// How a ``MySQLEventStore`` reaches its server and lays out its tables.
public struct MySQLConfiguration: Sendable {
    /// Which server the URL named (the SQL is the same; the documentation's "MySQL and MariaDB" article lists the differences).
    public enum Flavor: String, Sendable {
        /// MySQL: a `mysql://` URL.
        case mysql
        /// MariaDB: a `mariadb://` URL.
        case mariadb
    }

    /// Which server the store talks to (set by the URL's scheme). ``Flavor/mariadb`` by default.
    public var flavor: Flavor = .mariadb
    /// The server's host name or address.
    public var host: String
    /// The server's port. 3306 by default.
    public var port: Int = 3306
    /// The user to connect as (`root` when a URL names none).
    public var username: String
    /// The user's password; `nil` (the default) for none.
    public var password: String?
    /// The database the store's tables are in.
    public var database: String
    /// The most connections the store opens. 10 by default.
    public var poolSize: Int = 10
    /// How long opening a connection may take (the client counts whole seconds: a fraction rounds up), and
    /// how long a call waits for a connection of the pool when all are busy (past it the call fails with
    /// `backend`, having done nothing). 10 seconds by default.
    public var connectTimeout: Duration = .seconds(10)
    /// How long the client waits for the server's answer to one statement, or to send one (libmariadb's
    /// read and write timeouts: whole seconds, a fraction rounds up); 30 seconds by default. Past it the
    /// connection is closed (the pool opens a new one) and the call fails with `backend`; a write that
    /// timed out may have committed, and its error says that its outcome is unknown. This bounds a call to
    /// a server that stopped answering (a frozen server, a half-open socket); it is no limit on the server's
    /// own work, and a statement that legitimately runs longer fails too.
    public var queryTimeout: Duration = .seconds(30)
    /// How long opening the store waits while another process creates or upgrades the same tables (it holds
    /// the migration lock) before it fails with `backend`. 5 minutes by default: an upgrade that rebuilds a
    /// large table takes longer, and every other start waits for it (set more for such an upgrade).
    public var migrationTimeout: Duration = .seconds(300)
    /// A prefix for the store's tables (ASCII letters, digits and `_`, at most 36). Empty by default.
    public var tablePrefix: String = ""
    /// How many events one read of a load fetches (a load reads its stream in batches of this size, so
    /// memory stays bounded however long the stream). 1,000 by default, at least 1 (smaller values count
    /// as 1). Formerly `loadBatchSize`.
    public var readBatchSize: Int = 1000

    /// The settings of a server, every other one at its default (``Flavor/mariadb``, a pool of 10, no table
    /// prefix).
    /// - Parameters:
    ///   - host: the server's host name or address.
    ///   - port: the server's port; 3306 by default.
    ///   - username: the user to connect as.
    ///   - password: the user's password; `nil` (the default) for none.
    ///   - database: the database the store's tables are in.
    public init(host: String, port: Int = 3306, username: String, password: String? = nil, database: String) {
        (self.host, self.port, self.username, self.password, self.database) = (host, port, username, password, database)
    }

    /// Reads `mysql://user:password@host:port/database` or `mariadb://…`, with optional settings
    /// `pool_size=N`, `connect_timeout=SECONDS`, `query_timeout=SECONDS`, `migration_timeout=SECONDS` and
    /// `table_prefix=P`.
    /// - Throws: `EventStoreError` `invalidArgument` when the URL is not such a URL.
    public init(url text: String) throws(EventStoreError) {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(),
            let flavor = Flavor(rawValue: scheme)
        else {
            throw .invalidArgument("\"\(text)\" is not a mysql:// or mariadb:// URL")
        }
        guard let host = url.host, !host.isEmpty else { throw .invalidArgument("the \(scheme) URL needs a host") }
        let path = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        guard !path.isEmpty else { throw .invalidArgument("the \(scheme) URL needs a database: \(scheme)://host/database") }
        self.init(
            host: host, port: url.port ?? 3306, username: url.user?.removingPercentEncoding ?? "root",
            password: url.password?.removingPercentEncoding, database: path.removingPercentEncoding ?? path)
        self.flavor = flavor
        var settings = try URLSettings((url.queryItems ?? []).map { ($0.name, $0.value ?? "") }, of: "\(scheme) URL")
        if let size = try settings.integer("pool_size", atLeast: 1) { poolSize = size }
        if let seconds = try settings.integer("connect_timeout", atLeast: 1, unit: "seconds") { connectTimeout = .seconds(seconds) }
        if let seconds = try settings.integer("query_timeout", atLeast: 1, unit: "seconds") { queryTimeout = .seconds(seconds) }
        if let seconds = try settings.integer("migration_timeout", atLeast: 1, unit: "seconds") { migrationTimeout = .seconds(seconds) }
        if let prefix = settings.text("table_prefix") { tablePrefix = prefix }
        try settings.finish()
    }
}
#endif
