import EventStore
import EventStoreConformance
import EventStorePostgres
import EventStoreTestSupport
import Foundation
import Logging
import MetricsTestKit
import Synchronization
import Testing

@Suite("PostgreSQL store", .enabled(if: PostgresTestServer.shouldRun, "\(PostgresTestServer.skipMessage)"), .watchdog())
struct PostgresStoreTests {
    /// Issue 21: operations are timed by name and failures counted by code (``StoreMetricsCheck``).
    @Test func operationsAreTimedAndFailuresCountedByCode() async throws {
        let metrics = TestMetrics()
        try await PostgresEventStore.withStore(
            configuration: try PostgresTestServer.configuration(), logger: PostgresTestServer.logger,
            telemetry: EventStoreTelemetry(metrics: metrics)
        ) { store in
            try await StoreMetricsCheck.run(store, metrics: metrics, backend: "postgresql")
        }
    }

    /// A store opened with `withStore` and used at once logs no warning: its first call waits until the pools
    /// run (PostgresNIO warned, at almost every open, of a connection leased before its pool's `run()`). A store
    /// whose `run()` is never called says so once.
    @Test func aStoreOpenedAndUsedAtOnceLogsNoWarning() async throws {
        let log = LogRecorder()
        let prefix = PostgresTestServer.uniquePrefix()
        for index in 1...5 {
            _ = try await PostgresEventStore.withStore(configuration: try PostgresTestServer.configuration(prefix: prefix), logger: log.logger()) {
                store in
                try await store.create(try StreamName("opened-\(index)"), events: [EventMessage(messageName: "Opened")])
            }
        }
        #expect(log.all.filter { $0.level >= .warning }.map(\.message) == [])
        #expect(!log.all.isEmpty, "the recorder kept the store's log")

        // A store whose run() nobody calls: its calls fail at their deadline, and that is said once.
        let forgotten = LogRecorder()
        var configuration = try PostgresTestServer.configuration(prefix: prefix)
        configuration.queryTimeout = .seconds(1)
        configuration.connectTimeout = .seconds(1)
        let store = try PostgresEventStore(configuration: configuration, logger: forgotten.logger())
        for _ in 1...2 {
            let error = await #expect(throws: EventStoreError.self) { try await store.load("opened-1").collect() }
            #expect(error?.code == .backend, "\(String(describing: error))")
        }
        let warnings = forgotten.all.filter { $0.level >= .warning }.map(\.message)
        #expect(warnings.filter { $0.contains("came before the store's run()") }.count == 1, "\(warnings)")
        #expect(!warnings.contains { $0.contains("Trying to lease") }, "\(warnings)")
    }

    @Test func urlsCarryEverySetting() throws {
        let configuration = try PostgresConfiguration(
            url: "postgres://app:s%40cret@db.example:6543/events?sslmode=require&pool_size=7&connect_timeout=3&query_timeout=2.5&migration_timeout=900&schema=es&table_prefix=p_&reader=postgresnio")
        #expect(configuration.host == "db.example")
        #expect(configuration.port == 6543)
        #expect(configuration.username == "app")
        #expect(configuration.password == "s@cret")
        #expect(configuration.database == "events")
        #expect(configuration.tls == .require)
        #expect(configuration.poolSize == 7)
        #expect(configuration.connectTimeout == .seconds(3))
        #expect(configuration.queryTimeout == .milliseconds(2500))
        #expect(configuration.migrationTimeout == .seconds(900))
        #expect(configuration.schema == "es")
        #expect(configuration.tablePrefix == "p_")
        #expect(!configuration.readsThroughLibpq)
        let defaults = try PostgresConfiguration(url: "postgresql://localhost")
        #expect(defaults.tls == .prefer)
        #expect(defaults.port == 5432)
        #expect(defaults.username == "postgres")
        #expect(defaults.queryTimeout == .seconds(30))
        #expect(defaults.migrationTimeout == .seconds(300))
        #expect(defaults.readsThroughLibpq)
        for bad in [
            "mysql://x", "postgres://", "postgres://h/db?sslmode=maybe", "postgres://h/db?pool_size=0", "postgres://h/db?color=red",
            "postgres://h/db?query_timeout=0", "postgres://h/db?query_timeout=-1", "postgres://h/db?query_timeout=soon",
            "postgres://h/db?query_timeout=inf", "postgres://h/db?reader=odbc", "postgres://h/db?migration_timeout=0",
        ] {
            #expect(throws: EventStoreError.self, "\(bad)") { try PostgresConfiguration(url: bad) }
        }
    }

