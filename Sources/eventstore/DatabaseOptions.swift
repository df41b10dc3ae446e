import ArgumentParser
import EventStore
import EventStorePostgres
import EventStoreSQLite
import Foundation
import Logging

#if MySQL
import EventStoreMySQL
#endif

/// `--database URL`, shared by every command.
struct DatabaseOptions: ParsableArguments {
    static let defaultURL = "sqlite:./eventstore.sqlite"
    static let environmentVariable = "EVENTSTORE_DATABASE"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The store: sqlite:PATH[?…], postgres://USER:PASSWORD@HOST:PORT/DB[?…], mysql:// or mariadb://USER:PASSWORD@HOST:PORT/DB (with the MySQL trait), or memory:.",
            discussion: "Read from \(environmentVariable) when absent; \(defaultURL) when neither is set.",
            valueName: "url"))
    var database: String?

    /// The URL in force: the option, the environment variable, or the default.
    var url: String {
        database ?? ProcessInfo.processInfo.environment[Self.environmentVariable] ?? Self.defaultURL
    }

    /// Opens the store, runs `body` with it and closes it.
    func withStore<T: Sendable>(_ body: @Sendable (any EventStore) async throws -> T) async throws -> T {
        switch try StoreURL(url) {
        case .memory:
            return try await body(InMemoryEventStore())
        case let .sqlite(configuration):
            return try await body(try await SQLiteEventStore(configuration: configuration))
        case let .postgres(configuration):
            return try await PostgresEventStore.withStore(configuration: configuration, logger: commandLogger) { store in
                try await body(store)
            }
        #if MySQL
        case let .mysql(configuration):
            return try await body(try await MySQLEventStore(configuration: configuration))
        #endif
        }
    }
}

/// A parsed `--database` URL.
/// Warnings and errors of the drivers, on stderr.
let commandLogger: Logger = {
    var logger = Logger(label: "eventstore")
    logger.logLevel = .error
    return logger
}()

enum StoreURL {
    case memory
    case sqlite(SQLiteConfiguration)
    case postgres(PostgresConfiguration)
    #if MySQL
    case mysql(MySQLConfiguration)
    #endif

    init(_ url: String) throws {
        guard let colon = url.firstIndex(of: ":") else {
            throw CommandFailure.badInput("\"\(url)\" is not a database URL (for example sqlite:./eventstore.sqlite or memory:)")
        }
        let scheme = url[..<colon].lowercased()
        switch scheme {
        case "memory":
            self = .memory
        case "postgres", "postgresql":
            self = .postgres(try PostgresConfiguration(url: url))
        case "mysql", "mariadb":
            #if MySQL
            self = .mysql(try MySQLConfiguration(url: url))
            #else
            throw CommandFailure.badInput(
                "this build has no MySQL/MariaDB store: build with --traits MySQL (and libmariadb-dev installed)")
            #endif
        case "sqlite":
            self = .sqlite(try SQLiteConfiguration(url: url))
        default:
            throw CommandFailure.badInput("unsupported database \"\(url)\": use sqlite:PATH, postgres://… or memory:")
        }
    }
}
