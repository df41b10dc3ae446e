import ArgumentParser
import EventStore

/// `eventstore projections …`: list projections, read their status, state and positions, and stop, reset or
/// delete them (a runner anywhere obeys at its next block; with none running, reset and delete happen now).
struct Projections: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, inspect and control projections.",
        subcommands: [
            NameList<ProjectionListing>.self, ProjectionCommand<ProjectionStatusAction>.self,
            ProjectionCommand<ProjectionStateAction>.self, ProjectionCommand<ProjectionPositionsAction>.self,
            ProjectionCommand<ProjectionStopAction>.self, ProjectionCommand<ProjectionResetAction>.self,
            ProjectionDelete.self,
        ])
}

extension DatabaseOptions {
    /// Runs `body` with a manager of the store's projections.
    func withManager<T: Sendable>(_ body: @Sendable (ProjectionManager) async throws -> T) async throws -> T {
        try await withProjectionStore { store in try await body(ProjectionManager(store: store)) }
    }
}

/// `eventstore projections list`.
enum ProjectionListing: NameListing {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "Print projection names in byte order, one per line.")
    static func names(in store: any EventStore, _ filter: NameFilter, limit: Int, offset: Int) async throws -> [String] {
        try await ProjectionManager(store: DatabaseOptions.projectionStore(store)).projectionNames(filter, limit: limit, offset: offset)
    }
}

/// What a command about one projection does.
protocol ProjectionAction: SendableMetatype {
    static var configuration: CommandConfiguration { get }
    /// Does it. - Returns: the line to print, if any.
    static func perform(_ manager: ProjectionManager, on name: String) async throws -> String?
}

/// A command about one projection, named by its argument.
struct ProjectionCommand<Action: ProjectionAction>: AsyncParsableCommand {
    static var configuration: CommandConfiguration { Action.configuration }

    @Argument(help: "The projection's name.") var name: String
    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await reportingFailures {
            let name = self.name
            if let line = try await options.withManager({ try await Action.perform($0, on: name) }) { emit(line) }
        }
    }
}

/// `eventstore projections status`.
enum ProjectionStatusAction: ProjectionAction {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Print a projection's status as JSON: name, kind, status, and whether a runner holds its lease.")

    static func perform(_ manager: ProjectionManager, on name: String) async throws -> String? {
        let record = try await manager.record(name)
        let leased = record.lockedUntil.map { Timestamp.format(microseconds: $0) }
        let document: JSONValue = .object([
            (key: "name", value: .string(record.name)),
            (key: "kind", value: .string(record.kind.rawValue)),
            (key: "status", value: .string(record.status.rawValue)),
            (key: "locked_until", value: leased.map(JSONValue.string) ?? .null),
        ])
        return document.jsonText
    }
}

/// `eventstore projections state`.
enum ProjectionStateAction: ProjectionAction {
    static let configuration = CommandConfiguration(commandName: "state", abstract: "Print a projection's saved state as JSON.")
    static func perform(_ manager: ProjectionManager, on name: String) async throws -> String? {
        try await manager.state(of: name).jsonText
    }
}

/// `eventstore projections positions`.
enum ProjectionPositionsAction: ProjectionAction {
    static let configuration = CommandConfiguration(
        commandName: "positions",
        abstract: "Print, as a JSON object, the position of the last event a projection processed in each stream.")
    static func perform(_ manager: ProjectionManager, on name: String) async throws -> String? {
        ProjectionRecord.streamPositionsJSON(try await manager.streamPositions(of: name))
    }
}

/// A command that changes a projection and prints nothing.
protocol ProjectionControl: ProjectionAction {
    static func control(_ manager: ProjectionManager, _ name: String) async throws
}

extension ProjectionControl {
    static func perform(_ manager: ProjectionManager, on name: String) async throws -> String? {
        try await control(manager, name)
        return nil
    }
}

/// `eventstore projections stop`.
enum ProjectionStopAction: ProjectionControl {
    static let configuration = CommandConfiguration(
        commandName: "stop", abstract: "Stop a projection: its runner stops at its next block (or the next run stops as it starts).")
    static func control(_ manager: ProjectionManager, _ name: String) async throws { try await manager.stopProjection(name) }
}

/// `eventstore projections reset`.
enum ProjectionResetAction: ProjectionControl {
    static let configuration = CommandConfiguration(
        commandName: "reset", abstract: "Reset a projection: state and positions start over (now, when no runner holds it).")
    static func control(_ manager: ProjectionManager, _ name: String) async throws { try await manager.resetProjection(name) }
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