    /// Issue 22: libpq's multi-host URLs, each host with its port or 5432, and Patroni's endpoints.
    @Test func multiHostURLsNameEveryHost() throws {
        let configuration = try PostgresConfiguration(
            url: "postgres://app:s%40cret@h1:5433,h2,[::1]:5435,10.0.0.4:5436/events?sslmode=disable&target_session_attrs=read-write&patroni=http://h1:8008,http://h2:8009")
        #expect(configuration.hosts.map(\.description) == ["h1:5433", "h2:5432", "[::1]:5435", "10.0.0.4:5436"])
        #expect(configuration.host == "h1" && configuration.port == 5433)
        #expect(configuration.username == "app" && configuration.password == "s@cret" && configuration.database == "events")
        #expect(configuration.tls == .disable)
        #expect(configuration.patroniEndpoints.map(\.description) == ["http://h1:8008", "http://h2:8009"])
        #expect(try PostgresConfiguration(url: "postgres://h1,h2").hosts.map(\.description) == ["h1:5432", "h2:5432"])
        for bad in [
            "postgres://h1,h2:port/db", "postgres://h1,/db", "postgres://h1,h2:0/db", "postgres://h1,[::1]x/db",
            "postgres://h1/db?patroni=h1:8008", "postgres://h1/db?patroni=https://h1:8008", "postgres://h1/db?patroni=http://h1",
            "postgres://h1/db?target_session_attrs=read-only",
        ] {
            #expect(throws: EventStoreError.self, "\(bad)") { try PostgresConfiguration(url: bad) }
        }
    }

