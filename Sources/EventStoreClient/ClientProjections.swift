import EventStore
import Foundation
import NIOHTTP1

/// The server's projections, managed as `ProjectionManager` manages a local store's: they run beside the
/// store, in the server (their records change in the backend's transactions, which one request cannot
/// carry), and the client lists them, reads their status, state and positions, and sends them commands.
extension EventStoreClient {
    /// Projection names in byte order (`GET /projections`), as `ProjectionManager.projectionNames(_:limit:offset:)`.
    public func projectionNames(_ filter: NameFilter = .all, limit: Int = 20, offset: Int = 0) async throws -> [String] {
        try StoreValidation.listing(filter, limit: limit, offset: offset)
        return try await instruments.measure(.listProjections) {
            try await listing("/projections", filter, matcher: [], limit: limit, offset: offset)
        }
    }

    /// A projection's status (`GET /projection/status/{name}`).
    /// - Throws: `projectionNotFound`.
    public func projectionStatus(of name: String) async throws -> ProjectionStatus {
        let body = try await projectionRead("/projection/status/", name)
        guard case let .string(text)? = body["status"], let status = ProjectionStatus(rawValue: text) else {
            throw EventStoreError.corrupt("the server's projection status is not one this client knows")
        }
        return status
    }

    /// A projection's saved state (`GET /projection/state/{name}`).
    /// - Throws: `projectionNotFound`.
    public func projectionState(of name: String) async throws -> JSONValue {
        try await projectionRead("/projection/state/", name)
    }

    /// The last position a projection handled in each stream it read (`GET /projection/stream-positions/{name}`).
    /// - Throws: `projectionNotFound`.
    public func projectionStreamPositions(of name: String) async throws -> [String: Int] {
        guard case let .object(members) = try await projectionRead("/projection/stream-positions/", name) else {
            throw EventStoreError.corrupt("the server's stream positions are not a JSON object")
        }
        var positions: [String: Int] = [:]
        for member in members {
            guard let position = member.value.wholeNumber else { throw EventStoreError.corrupt("a stream position is not a number") }
            positions[member.key] = position
        }
        return positions
    }

    /// Asks a projection to stop (`POST /projection/stop/{name}`), as `ProjectionManager.stopProjection(_:)`.
    public func stopProjection(_ name: String) async throws {
        try await projectionCommand("/projection/stop/\(ClientTransport.encoded(name))")
    }

    /// Asks a projection to start over (`POST /projection/reset/{name}`), as `ProjectionManager.resetProjection(_:)`.
    public func resetProjection(_ name: String) async throws {
        try await projectionCommand("/projection/reset/\(ClientTransport.encoded(name))")
    }

    /// Asks a projection to delete itself (`POST /projection/delete/{name}/{true|false}`), with the events it
    /// emitted or its read model when `deleteEmittedEvents`, as `ProjectionManager.deleteProjection(_:deleteEmittedEvents:)`.
    public func deleteProjection(_ name: String, deleteEmittedEvents: Bool) async throws {
        try await projectionCommand("/projection/delete/\(ClientTransport.encoded(name))/\(deleteEmittedEvents)")
    }

    private func projectionRead(_ route: String, _ name: String) async throws -> JSONValue {
        try await instruments.measure(.readProjection) {
            try JSONValue(parsing: try await transport.send(.GET, route + ClientTransport.encoded(name), kind: .read).body)
        }
    }

    /// A command is a write that a second try repeats harmlessly (the projection is asked again).
    private func projectionCommand(_ path: String) async throws {
        try await instruments.measure(.changeProjection) {
            _ = try await shielded { try await self.transport.send(.POST, path, kind: .idempotentWrite) }
        }
    }
}
