@_spi(Backend) import EventStore
import Foundation
import Logging

/// `partitioned:FILE`: a ``PartitionedEventStore`` whose members and routing key a small JSON file names.
///
/// ```json
/// {
///   "members": [
///     {"name": "a", "database": "postgres://eventstore@db-a:5432/events"},
///     {"name": "b", "database": "postgres://eventstore@db-b:5432/events"}
///   ],
///   "key": "stream"
/// }
/// ```
///
/// - `members`: each member's name (1 to 64 ASCII letters, digits, `_`, `-` and `.`; it stands in the
///   placement map and in composite positions) and its database URL (any SQL backend). A member is added
///   by listing it last; members are never removed or reordered.
/// - `key` (optional): `stream` (the default), `category`, `id` or `prefix:<one character>`
///   (``PartitionKey``).
/// - `bucketCount` (optional): the buckets of the first placement map (1,024 by default).
/// - `moveWaitSeconds` (optional): how long a write of a moving bucket waits (5 by default).
package struct PartitionedStoreFile: Sendable, Hashable {
    package struct Member: Sendable, Hashable {
        package var name: String
        package var database: String
    }

    package var members: [Member]
    package var key: String
    package var bucketCount: Int
    package var moveWaitSeconds: Double

    package static let scheme = "partitioned"
    package static let urlForm = "partitioned:FILE"

    /// Whether `url` names a partitioned store (`partitioned:FILE`).
    package static func names(_ url: String) -> Bool { url.lowercased().hasPrefix(scheme + ":") }

    /// Reads the file that `url` (`partitioned:FILE`) names.
    /// - Throws: `invalidArgument` for a file that cannot be read or is not such a file.
    package init(url: String) throws(EventStoreError) {
        guard Self.names(url) else { throw .invalidArgument("\"\(url)\" is not \(Self.urlForm)") }
        let path = String(url.dropFirst(Self.scheme.count + 1))
        guard !path.isEmpty else { throw .invalidArgument("\(Self.urlForm) names the file of the store's members") }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .invalidArgument("the partitioned store's file \(path) cannot be read: \(error.localizedDescription)")
        }
        try self.init(jsonText: text, path: path)
    }

    /// Reads the file's text.
    package init(jsonText text: String, path: String = "the file") throws(EventStoreError) {
        func bad(_ what: String) -> EventStoreError { .invalidArgument("\(path): \(what)") }
        guard let value = try? JSONValue(parsing: text), case .object = value else { throw bad("not a JSON object") }
        guard case let .array(list)? = value["members"], !list.isEmpty else { throw bad("\"members\" lists one member or more") }
        var members: [Member] = []
        for entry in list {
            guard case let .string(name)? = entry["name"], case let .string(database)? = entry["database"] else {
                throw bad("each member has a \"name\" and a \"database\" (its URL)")
            }
            guard PlacementMap.isValid(memberName: name) else {
                throw bad("a member's name has 1 to 64 ASCII letters, digits, _, - and ., not \(JSONValue.string(name).jsonText)")
            }
            if Self.names(database) { throw bad("member \(name)'s database is itself partitioned") }
            members.append(Member(name: name, database: database))
        }
        if Set(members.map(\.name)).count != members.count { throw bad("each member's name is used once") }
        switch value["key"] {
        case nil: key = "stream"
        case let .string(text)?:
            _ = try PartitionKey(named: text)
            key = text
        default: throw bad("\"key\" is stream, category, id or prefix:<one character>")
        }
        switch value["bucketCount"] {
        case nil: bucketCount = PlacementMap.defaultBucketCount
        case let count?:
            guard let number = count.wholeNumber, (1...65_536).contains(number) else { throw bad("\"bucketCount\" is 1 to 65536") }
            bucketCount = number
        }
        switch value["moveWaitSeconds"] {
        case nil: moveWaitSeconds = 5
        case let .number(text)?:
            guard let seconds = Double(text), seconds.isFinite, seconds >= 0, seconds <= 3_600 else {
                throw bad("\"moveWaitSeconds\" is 0 to 3600")
            }
            moveWaitSeconds = seconds
        default: throw bad("\"moveWaitSeconds\" is a number of seconds")
        }
        self.members = members
    }

    /// The store's settings.
    package func configuration(logger: Logger) throws(EventStoreError) -> PartitionedStoreConfiguration {
        var configuration = PartitionedStoreConfiguration(key: try PartitionKey(named: key))
        configuration.bucketCount = bucketCount
        configuration.moveWait = .milliseconds(Int64(moveWaitSeconds * 1000))
        configuration.logger = logger
        return configuration
    }

    /// Opens every member (each as `--database` would), then the partitioned store over them, runs `body`
    /// with it, and closes the members whether `body` returns or throws.
    /// - Throws: `invalidArgument` for a member whose backend cannot be a member (`memory:`).
    package func withStore<T: Sendable>(logger: Logger, _ body: @Sendable (PartitionedEventStore) async throws -> T) async throws -> T {
        let configuration = try configuration(logger: logger)
        return try await withMembers(members.count, tablePrefix: nil, logger: logger) { opened in
            try await body(try await PartitionedEventStore.open(members: opened, configuration: configuration))
        }
    }

    /// Opens the first `count` members (each as `--database` would, with `tablePrefix` in place of its URL's
    /// when given), runs `body` with them, and closes them whether `body` returns or throws.
    /// - Throws: `invalidArgument` for a member whose backend cannot be a member (`memory:`).
    package func withMembers<T: Sendable>(
        _ count: Int, tablePrefix: String?, logger: Logger, _ body: @Sendable ([PartitionedEventStore.Member]) async throws -> T
    ) async throws -> T {
        try await opening(members.prefix(count), opened: [], tablePrefix: tablePrefix, logger: logger, body)
    }

    private func opening<T: Sendable>(
        _ rest: ArraySlice<Member>, opened: [PartitionedEventStore.Member], tablePrefix: String?, logger: Logger,
        _ body: @Sendable ([PartitionedEventStore.Member]) async throws -> T
    ) async throws -> T {
        guard let next = rest.first else { return try await body(opened) }
        return try await StoreBackends.backend(for: next.database).withStore(tablePrefix: tablePrefix, logger: logger) { store in
            guard let member = store as? any PartitionMemberStore else {
                throw EventStoreError.invalidArgument("member \(next.name)'s database (\(next.database)) cannot be a member: use an SQL backend")
            }
            return try await opening(
                rest.dropFirst(), opened: opened + [.init(name: next.name, store: member)], tablePrefix: tablePrefix, logger: logger, body)
        }
    }
}