    /// Issue 22: an append's statement commits after its CommandComplete, at the protocol's Sync; a commit
    /// refused there (here a deferred constraint trigger; in a switchover, a backend terminated before it
    /// commits) must not be acknowledged. Before the fix the append returned success and nothing was stored.
    @Test func anAppendWhoseCommitFailsIsNotAcknowledged() async throws {
        let prefix = PostgresTestServer.uniquePrefix()
        try await PostgresTestServer.withStore(prefix: prefix) { store in
            try await store.create("commit-refused", events: [EventMessage(messageName: "Kept")])
            _ = try await PostgresTestServer.shell().run("""
                CREATE FUNCTION "\(prefix)refuse"() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'refused at commit'; END$$;
                CREATE CONSTRAINT TRIGGER "\(prefix)refuse" AFTER INSERT ON "\(prefix)events"
                    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "\(prefix)refuse"()
                """)
            let error = await #expect(throws: EventStoreError.self) {
                try await store.append([EventMessage(messageName: "Refused")], to: "commit-refused", expectedVersion: .exact(1))
            }
            #expect(error?.code == .backend, "\(String(describing: error))")
            #expect(try await store.load("commit-refused").collect().map(\.messageName) == ["Kept"])
        }
    }

    @Test func aHostilePrefixOrSchemaIsRejected() throws {
        for prefix in ["a;DROP TABLE x", "\"", "1a", String(repeating: "p", count: 37)] {
            var configuration = try PostgresTestServer.configuration(prefix: prefix)
            configuration.tablePrefix = prefix
            #expect(throws: EventStoreError.self) { try PostgresEventStore(configuration: configuration, logger: PostgresTestServer.logger) }
        }
        var configuration = try PostgresTestServer.configuration()
        configuration.schema = "public; DROP SCHEMA public"
        #expect(throws: EventStoreError.self) { try PostgresEventStore(configuration: configuration, logger: PostgresTestServer.logger) }
    }

    @Test func concurrentStartsMigrateOnce() async throws {
        let prefix = PostgresTestServer.uniquePrefix()
        let versions = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    try await PostgresTestServer.withStore(prefix: prefix) { store in try await store.migrate() }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(versions.count == 4 && Set(versions) == [10])
    }

    /// A start waits for another process's migration at most `migrationTimeout`, then fails with `backend`
    /// naming the setting: a process that hangs holding the migration lock never hangs the starts beside it
    /// (PostgreSQL's `lock_timeout` bounds the wait; it waited for ever).
    @Test func aStartGivesUpOnAMigrationLockHeldPastItsTimeout() async throws {
        var configuration = try PostgresTestServer.configuration()
        _ = try await PostgresEventStore.withStore(configuration: configuration, logger: PostgresTestServer.logger) { _ in }
        configuration.migrationTimeout = .seconds(2)
        let lock = "eventstore:migrate:." + configuration.tablePrefix
        let shell = try PostgresTestServer.shell()
        let holder = Task { try await shell.run("BEGIN; SELECT pg_advisory_xact_lock(hashtext('\(lock)')); SELECT pg_sleep(10); COMMIT;") }
        try await shell.waitFor(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = hashtext('\(lock)')::oid", toPrint: "1")
        let started = ContinuousClock.now
        do {
            _ = try await PostgresEventStore.withStore(configuration: configuration, logger: PostgresTestServer.logger) { _ in
                Issue.record("the store opened while another session held the migration lock")
            }
        } catch let error as EventStoreError {
            #expect(error.code == .backend && "\(error)".contains("migration_timeout"), "\(error)")
        }
        #expect(ContinuousClock.now - started < .seconds(8))
        _ = try await holder.value
        // Once the lock is free, the same start opens.
        _ = try await PostgresEventStore.withStore(configuration: configuration, logger: PostgresTestServer.logger) { _ in }
    }

    @Test func tablesCanLiveInTheirOwnSchema() async throws {
        let schema = "es_" + PostgresTestServer.uniquePrefix()
        var configuration = try PostgresTestServer.configuration()
        configuration.schema = schema
        // The store never creates schemas itself: they belong to the database's owner.
        try await PostgresTestServer.shell().run("CREATE SCHEMA \"\(schema)\"")
        try await PostgresEventStore.withStore(configuration: configuration, logger: PostgresTestServer.logger) { store in
            try await store.create("user-1", events: [EventMessage(messageName: "A")])
            #expect(try await store.load("user-1").collect().count == 1)
        }
    }

    @Test func appendsSignalTheirPositionAfterCommit() async throws {
        try await PostgresTestServer.withStore { store in
            try await store.create("notify-1")
            var notifications = store.notifications().makeAsyncIterator()
            #expect(try await notifications.next() == .start)
            let appended = try await store.append([EventMessage(messageName: "A"), EventMessage(messageName: "B")], to: "notify-1")
            #expect(try await notifications.next() == appended.lastGlobalPosition)
            // A rolled-back transaction signals nothing; the next commit does.
            try? await store.transaction { tx in
                try await tx.append([EventMessage(messageName: "C")], to: "notify-1")
                throw CancellationError()
            }
            let next = try await store.append([EventMessage(messageName: "D")], to: "notify-1")
            #expect(try await notifications.next() == next.lastGlobalPosition)
        }
    }

    /// A database the schema-4 build wrote (a dump of its tables) migrates and reads back unchanged. Its
    /// global order is not checked: restored into another cluster, the rows carry the old cluster's
    /// transaction ids, which this fresh server may not have reached yet.
    @Test func aDatabaseOfTheSchema4BuildMigratesAndReadsBackUnchanged() async throws {
        let url = try #require(PostgresTestServer.url)
        // The dump drops the tables of its own schema; a later run's newer tables go first.
        try await SQLShell.postgres(url).run(
            "DROP TABLE IF EXISTS \(Schema4Fixture.tablePrefix)consumer_groups, \(Schema4Fixture.tablePrefix)partition_placement")
        try await Schema4Fixture.load("postgres.sql", with: "psql", [url, "-q", "-v", "ON_ERROR_STOP=1"])
        var configuration = try PostgresConfiguration(url: url)
        configuration.tablePrefix = Schema4Fixture.tablePrefix
        try await PostgresEventStore.withStore(configuration: configuration, logger: PostgresTestServer.logger) { store in
            #expect(try await store.migrate() == 10)
            try await Schema4Fixture.verify(store)
        }
    }

    /// A transaction that gets no connection within the connect timeout fails with `backend`, and the store
    /// goes on. (Its closure must not outlive the call: Swift ends the process when a closure passed as
    /// non-escaping is still held once the call returns.)
    @Test func aTransactionThatGetsNoConnectionFailsAndTheStoreGoesOn() async throws {
        var configuration = try PostgresTestServer.configuration()
        configuration.poolSize = 1
        // Long enough that, on a loaded machine, the calls that should get the connection do; the starved one
        // waits it out.
        configuration.connectTimeout = .seconds(15)
        try await PostgresEventStore.withStore(configuration: configuration, logger: PostgresTestServer.logger) { store in
            try await store.create("held-1")
            let (holding, holdingStarted) = AsyncStream<Void>.makeStream()
            let (released, release) = AsyncStream<Void>.makeStream()
            let holder = Task {
                try await store.transaction { tx in
                    // A read only: a transaction that wrote would hold back every global-order reader of
                    // the database (other suites') while it is open.
                    _ = try await tx.hasStream("held-1")
                    holdingStarted.yield()
                    for await _ in released {}
                }
            }
            for await _ in holding { break }
            Watchdog.step("a second transaction waits for the only connection")
            let error = await #expect(throws: EventStoreError.self) {
                try await store.transaction { tx in try await tx.append([EventMessage(messageName: "Starved")], to: "held-1") }
            }
            #expect(error?.code == .backend)
            release.finish()
            try await holder.value
            try await store.transaction { tx in try await tx.append([EventMessage(messageName: "After")], to: "held-1") }
            #expect(try await store.load("held-1").collect().map(\.messageName) == ["After"])
        }
    }

    /// A delete racing an append of one stream waits for it, and leaves no event without its stream.
    @Test func aDeleteRacingAnAppendWaitsForItAndLeavesNoOrphan() async throws {
        let prefix = PostgresTestServer.uniquePrefix()
        try await PostgresTestServer.withStore(prefix: prefix) { store in
            try await PostgresTestServer.deleteRace(prefix: prefix).deleteWaitsForTheAppend(store)
        }
    }

    /// An append whose stream row is deleted behind the store's back while it runs fails, and leaves nothing.
    @Test func anAppendWhoseStreamRowVanishesMidwayFailsAndLeavesNoOrphan() async throws {
        let prefix = PostgresTestServer.uniquePrefix()
        try await PostgresTestServer.withStore(prefix: prefix) { store in
            try await PostgresTestServer.deleteRace(prefix: prefix).appendFailsWhenItsStreamRowVanishes(store)
        }
    }

    /// Many short transactions at once, half of them rolled back: each returns, and only the committed ones
    /// are stored.
    @Test func manyTransactionsAtOnceEachEndOnce() async throws {
        try await PostgresTestServer.withStore { store in
            let tasks = 8
            let rounds = 40
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<tasks {
                    group.addTask {
                        let stream = try StreamName("tx-\(task)")
                        try await store.create(stream)
                        for round in 0..<rounds {
                            do {
                                try await store.transaction { tx in
                                    try await tx.append([EventMessage(messageName: "Round", metadata: ["round": .int(round)])], to: stream)
                                    if round % 2 == 1 { throw CancellationError() }
                                }
                            } catch is CancellationError {}
                        }
                    }
                }
                try await group.waitForAll()
            }
            for task in 0..<tasks {
                #expect(try await store.load(try StreamName("tx-\(task)")).collect().count == rounds / 2)
            }
        }
    }
}

