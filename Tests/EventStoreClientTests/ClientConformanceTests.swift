import EventStore
import EventStoreClient
import EventStoreConformance
import EventStoreHTTP
import EventStorePostgres
import EventStoreSQLite
import EventStoreTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// The backend behind the server a client talks to.
enum ServedBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case memory, sqlite, postgres

    var testDescription: String { rawValue }
}

/// A live `eventstore serve`-like server (the HTTP API's application, with a token) on a loopback port over
/// a fresh store of `backend`, and an ``EventStoreClient`` of it for `body`.
func withClient<T: Sendable>(
    of backend: ServedBackend, readBatchSize: Int = 100, _ body: @Sendable (EventStoreClient) async throws -> T
) async throws -> T {
    let token = "client-token"
    let server = {
        var server = EventStoreHTTPConfiguration()
        server.tokens = [token]
        return server
    }()
    let logger = {
        var logger = Logger(label: "eventstore.tests.client")
        logger.logLevel = .critical
        return logger
    }()
    @Sendable func serve(_ store: any EventStore) async throws -> T {
        let app = try EventStoreHTTPServer.application(store: store, host: "127.0.0.1", port: 0, configuration: server, logger: logger)
        return try await app.test(.live) { testClient in
            var configuration = EventStoreClientConfiguration(token: token)
            configuration.readBatchSize = readBatchSize
            configuration.pollInterval = .milliseconds(50)
            let client = try EventStoreClient(url: "http://127.0.0.1:\(try #require(testClient.port))", configuration: configuration)
            let result: Result<T, any Error>
            do { result = .success(try await body(client)) } catch { result = .failure(error) }
            try await client.shutdown()
            return try result.get()
        }
    }
    switch backend {
    case .memory:
        return try await serve(InMemoryEventStore(readBatchSize: readBatchSize))
    case .sqlite:
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("es-client-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = SQLiteConfiguration(path: directory.appendingPathComponent("events.sqlite").path)
        configuration.readBatchSize = readBatchSize
        let store = try await SQLiteEventStore(configuration: configuration)
        let result = await Result { try await serve(store) }
        await store.close()
        return try result.get()
    case .postgres:
        let configuration = try {
            var configuration = try PostgresConfiguration(url: try ClientTests.postgres.requiredURL())
            configuration.tablePrefix = TestDatabaseServer.uniquePrefix()
            configuration.readBatchSize = readBatchSize
            configuration.poolSize = 4
            return configuration
        }()
        return try await PostgresEventStore.withStore(configuration: configuration, logger: logger) { store in try await serve(store) }
    }
}

enum ClientTests {
    static let postgres = TestDatabaseServer(variable: "EVENTSTORE_POSTGRES_URL", what: "a PostgreSQL database")
    /// Cases run at once. Each holds a server, a client's pooled connections and the store's, and run all
    /// together they opened over 1,300 descriptors: past about that many, Foundation's `Process.run()` in
    /// Swift 6.3.1 crashes (see `ProcessLaunch`) when any other test starts a process.
    static let limit = ConcurrencyLimit(6)
}


@Suite("EventStoreClient conformance", .watchdog())
struct ClientConformanceTests {
    /// The features the HTTP protocol cannot express, each with its reason.
    static let skippedFeatures: [String: String] = [
        "projections": projectionReason, "projection control": projectionReason, "projection manager": projectionReason,
        "read models": projectionReason,
    ]

    static let projectionReason = """
        ProjectionStore changes a projection's record (state, positions, lease) by a read-modify-write in the backend's \
        transaction, together with the events it emits: one request cannot carry it. Projections run beside the store, \
        in the server, whose /projection routes manage them.
        """

    /// Single cases the HTTP protocol cannot express, each with its reason; every other case runs.
    static let skipped: [String: String] = [
        "transactions/loadAndSaveWithinOneTransaction": writeThenRead,
        "deletion/deletesInATransactionThatFailsAreUndone": writeThenRead,
        "transactions/anOutsideWriterWaitsAndSeesTheCommittedVersion": """
            A client transaction holds no lock while its body runs: its writes are one request, sent when the body \
            returns. An outside writer is not held back; the conflict falls to the transaction instead.
            """,
        "telemetry/subscriptionAndProjectionPagesAreConsumerSpansThatParentTheirReads": projectionReason,
    ]

    static let writeThenRead = """
        The body reads what it wrote: a client transaction is one request (POST /append), sent when its body returns, \
        so its body reads only before it writes.
        """

    static var cases: [ConformanceCase] { kept(EventStoreConformance.cases) }

    static func kept(_ cases: [ConformanceCase]) -> [ConformanceCase] {
        cases.filter { skippedFeatures[$0.feature] == nil && skipped["\($0.feature)/\($0.name)"] == nil }
    }

    @Test(arguments: cases, ServedBackend.allCases)
    func conformance(_ testCase: ConformanceCase, backend: ServedBackend) async throws {
        if backend == .postgres, !ClientTests.postgres.shouldRun { return }
        Watchdog.step("case \(testCase) through the client, served from \(backend)")
        try await testCase.run { settings, body in
            try await ClientTests.limit.run {
                try await withClient(of: backend, readBatchSize: settings.readBatchSize) { client in try await body(client) }
            }
        }
    }

    @Test func everySkippedCaseIsACaseOfTheSuite() {
        let names = Set(EventStoreConformance.allCases.map { "\($0.feature)/\($0.name)" })
        for name in Self.skipped.keys { #expect(names.contains(name), "\(name) is skipped but is no case of the suite") }
        let features = Set(EventStoreConformance.allCases.map(\.feature))
        for feature in Self.skippedFeatures.keys { #expect(features.contains(feature), "\(feature) is skipped but is no feature of the suite") }
        // What the client is for: most of the suite runs through it.
        #expect(Self.kept(EventStoreConformance.allCases).count * 3 > EventStoreConformance.allCases.count * 2)
    }
}
