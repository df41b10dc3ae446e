import ArgumentParser
import EventStore
import Foundation

/// `--database URL`, shared by every command.
struct DatabaseOptions: ParsableArguments {
    static let defaultURL = "memory:"
    static let environmentVariable = "EVENTSTORE_DATABASE"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The store to use: memory:.",
            discussion: "Read from \(environmentVariable) when absent; \(defaultURL) when neither is set.",
            valueName: "url"))
    var database: String?

    /// The URL in force: the option, the environment variable, or the default.
    var url: String {
        database ?? ProcessInfo.processInfo.environment[Self.environmentVariable] ?? Self.defaultURL
    }

    /// Opens the store, runs `body` with it and closes it.
    func withStore<T>(_ body: (any EventStore) async throws -> T) async throws -> T {
        let url = self.url
        guard let colon = url.firstIndex(of: ":") else {
            throw CommandFailure.badInput("\"\(url)\" is not a database URL (for example memory:)")
        }
        switch url[..<colon].lowercased() {
        case "memory":
            return try await body(InMemoryEventStore())
        default:
            throw CommandFailure.badInput("unsupported database \"\(url)\": this build knows memory:")
        }
    }
}
