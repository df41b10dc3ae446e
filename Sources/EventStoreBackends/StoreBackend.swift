@_spi(Backend) import EventStore
import EventStorePostgres
import EventStoreSQLite
import Logging

#if MySQL
import EventStoreMySQL
#endif

/// A backend that the command line and the benchmark open from a URL: its schemes, how its URL reads, and
/// how to open, migrate and close a store on it. Adding a backend is one more type in ``StoreBackends/all``.
package protocol StoreBackend: Sendable {
    /// The backend's name in messages and benchmark results.
    static var name: String { get }
    /// The URL schemes it answers to, lower case, without the colon.
    static var schemes: [String] { get }
    /// The URL's shape, for help and error messages.
    static var urlForm: String { get }

    /// Reads the URL (its settings included).
    /// - Throws: `invalidArgument` when the URL is not one of this backend's.
    init(url: String) throws(EventStoreError)

    /// Opens a store, with `tablePrefix` (when given) in place of the URL's, runs `body` with it, and closes it
    /// whether `body` returns or throws.
    func withStore<T: Sendable>(
        tablePrefix: String?, logger: Logger, _ body: @Sendable (any GlobalOrderEventStore & ProjectionStore) async throws -> T
    ) async throws -> T

    /// Creates or upgrades the schema. - Returns: its version (0 for a backend without one).
    func migrate(logger: Logger) async throws -> Int
}

/// Every backend this build has, by URL scheme.
package enum StoreBackends {
    /// The backends, in the order help lists them.
    package static var all: [any StoreBackend.Type] {
        var all: [any StoreBackend.Type] = [SQLiteBackend.self, PostgresBackend.self]
        #if MySQL
        all.append(MySQLBackend.self)
        #endif
        all.append(MemoryBackend.self)
        return all
    }

    /// Schemes this build knows but cannot open, with the reason.
    static var missing: [String: String] {
        #if MySQL
        [:]
        #else
        let reason = "this build has no MySQL/MariaDB store: build with --traits MySQL (and libmariadb-dev installed)"
        return ["mysql": reason, "mariadb": reason]
        #endif
    }

    /// The backend a URL names, with the URL read.
    /// - Throws: `invalidArgument` for a URL without a known scheme, or one its backend rejects.
    package static func backend(for url: String) throws(EventStoreError) -> any StoreBackend {
        guard let colon = url.firstIndex(of: ":") else {
            throw .invalidArgument("\"\(url)\" is not a database URL (for example sqlite:./eventstore.sqlite or memory:)")
        }
        let scheme = url[..<colon].lowercased()
        if let backend = all.first(where: { $0.schemes.contains(scheme) }) {
            return try backend.init(url: url)
        }
        if let reason = missing[scheme] { throw .invalidArgument(reason) }
        throw .invalidArgument(
            "unsupported database \"\(url)\": use \(all.map { $0.urlForm }.joined(separator: ", "))")
    }
}

/// `memory:`, a store that lives as long as the command.
package struct MemoryBackend: StoreBackend {
    package static let name = "memory"
    package static let schemes = ["memory"]
    package static let urlForm = "memory:"

    package init(url: String) throws(EventStoreError) {
        guard ["memory:", "memory://"].contains(url.lowercased()) else {
            throw .invalidArgument("\"\(url)\" has settings: memory: takes none")
        }
    }

    package func withStore<T: Sendable>(
        tablePrefix: String?, logger: Logger, _ body: @Sendable (any GlobalOrderEventStore & ProjectionStore) async throws -> T
    ) async throws -> T {
        try await body(InMemoryEventStore(logger: logger))
    }

    package func migrate(logger: Logger) async throws -> Int { 0 }
}

/// `sqlite:PATH[?…]`, the embedded default.
package struct SQLiteBackend: ClosingBackend {
    package static let (name, schemes, urlForm) = ("sqlite", ["sqlite"], "sqlite:PATH[?…]")
    package let configuration: SQLiteConfiguration
    package init(configuration: SQLiteConfiguration) { self.configuration = configuration }

    static func open(_ configuration: SQLiteConfiguration, logger: Logger) async throws -> SQLiteEventStore {
        try await SQLiteEventStore(configuration: configuration, logger: logger)
    }
    static func schemaVersion(of store: SQLiteEventStore) -> Int { store.schemaVersion }
}

