@_spi(Backend) import EventStore
import EventStorePostgres
import EventStoreSQLite
import EventStoreTestSupport
import Foundation
import Logging
import Testing

#if MySQL
import EventStoreMySQL
#endif

/// What a partitioned store's members are in a test.
enum MemberKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// Three SQLite files.
    case sqlite
    /// Three PostgreSQL databases, each on a server of its own (scripts/test starts them).
    case postgres
    #if MySQL
    /// Three sets of tables (three prefixes) on the MariaDB server.
    case mariadb
    #endif

    /// Whether this kind's servers are there (in CI a missing one fails the run: ``TestDatabaseServer``).
    var shouldRun: Bool {
        switch self {
        case .sqlite: true
        case .postgres: PartitionTests.postgresShouldRun
        #if MySQL
        case .mariadb: PartitionTests.mariadb.shouldRun
        #endif
        }
    }

    var testDescription: String { rawValue }
}

enum PartitionTests {
    /// The three PostgreSQL servers.
    static let servers = [
        TestDatabaseServer(variable: "EVENTSTORE_POSTGRES_URL", what: "a PostgreSQL database"),
        TestDatabaseServer(variable: "EVENTSTORE_POSTGRES_URL_B", what: "a second PostgreSQL server"),
        TestDatabaseServer(variable: "EVENTSTORE_POSTGRES_URL_C", what: "a third PostgreSQL server"),
    ]

    static var postgresShouldRun: Bool { servers.allSatisfy(\.shouldRun) }

    static let mariadb = TestDatabaseServer(variable: "EVENTSTORE_MYSQL_URL", what: "a MariaDB database")

    /// Partitioned stores open at once (``withMembers(_:readBatchSize:limit:_:)`` takes a place): each holds
    /// three stores (three files and their logs, or three pools). The conformance cases (about 160 per
    /// member kind) have places of their own, so that the other tests never wait behind them: 4 each. With
    /// the conformance cases at 8 and the other tests unbounded, the test process passed 1,350 descriptors,
    /// where Foundation's `Process.run()` crashes (see `ProcessLaunch`).
    static let limit = ConcurrencyLimit(4)
    static let conformanceLimit = ConcurrencyLimit(4)

    static let memberNames = ["a", "b", "c"]

    /// Three member stores of `kind` (new files, or new tables on each server), passed to `body`, then closed.
    static func withMembers<T: Sendable>(
        _ kind: MemberKind, readBatchSize: Int = 1000, limit: ConcurrencyLimit = limit,
        _ body: @Sendable ([PartitionedEventStore.Member]) async throws -> T
    ) async throws -> T {
        try await limit.run { try await openMembers(kind, readBatchSize: readBatchSize, body) }
    }

    private static func openMembers<T: Sendable>(
        _ kind: MemberKind, readBatchSize: Int, _ body: @Sendable ([PartitionedEventStore.Member]) async throws -> T
    ) async throws -> T {
        switch kind {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("eventstore-partitions-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            var stores: [SQLiteEventStore] = []
            for name in memberNames {
                var configuration = SQLiteConfiguration(path: directory.appendingPathComponent("\(name).sqlite").path)
                configuration.readBatchSize = readBatchSize
                stores.append(try await SQLiteEventStore(configuration: configuration))
            }
            let result = await Result { try await body(zip(memberNames, stores).map { .init(name: $0, store: $1) }) }
            for store in stores { await store.close() }
            return try result.get()
        case .postgres:
            let prefix = TestDatabaseServer.uniquePrefix()
            let urls = try servers.map { try $0.requiredURL() }
            return try await withPostgres(urls, prefix: prefix, readBatchSize: readBatchSize, opened: []) { try await body($0) }
        #if MySQL
        case .mariadb:
            let url = try mariadb.requiredURL()
            let prefix = TestDatabaseServer.uniquePrefix()
            var stores: [MySQLEventStore] = []
            let opened = await Result {
                for name in memberNames {
                    var configuration = try MySQLConfiguration(url: url)
                    configuration.tablePrefix = prefix + name + "_"
                    configuration.readBatchSize = readBatchSize
                    configuration.poolSize = 4
                    stores.append(try await MySQLEventStore(configuration: configuration))
                }
            }
            let result = await Result {
                try opened.get()
                return try await body(zip(memberNames, stores).map { .init(name: $0, store: $1) })
            }
            for store in stores { await store.close() }
            return try result.get()
        #endif
        }
    }

    /// Opens a store on each URL in turn, each running while the body does (its connect timeout from
    /// `connectTimeouts`, 10 s otherwise), then runs `body` with them all.
    static func withPostgres<T: Sendable>(
        _ urls: [String], prefix: String, readBatchSize: Int, connectTimeouts: [String: Duration] = [:],
        opened: [PartitionedEventStore.Member], _ body: @Sendable ([PartitionedEventStore.Member]) async throws -> T
    ) async throws -> T {
        guard let url = urls.first else { return try await body(opened) }
        var configuration = try PostgresConfiguration(url: url)
        configuration.tablePrefix = prefix
        configuration.readBatchSize = readBatchSize
        configuration.poolSize = 4
        if let timeout = connectTimeouts[url] { configuration.connectTimeout = timeout }
        let name = memberNames[opened.count]
        return try await PostgresEventStore.withStore(configuration: configuration, logger: Logger(label: "member-\(name)")) { store in
            try await withPostgres(
                Array(urls.dropFirst()), prefix: prefix, readBatchSize: readBatchSize, connectTimeouts: connectTimeouts,
                opened: opened + [.init(name: name, store: store)], body)
        }
    }

    /// A partitioned store over three members of `kind`.
    static func withStore<T: Sendable>(
        _ kind: MemberKind, readBatchSize: Int = 1000, configuration: PartitionedStoreConfiguration = .init(),
        limit: ConcurrencyLimit = limit, _ body: @Sendable (PartitionedEventStore) async throws -> T
    ) async throws -> T {
        try await withMembers(kind, readBatchSize: readBatchSize, limit: limit) { members in
            try await body(try await PartitionedEventStore.open(members: members, configuration: configuration))
        }
    }

    /// A partitioned store of 64 buckets over three members of `kind`, with a stream on each member (in the
    /// members' order) holding `events` events.
    static func withStreamOnEachMember<T: Sendable>(
        _ kind: MemberKind, events: Int, _ body: @Sendable (PartitionedEventStore, [StreamName]) async throws -> T
    ) async throws -> T {
        var configuration = PartitionedStoreConfiguration()
        configuration.bucketCount = 64
        return try await withStore(kind, configuration: configuration) { store in
            let streams = try store.members.map { try stream(on: $0.name, of: store) }
            for stream in streams { try await store.create(stream, events: PartitionMoveTests.events(events)) }
            return try await body(store, streams)
        }
    }

    /// A stream name of `category` whose member under `store`'s map is `member`, the `index`-th such name.
    static func stream(on member: String, of store: PartitionedEventStore, category: String = "s", index: Int = 0) throws -> StreamName {
        var found = 0
        for n in 0..<100_000 {
            let name = try StreamName("\(category)-\(n)")
            if store.location(of: name).member == member {
                if found == index { return name }
                found += 1
            }
        }
        throw EventStoreError.invalidArgument("no stream of \(category) lives on \(member)")
    }
}
