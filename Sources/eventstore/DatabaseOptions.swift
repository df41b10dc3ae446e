import ArgumentParser
import EventStore
import EventStoreBackends
import Foundation
import Logging

/// `--database URL`, shared by every command.
struct DatabaseOptions: ParsableArguments {
    static let defaultURL = "sqlite:./eventstore.sqlite"
    static let environmentVariable = "EVENTSTORE_DATABASE"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The store: \(StoreBackends.all.map { $0.urlForm }.joined(separator: ", ")); \(PartitionedStoreFile.urlForm) for `eventstore partitions`.",
            discussion: "Read from \(environmentVariable) when absent; \(defaultURL) when neither is set.",
            valueName: "url"))
    var database: String?

    /// The URL in force: the option, the environment variable, or the default.
    var url: String {
        database ?? ProcessInfo.processInfo.environment[Self.environmentVariable] ?? Self.defaultURL
    }

    /// Opens the store, logging to `logger`, runs `body` with it and closes it.
    func withStore<T: Sendable>(logger: Logger = commandLogger, _ body: @Sendable (any ProjectionStore) async throws -> T)
        async throws -> T
    {
        if PartitionedStoreFile.names(url) {
            throw CommandFailure.badInput(
                "a partitioned store (\(PartitionedStoreFile.urlForm)) is read and changed with `eventstore partitions` so far; this command takes one store")
        }
        return try await StoreBackends.backend(for: url).withStore(tablePrefix: nil, logger: logger) { try await body($0) }
    }
}

/// Warnings and errors of the drivers, on stderr.
let commandLogger: Logger = {
    var logger = Logger(label: "eventstore")
    logger.logLevel = .error
    return logger
}()