/// `postgres://USER:PASSWORD@HOST:PORT/DB[?…]`.
package struct PostgresBackend: ConfiguredBackend {
    package static let (name, schemes, urlForm) = (
        "postgres", ["postgres", "postgresql"], "postgres://USER:PASSWORD@HOST:PORT/DB[?…]"
    )
    package let configuration: PostgresConfiguration
    package init(configuration: PostgresConfiguration) { self.configuration = configuration }

    package func withStore<T: Sendable>(
        tablePrefix: String?, logger: Logger, _ body: @Sendable (any GlobalOrderEventStore & ProjectionStore) async throws -> T
    ) async throws -> T {
        try await PostgresEventStore.withStore(configuration: configuration.prefixed(tablePrefix), logger: logger) {
            try await body($0)
        }
    }

    package func migrate(logger: Logger) async throws -> Int {
        try await PostgresEventStore.withStore(configuration: configuration, logger: logger) { try await $0.migrate() }
    }
}

#if MySQL
/// `mysql://` or `mariadb://USER:PASSWORD@HOST:PORT/DB[?…]`.
package struct MySQLBackend: ClosingBackend {
    package static let (name, schemes, urlForm) = (
        "mariadb", ["mysql", "mariadb"], "mysql:// or mariadb://USER:PASSWORD@HOST:PORT/DB[?…]"
    )
    package let configuration: MySQLConfiguration
    package init(configuration: MySQLConfiguration) { self.configuration = configuration }

    static func open(_ configuration: MySQLConfiguration, logger: Logger) async throws -> MySQLEventStore {
        try await MySQLEventStore(configuration: configuration, logger: logger)
    }
    static func schemaVersion(of store: MySQLEventStore) -> Int { store.schemaVersion }
}
#endif

/// A configuration that a URL makes and whose tables take a prefix.
package protocol BackendConfiguration: Sendable {
    init(url: String) throws(EventStoreError)
    var tablePrefix: String { get set }
}

extension BackendConfiguration {
    /// This configuration with `prefix` in place of its own, when one is given.
    func prefixed(_ prefix: String?) -> Self {
        var copy = self
        if let prefix { copy.tablePrefix = prefix }
        return copy
    }
}

extension SQLiteConfiguration: BackendConfiguration {}
extension PostgresConfiguration: BackendConfiguration {}
#if MySQL
extension MySQLConfiguration: BackendConfiguration {}
#endif

/// A backend opened from its configuration, which its URL gives.
package protocol ConfiguredBackend: StoreBackend {
    associatedtype Configuration: BackendConfiguration
    var configuration: Configuration { get }
    init(configuration: Configuration)
}

extension ConfiguredBackend {
    package init(url: String) throws(EventStoreError) { self.init(configuration: try Configuration(url: url)) }
}

/// A backend whose store is opened by an initialiser (migrating the schema) and closed with `close()`.
protocol ClosingBackend: ConfiguredBackend {
    associatedtype Store: SQLEventStore
    static func open(_ configuration: Configuration, logger: Logger) async throws -> Store
    static func schemaVersion(of store: Store) -> Int
}

extension ClosingBackend {
    package func withStore<T: Sendable>(
        tablePrefix: String?, logger: Logger, _ body: @Sendable (any GlobalOrderEventStore & ProjectionStore) async throws -> T
    ) async throws -> T {
        try await Self.closing(try await Self.open(configuration.prefixed(tablePrefix), logger: logger)) { try await body($0) }
    }

    package func migrate(logger: Logger) async throws -> Int {
        try await Self.closing(try await Self.open(configuration, logger: logger)) { Self.schemaVersion(of: $0) }
    }

    /// Runs `body` with `store`, then closes it whether `body` returned or threw.
    private static func closing<T: Sendable>(_ store: Store, _ body: (Store) async throws -> T) async throws -> T {
        try await withCleanup { try await body(store) } cleanup: { await store.close() }
    }
}

/// Runs `body`, then `cleanup`, whether `body` returned or threw (an asynchronous `defer`). When `body`
/// threw, its error is the one thrown and a failing cleanup is ignored; when it returned, a failing cleanup
/// is thrown.
package func withCleanup<T>(_ body: () async throws -> T, cleanup: () async throws -> Void) async throws -> T {
    let result: T
    do {
        result = try await body()
    } catch {
        try? await cleanup()
        throw error
    }
    try await cleanup()
    return result
}