/// Issue 20: an append took five round trips (BEGIN, the stream's lock, its version, the insert with the
/// version's update, COMMIT); it is one statement now (the schema's append function), which the server
/// commits as it ends. Counted in the log of a server of its own that logs every statement.
@Suite("PostgreSQL round trips", .enabled(if: PostgresTestServer.shouldRun, "\(PostgresTestServer.skipMessage)"), .watchdog())
struct PostgresRoundTripTests {
    @Test func aCreateAndAnAppendAreOneStatementEach() async throws {
        let server = try await PrivatePostgresServer.start("round-trips")
        do {
            let shell = SQLShell.postgres(server.url)
            _ = try await shell.run("ALTER DATABASE eventstore SET log_statement = 'all'")
            let log = server.directory.appendingPathComponent("server.log")
            // The statements the server logged while `body` ran, told from a marker psql sends after it.
            @Sendable func statements(_ body: () async throws -> Void) async throws -> [String] {
                let start = try Data(contentsOf: log).count
                try await body()
                let marker = "end of call \(UUID())"
                _ = try await shell.run("SELECT '\(marker)'")
                let text = String(decoding: try Data(contentsOf: log).dropFirst(start), as: UTF8.self)
                let lines = text.split(separator: "\n").prefix { !$0.contains(marker) }
                return lines.filter { $0.contains("LOG:  statement: ") || $0.contains("LOG:  execute ") }
                    // The store's listener checks its connection every 5 s.
                    .filter { !$0.hasSuffix(": SELECT 1") && !$0.contains("LISTEN") }.map(String.init)
            }
            try await PostgresEventStore.withStore(configuration: try PostgresConfiguration(url: server.url), logger: PostgresTestServer.logger) {
                store in
                let created = try await statements {
                    try await store.create("trip-1", metadata: ["tenant": "a"], events: [EventMessage(messageName: "Opened")])
                }
                #expect(created.count == 1, "\(created)")
                let appended = try await statements {
                    try await store.append(
                        [EventMessage(messageName: "A"), EventMessage(messageName: "B")], to: "trip-1", expectedVersion: .exact(1))
                }
                #expect(appended.count == 1, "\(appended)")
                let anyVersion = try await statements {
                    try await store.append([EventMessage(messageName: "C")], to: "trip-2", expectedVersion: .noStream)
                    try await store.append([EventMessage(messageName: "D")], to: "trip-2", expectedVersion: .any)
                }
                #expect(anyVersion.count == 2, "\(anyVersion)")
                #expect(try await store.load("trip-1").collect().map(\.messageName) == ["Opened", "A", "B"])
                #expect(try await store.streamMetadata(of: "trip-1") == ["tenant": "a"])
            }
        } catch {
            await server.remove()
            throw error
        }
        await server.remove()
    }
}
