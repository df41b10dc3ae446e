import ArgumentParser
import EventStore

@main
struct EventStoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eventstore",
        abstract: "An event store for Swift: streams of events, appended with optimistic concurrency.",
        discussion: """
            Every command takes --database URL (default: the EVENTSTORE_DATABASE environment variable, \
            else \(DatabaseOptions.defaultURL)).
            Exit status: 0 success, 1 other failure, 2 bad input, 3 not found, 4 conflict.
            """,
        subcommands: [
            QuickStart.self, Create.self, Append.self, Read.self, Delete.self, NameList<StreamListing>.self, NameList<CategoryListing>.self,
            Serve.self, StreamMetadataCommand.self, Migrate.self, Verify.self, Scavenge.self, Subscribe.self, Projections.self, Groups.self, Consume.self,
            Partitions.self, Bench.self,
        ]
    )
}
