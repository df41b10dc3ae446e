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
            "The store: \(StoreBackends.all.map { $0.urlForm }.joined(separator: ", ")), or \(PartitionedStoreFile.urlForm) for a partitioned store.",
            discussion: "Read from \(environmentVariable) when absent; \(defaultURL) when neither is set.",
            valueName: "url"))
    var database: String?

    /// The URL in force: the option, the environment variable, or the default.
    var url: String {
        database ?? ProcessInfo.processInfo.environment[Self.environmentVariable] ?? Self.defaultURL
    }

    /// Opens the store (one backend's, or a partitioned store over its members), logging to `logger`, runs
    /// `body` with it and closes it.
    func withStore<T: Sendable>(logger: Logger = commandLogger, _ body: @Sendable (any EventStore) async throws -> T)
        async throws -> T
    {
        if PartitionedStoreFile.names(url) {
            return try await PartitionedStoreFile(url: url).withStore(logger: logger) { try await body($0) }
        }
        return try await StoreBackends.backend(for: url).withStore(tablePrefix: nil, logger: logger) { try await body($0) }
    }

    /// Runs `body` with the store as one that keeps projections.
    /// - Throws: bad input for a store that keeps none.
    func withProjectionStore<T: Sendable>(_ body: @Sendable (any ProjectionStore) async throws -> T) async throws -> T {
        try await withStore { store in try await body(try Self.projectionStore(store)) }
    }

    /// `store` as one that keeps projections. - Throws: bad input for a store that keeps none.
    static func projectionStore(_ store: any EventStore) throws -> any ProjectionStore {
        guard let projections = store as? any ProjectionStore else { throw CommandFailure.badInput("this store keeps no projections") }
        return projections
    }
}

/// Warnings and errors of the drivers, on stderr.
let commandLogger: Logger = {
    var logger = Logger(label: "eventstore")
    logger.logLevel = .error
    return logger
}()
