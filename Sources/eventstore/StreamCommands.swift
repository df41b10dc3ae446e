import ArgumentParser
import EventStore
import EventStoreBackends
import Foundation

/// Reads a stream name argument.
func streamName(_ text: String) throws -> StreamName {
    try StreamName(text)
}

/// All of standard input as text.
func readStandardInput() throws -> String {
    let data = FileHandle.standardInput.readDataToEndOfFile()
    guard let text = String(data: data, encoding: .utf8) else { throw CommandFailure.badInput("standard input is not UTF-8") }
    return text
}

/// Prints a line and flushes it at once. When the reader went away (`eventstore read … | head`), ends the
/// process quietly with the status of a tool ended by SIGPIPE (128 + 13), as Unix tools do.
func emit(_ line: String) {
    do {
        try FileHandle.standardOutput.write(contentsOf: Data((line + "\n").utf8))
    } catch {
        exit(141)
    }
}

struct Create: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create an empty stream.")

    @Argument(help: "The stream's name.") var stream: String
    @Option(help: "Stream metadata, a JSON object of scalars.") var metadata: String?
    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await reportingFailures {
            let name = try streamName(stream)
            let metadata = try self.metadata.map { try Metadata(json: $0) } ?? [:]
            _ = try await options.withStore { store in try await store.create(name, metadata: metadata, events: []) }
        }
    }
}

struct Append: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Append events read from standard input (a JSON array) to a stream, creating it when missing.",
        discussion: """
            Each event is {"message_name", "uuid"?, "payload"?, "metadata"?, "created_at"?}. \
            Prints the stream's version after the append.
            """)

    @Argument(help: "The stream's name.") var stream: String
    @Option(help: "any, no-stream, exists, or the position of the stream's last event (0 for an empty stream).")
    var expectedVersion: String = "any"
    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await reportingFailures {
            let name = try streamName(stream)
            guard let expected = ExpectedVersion(expectedVersion) else {
                throw CommandFailure.badInput("--expected-version must be any, no-stream, exists or a version number, not \"\(expectedVersion)\"")
            }
            let events = try EventJSON.messages(fromArray: try readStandardInput())
            let result = try await options.withStore { store in
                if expected == .any, try await store.hasStream(name) == false {
                    do {
                        return try await store.append(events, to: name, expectedVersion: .noStream)
                    } catch let error as EventStoreError where error.code == .wrongExpectedVersion {
                        // Another writer created it first: append after its events.
                    }
                }
                return try await store.append(events, to: name, expectedVersion: expected)
            }
            emit(String(result.streamVersion))
        }
    }
}

struct Read: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a stream's events, one JSON object per line.",
        discussion: """
            Conditions are 'FIELD OP VALUE' with OP one of =, !=, >, >=, <, <=, in, nin, regex; VALUE is read \
            as JSON when it parses (4 an integer, "4" a string, [1,2] a list), as a plain string otherwise. \
            Properties: uuid, message_name, created_at, position.
            """)

    @Argument(help: "The stream's name.") var stream: String
    @Option(help: "The first position to read (the newest with --backward when absent).") var from: Int?
    @Option(help: "The most events to print (all when absent).") var count: Int?
    @Flag(help: "Newest first.") var backward = false
    @Option(name: .customLong("where"), help: "A condition on a metadata key: 'FIELD OP VALUE'.")
    var conditions: [String] = []
    @Option(name: .customLong("property"), help: "A condition on a message property: 'FIELD OP VALUE'.")
    var propertyConditions: [String] = []
    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await reportingFailures {
            let name = try streamName(stream)
            var matcher = MetadataMatcher()
            for text in conditions {
                let (field, op, value) = try parseCondition(text)
                matcher = try matcher.metadata(field, op, value)
            }
            for text in propertyConditions {
                let (field, op, value) = try parseCondition(text)
                guard let property = MetadataMatcher.MessageProperty(rawValue: field) else {
                    throw CommandFailure.badInput("unknown property \"\(field)\" (known: uuid, message_name, created_at, position)")
                }
                matcher = try matcher.property(property, op, value)
            }
            let filter = matcher.isEmpty ? nil : matcher
            try await options.withStore { store in
                let events = backward
                    ? try await store.loadReverse(name, from: from, count: count, matching: filter)
                    : try await store.load(name, from: from ?? 1, count: count, matching: filter)
                for try await event in events { emit(EventJSON.line(for: event)) }
            }
        }
    }
}

