import ArgumentParser
import EventStore

/// `eventstore projections …`: list projections, read their status, state and positions, and stop, reset or
/// delete them (a runner anywhere obeys at its next block; with none running, reset and delete happen now).
struct Projections: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, inspect and control projections.",
        subcommands: [
            ProjectionList.self, ProjectionStatusCommand.self, ProjectionState.self, ProjectionPositions.self,
            ProjectionStop.self, ProjectionReset.self, ProjectionDelete.self,
        ])
}

extension DatabaseOptions {
    /// Runs `body` with a manager of the store's projections.
    func withManager<T: Sendable>(_ body: @Sendable (ProjectionManager) async throws -> T) async throws -> T {
        try await withStore { store in try await body(ProjectionManager(store: store)) }
    }
}

struct ProjectionList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Print projection names in byte order, one per line.")

    @OptionGroup var list: ListOptions
    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await list.printNames(from: options) { store, filter, limit, offset in
            try await ProjectionManager(store: store).projectionNames(filter, limit: limit, offset: offset)
        }
    }
}

struct ProjectionStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Print a projection's status as JSON: name, kind, status, and whether a runner holds its lease.")

    @Argument(help: "The projection's name.") var name: String
    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await reportingFailures {
            let record = try await options.withManager { try await $0.record(name) }
            let leased = record.lockedUntil.map { Timestamp.format(microseconds: $0) }
            let document: JSONValue = .object([
                (key: "name", value: .string(record.name)),
                (key: "kind", value: .string(record.kind.rawValue)),
                (key: "status", value: .string(record.status.rawValue)),
                (key: "locked_until", value: leased.map(JSONValue.string) ?? .null),
            ])
            emit(document.jsonText)
        }
    }
}

struct ProjectionState: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "state", abstract: "Print a projection's saved state as JSON.")

    @Argument(help: "The projection's name.") var name: String
    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await reportingFailures {
            emit(try await options.withManager { try await $0.state(of: name) }.jsonText)
        }
    }
}

struct ProjectionPositions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "positions",
        abstract: "Print, as a JSON object, the position of the last event a projection processed in each stream.")

    @Argument(help: "The projection's name.") var name: String
    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await reportingFailures {
            let positions = try await options.withManager { try await $0.streamPositions(of: name) }
            emit(ProjectionRecord.streamPositionsJSON(positions))
        }
    }
}

struct ProjectionStop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop", abstract: "Stop a projection: its runner stops at its next block (or the next run stops as it starts).")

    @Argument(help: "The projection's name.") var name: String
    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await reportingFailures { try await options.withManager { try await $0.stopProjection(name) } }
    }
}

struct ProjectionReset: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset", abstract: "Reset a projection: state and positions start over (now, when no runner holds it).")

    @Argument(help: "The projection's name.") var name: String
    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await reportingFailures { try await options.withManager { try await $0.resetProjection(name) } }
    }
}

struct ProjectionDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete a projection (now, when no runner holds it).")

    @Argument(help: "The projection's name.") var name: String
    @Flag(help: "Also delete the stream it emitted to (or, for a read-model projection, its read model).")
    var withEmittedEvents = false
    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await reportingFailures {
            try await options.withManager { try await $0.deleteProjection(name, deleteEmittedEvents: withEmittedEvents) }
        }
    }
}