/// Splits 'FIELD OP VALUE'.
func parseCondition(_ text: String) throws -> (String, MetadataMatcher.Operator, MetadataMatcher.Value) {
    let parts = text.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
    guard parts.count == 3 else {
        throw CommandFailure.badInput("a condition is 'FIELD OP VALUE', for example '_aggregate_version > 3', not \"\(text)\"")
    }
    guard let op = MetadataMatcher.Operator(symbol: String(parts[1])) else {
        throw CommandFailure.badInput("unknown operator \"\(parts[1])\" (known: = != > >= < <= in nin regex)")
    }
    var value = try EventJSON.matcherValue(String(parts[2]))
    if op == .regex, case .scalar = value { value = .scalar(.string(String(parts[2]))) }
    return (String(parts[0]), op, value)
}

struct Delete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete a stream: purge its events and free its name (the default), hide it (soft), or leave a tombstone (hard).")

    @Argument(help: "The stream's name.") var stream: String
    @Option(help: "purge, soft or hard.") var mode: DeleteMode = .purge
    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await reportingFailures {
            let name = try streamName(stream)
            try await options.withStore { store in try await store.delete(name, mode: mode) }
        }
    }
}

struct ListOptions: ParsableArguments {
    @Argument(help: "Only this exact name.") var filter: String?
    @Option(help: "Only names in which this regular expression finds a match.") var regex: String?
    @Option(help: "The most names to print.") var limit: Int = 20
    @Option(help: "How many names to skip.") var offset: Int = 0

    func nameFilter() throws -> NameFilter {
        switch (filter, regex) {
        case (nil, nil): return .all
        case let (name?, nil): return .exact(name)
        case let (nil, pattern?): return .regex(pattern)
        case (.some, .some): throw CommandFailure.badInput("give a FILTER or --regex, not both")
        }
    }
}

/// What a name listing reads.
protocol NameListing: SendableMetatype {
    static var configuration: CommandConfiguration { get }
    /// The names with this filter, limit and offset, in byte order.
    static func names(in store: any EventStore, _ filter: NameFilter, limit: Int, offset: Int) async throws -> [String]
}

/// A command that prints names one per line: streams, categories, projections.
struct NameList<Listing: NameListing>: AsyncParsableCommand {
    static var configuration: CommandConfiguration { Listing.configuration }

    @OptionGroup var list: ListOptions
    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await reportingFailures {
            let (filter, limit, offset) = (try list.nameFilter(), list.limit, list.offset)
            let names = try await options.withStore { try await Listing.names(in: $0, filter, limit: limit, offset: offset) }
            for name in names { emit(name) }
        }
    }
}

/// `eventstore streams`.
enum StreamListing: NameListing {
    static let configuration = CommandConfiguration(
        commandName: "streams", abstract: "Print stream names in byte order, one per line.")
    static func names(in store: any EventStore, _ filter: NameFilter, limit: Int, offset: Int) async throws -> [String] {
        try await store.streamNames(filter, matching: nil, limit: limit, offset: offset).map(\.rawValue)
    }
}

/// `eventstore categories`.
enum CategoryListing: NameListing {
    static let configuration = CommandConfiguration(
        commandName: "categories", abstract: "Print category names in byte order, one per line.")
    static func names(in store: any EventStore, _ filter: NameFilter, limit: Int, offset: Int) async throws -> [String] {
        try await store.categoryNames(filter, limit: limit, offset: offset)
    }
}

struct StreamMetadataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metadata", abstract: "Print a stream's metadata as JSON, after replacing it with --set.")

    @Argument(help: "The stream's name.") var stream: String
    @Option(help: "New metadata, a JSON object of scalars, replacing the old.") var set: String?
    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await reportingFailures {
            let name = try streamName(stream)
            let newMetadata = try set.map { try Metadata(json: $0) }
            let metadata = try await options.withStore { store in
                if let newMetadata { try await store.updateStreamMetadata(newMetadata, of: name) }
                return try await store.streamMetadata(of: name)
            }
            emit(metadata.jsonText)
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create or upgrade the database's schema (every command does it on open) and print its version.")

    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await reportingFailures {
            guard PartitionedStoreFile.names(options.url) else {
                let backend = try StoreBackends.backend(for: options.url)
                let version = try await backend.migrate(logger: commandLogger)
                emit("schema version \(version)" + (version == 0 ? " (\(type(of: backend).name) has no schema)" : ""))
                return
            }
            // A partitioned store: every member, in the file's order, one line each.
            for member in try PartitionedStoreFile(url: options.url).members {
                let version = try await StoreBackends.backend(for: member.database).migrate(logger: commandLogger)
                emit("\(member.name): schema version \(version)")
            }
        }
    }
}

extension DeleteMode: ExpressibleByArgument {}
