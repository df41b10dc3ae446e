#if MySQL
import EventStore
import EventStoreConformance
import EventStoreMySQL
import EventStoreSQL
import EventStoreTestSupport
import Foundation
import MetricsTestKit
import Synchronization
import Testing

/// The throwaway MariaDB server of `scripts/test` (see ``TestDatabaseServer``).
enum MySQLTestServer {
    static let server = TestDatabaseServer(variable: "EVENTSTORE_MYSQL_URL", what: "a MariaDB or MySQL database")
    static let shouldRun = server.shouldRun
    static let skipMessage = server.skipMessage

    static func configuration(readBatchSize: Int = 100) throws -> MySQLConfiguration {
        var configuration = try MySQLConfiguration(url: try server.requiredURL())
        configuration.tablePrefix = TestDatabaseServer.uniquePrefix()
        configuration.readBatchSize = readBatchSize
        configuration.poolSize = 10
        return configuration
    }

    /// `mariadb` on the test database.
    static func shell() throws -> SQLShell {
        let c = try MySQLConfiguration(url: try server.requiredURL())
        return SQLShell.mariadb(host: c.host, port: c.port, user: c.username, password: c.password, database: c.database)
    }

    /// The delete races on the tables of `prefix`, with a trigger that makes each inserted row sleep (the
    /// process list shows the trigger's statement, named after the prefix).
    static func deleteRace(prefix: String) throws -> DeleteRace {
        DeleteRace(
            shell: try shell(),
            slowInserts: "CREATE TRIGGER `\(prefix)slow` BEFORE INSERT ON `\(prefix)events` FOR EACH ROW SET @\(prefix)slept = SLEEP(5)",
            sleepingInserts: """
                SELECT count(*) FROM information_schema.processlist
                WHERE state = 'User sleep' AND info LIKE '%\(prefix)slept%' AND id <> connection_id()
                """,
            orphans: "SELECT count(*) FROM `\(prefix)events` e LEFT JOIN `\(prefix)event_streams` s ON s.id = e.stream_id WHERE s.id IS NULL",
            events: "SELECT count(*) FROM `\(prefix)events`",
            deleteStreamRow: { "DELETE FROM `\(prefix)event_streams` WHERE name = '\($0)'" })
    }
}

@Suite("MySQL/MariaDB store conformance", .enabled(if: MySQLTestServer.shouldRun, "\(MySQLTestServer.skipMessage)"), .watchdog())
struct MySQLConformanceTests {
    @Test(arguments: EventStoreConformance.cases)
    func conformance(_ testCase: ConformanceCase) async throws {
        Watchdog.step("case \(testCase)")
        try await testCase.run { settings, body in
            try await body(try await MySQLEventStore(configuration: try MySQLTestServer.configuration(readBatchSize: settings.readBatchSize)))
        }
    }
}

/// The model check (random operation sequences against the in-memory store) on one store's tables.
@Suite("MySQL/MariaDB model check", .enabled(if: MySQLTestServer.shouldRun, "\(MySQLTestServer.skipMessage)"), .watchdog())
struct MySQLModelCheckTests {
    @Test(arguments: 0..<ModelCheckChunks.count)
    func randomSequencesBehaveAsTheReference(_ chunk: Int) async throws {
        let store = try await MySQLEventStore(configuration: try MySQLTestServer.configuration())
        try await ModelCheck.run(
            on: store, seeds: ModelCheckChunks.seeds(chunk, sequences: ModelCheck.sequences, first: ModelCheck.firstSeed))
        await store.close()
    }
}

/// How many of a test's transactions are open.
final class OpenCount: Sendable {
    let count = Mutex(0)
}

@Suite("MySQL/MariaDB store", .enabled(if: MySQLTestServer.shouldRun, "\(MySQLTestServer.skipMessage)"), .watchdog())
struct MySQLStoreTests {
    /// Issue 21: operations are timed by name and failures counted by code (``StoreMetricsCheck``).
    @Test func operationsAreTimedAndFailuresCountedByCode() async throws {
        let metrics = TestMetrics()
        let store = try await MySQLEventStore(configuration: try MySQLTestServer.configuration(), telemetry: EventStoreTelemetry(metrics: metrics))
        try await StoreMetricsCheck.run(store, metrics: metrics, backend: "mysql")
        await store.close()
    }

    /// A database the schema-4 build wrote (a dump of its tables) migrates and reads back unchanged.
    @Test func aDatabaseOfTheSchema4BuildMigratesAndReadsBackUnchanged() async throws {
        var configuration = try MySQLTestServer.configuration()
        let password = configuration.password.map { ["-p\($0)"] } ?? []
        // The dump drops the tables of its own schema; a later run's newer tables go first.
        try await SQLShell.mariadb(
            host: configuration.host, port: configuration.port, user: configuration.username, password: configuration.password,
            database: configuration.database
        ).run(
            "DROP TABLE IF EXISTS \(Schema4Fixture.tablePrefix)consumer_groups, \(Schema4Fixture.tablePrefix)partition_placement")
        try await Schema4Fixture.load(
            "mariadb.sql", with: "mariadb",
            ["--no-defaults", "-h", configuration.host, "-P", "\(configuration.port)", "-u", configuration.username] + password
                + [configuration.database])
        configuration.tablePrefix = Schema4Fixture.tablePrefix
        let store = try await MySQLEventStore(configuration: configuration)
        #expect(store.schemaVersion == 11)
        try await Schema4Fixture.verify(store, globalOrder: store)
        await store.close()
    }

    /// A delete racing an append of one stream waits for it, and leaves no event without its stream.
    @Test func aDeleteRacingAnAppendWaitsForItAndLeavesNoOrphan() async throws {
        let configuration = try MySQLTestServer.configuration()
        let store = try await MySQLEventStore(configuration: configuration)
        try await MySQLTestServer.deleteRace(prefix: configuration.tablePrefix).deleteWaitsForTheAppend(store)
        await store.close()
    }

    /// An append whose stream row is deleted behind the store's back while it runs fails, and leaves nothing.
    @Test func anAppendWhoseStreamRowVanishesMidwayFailsAndLeavesNoOrphan() async throws {
        let configuration = try MySQLTestServer.configuration()
        let store = try await MySQLEventStore(configuration: configuration)
        try await MySQLTestServer.deleteRace(prefix: configuration.tablePrefix).appendFailsWhenItsStreamRowVanishes(store)
        await store.close()
    }

    /// A transaction whose connection is killed midway fails as a whole: its later calls do not run on a
    /// fresh connection outside it (before, the worker reconnected, a write caught by the body committed on
    /// its own and the transaction "succeeded" without its first write).
    @Test func aTransactionWhoseConnectionIsKilledFailsAndNothingOfItCommits() async throws {
        let configuration = try MySQLTestServer.configuration()
        let prefix = configuration.tablePrefix
        let race = try MySQLTestServer.deleteRace(prefix: prefix)
        let store = try await MySQLEventStore(configuration: configuration)
        try await race.shell.run(race.slowInserts)
        let transaction = Task {
            try await store.transaction { tx in
                _ = try? await tx.append([EventMessage(messageName: "A")], to: "tx-kill", expectedVersion: .noStream)
                try await tx.append([EventMessage(messageName: "C")], to: "tx-kill", expectedVersion: .noStream)
            }
        }
        try await race.shell.waitFor(race.sleepingInserts, toPrint: "1")
        let thread = try await race.shell.run(
            "SELECT id FROM information_schema.processlist WHERE state = 'User sleep' AND info LIKE '%\(prefix)slept%'")
        try await race.shell.run("KILL CONNECTION \(thread)")
        Watchdog.step("the transaction's connection was killed")
        await #expect(throws: EventStoreError.self) { try await transaction.value }
        #expect(try await store.hasStream("tx-kill") == false)
        #expect(try await race.shell.run(race.events) == "0")
        await store.close()
    }

    @Test func urlsCarryEverySetting() throws {
        let configuration = try MySQLConfiguration(url: "mysql://app:s%40cret@db.example:3307/events?pool_size=4&connect_timeout=3&query_timeout=7&migration_timeout=900&table_prefix=p_")
        #expect(configuration.flavor == .mysql)
        #expect(configuration.host == "db.example")
        #expect(configuration.port == 3307)
        #expect(configuration.username == "app")
        #expect(configuration.password == "s@cret")
        #expect(configuration.database == "events")
        #expect(configuration.poolSize == 4)
        #expect(configuration.connectTimeout == .seconds(3))
        #expect(configuration.queryTimeout == .seconds(7))
        #expect(try MySQLConfiguration(url: "mysql://h/x").queryTimeout == .seconds(30))
        #expect(configuration.migrationTimeout == .seconds(900))
        #expect(try MySQLConfiguration(url: "mysql://h/x").migrationTimeout == .seconds(300))
        #expect(configuration.tablePrefix == "p_")
        #expect(try MySQLConfiguration(url: "mariadb://localhost/x").flavor == .mariadb)
        for bad in ["postgres://h/x", "mysql://h", "mysql:///x", "mysql://h/x?pool_size=0", "mysql://h/x?query_timeout=0", "mysql://h/x?migration_timeout=0", "mysql://h/x?color=red"] {
            #expect(throws: EventStoreError.self, "\(bad)") { try MySQLConfiguration(url: bad) }
        }
    }

    @Test func concurrentStartsMigrateOnce() async throws {
        let configuration = try MySQLTestServer.configuration()
        let versions = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<4 { group.addTask { try await MySQLEventStore(configuration: configuration).schemaVersion } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(versions.count == 4 && Set(versions) == [11])
    }

    /// A start waits for another process's migration at most `migrationTimeout`, then fails with `backend`
    /// naming the setting: a process that hangs holding the lock never hangs the starts beside it.
    @Test func aStartGivesUpOnAMigrationLockHeldPastItsTimeout() async throws {
        var configuration = try MySQLTestServer.configuration()
        try await MySQLEventStore(configuration: configuration).close()
        configuration.queryTimeout = .seconds(2)
        configuration.migrationTimeout = .seconds(3)
        let shell = try MySQLTestServer.shell()
        let lock = "eventstore:migrate:" + configuration.tablePrefix
        let holder = Task { try await shell.run("SELECT GET_LOCK('\(lock)', 0); SELECT SLEEP(12)") }
        try await shell.waitFor("SELECT IS_USED_LOCK('\(lock)') IS NOT NULL", toPrint: "1")
        let started = ContinuousClock.now
        do {
            let store = try await MySQLEventStore(configuration: configuration)
            await store.close()
            Issue.record("the store opened while another session held the migration lock")
        } catch let error as EventStoreError {
            #expect(error.code == .backend && "\(error)".contains("migration_timeout"), "\(error)")
        }
        #expect(ContinuousClock.now - started < .seconds(10))
        _ = try await holder.value
    }

    /// A start waits for another process's migration however long it takes (up to `migrationTimeout`), though each
    /// statement has a shorter deadline: the wait for the lock is many short waits, not one longer than the
    /// query timeout (it was one, and a start beside a slow migration lost its connection).
    @Test func aStartWaitsForAMigrationLongerThanItsQueryTimeout() async throws {
        var configuration = try MySQLTestServer.configuration()
        // The tables exist first: DDL on a busy server can take longer than the short deadline below.
        try await MySQLEventStore(configuration: configuration).close()
        configuration.queryTimeout = .seconds(2)
        let shell = try MySQLTestServer.shell()
        let lock = "eventstore:migrate:" + configuration.tablePrefix
        let holder = Task { try await shell.run("SELECT GET_LOCK('\(lock)', 0); SELECT SLEEP(5)") }
        try await shell.waitFor("SELECT IS_USED_LOCK('\(lock)') IS NOT NULL", toPrint: "1")
        Watchdog.step("another session holds the migration lock for 5 s")
        let store = try await MySQLEventStore(configuration: configuration)
        #expect(store.schemaVersion == 11)
        _ = try await holder.value
        await store.close()
    }

    /// A wait for a lock ends on the server before the query deadline would end the connection: the append
    /// fails as busy (retry it), not as a lost connection whose outcome is unknown, and the store goes on.
    /// (The deadline is 5 s, the lock wait so 4 s: with 2 s, a CI run on two cores lost the connection of
    /// the append after the lock's release, past its deadline on a busy server.)
    @Test func anAppendBehindAHeldLockFailsAsBusyWithinItsDeadline() async throws {
        var configuration = try MySQLTestServer.configuration()
        try await MySQLEventStore(configuration: configuration).close()
        configuration.queryTimeout = .seconds(5)
        configuration.poolSize = 1
        let store = try await MySQLEventStore(configuration: configuration)
        let shell = try MySQLTestServer.shell()
        let marker = "held_" + configuration.tablePrefix
        let holder = Task {
            try await shell.run(
                "BEGIN; SELECT id FROM `\(configuration.tablePrefix)event_store_lock` WHERE id = 1 FOR UPDATE; SELECT SLEEP(15) AS \(marker); ROLLBACK")
        }
        try await shell.waitFor(
            "SELECT count(*) FROM information_schema.processlist WHERE state = 'User sleep' AND info LIKE '%\(marker)%' AND id <> connection_id()",
            toPrint: "1")
        Watchdog.step("another session holds the append lock for 15 s")
        let started = ContinuousClock.now
        let error = await #expect(throws: EventStoreError.self) {
            try await store.create("held-1", events: [EventMessage(messageName: "A")])
        }
        #expect(error?.code == .busy, "\(String(describing: error))")
        #expect(ContinuousClock.now - started < .seconds(10), "it failed before the lock's release")
        _ = try await holder.value
        try await store.create("held-1", events: [EventMessage(messageName: "A")])
        #expect(try await store.load("held-1").collect().map(\.messageName) == ["A"])
        await store.close()
    }

    @Test func aClosedStoreFailsWaitingAndLaterCalls() async throws {
        var configuration = try MySQLTestServer.configuration()
        configuration.poolSize = 1
        let store = try await MySQLEventStore(configuration: configuration)
        try await store.create("closed-1", events: [EventMessage(messageName: "A")])
        await store.close()
        let error = await #expect(throws: EventStoreError.self) { try await store.load("closed-1").collect() }
        #expect(error?.code == .backend)
        let reopened = try await MySQLEventStore(configuration: configuration)
        #expect(try await reopened.load("closed-1").collect().map(\.messageName) == ["A"])
        await reopened.close()
    }

    @Test func payloadNumbersStayAsWritten() async throws {
        // MySQL's JSON type would rewrite 1.0 as 1: the store keeps payloads in text columns.
        let store = try await MySQLEventStore(configuration: try MySQLTestServer.configuration())
        let payload = try Payload(json: "{\"a\": 1.0, \"b\": 12345678901234567890123, \"c\": -0.0}")
        try await store.create("numbers-1", events: [EventMessage(messageName: "N", payload: payload)])
        #expect(try await store.load("numbers-1").collect().first?.payload.jsonText == payload.jsonText)
    }

    @Test func aTailingReaderSeesEveryCommittedEventOnceAndNoRolledBackOne() async throws {
        try await GlobalOrderStress.run(try await MySQLEventStore(configuration: try MySQLTestServer.configuration()))
    }

    /// Many readers at once, while many other transactions are open: InnoDB builds a read view without
    /// stopping commits (the longer the list of open transactions, the longer it takes), so a view could show
    /// a writer's events but not those of the writer that held the append lock just before it.
    @Test func manyTailingReadersOfManyWritersSeeEveryCommittedEventOnce() async throws {
        let holders = 100
        var configuration = try MySQLTestServer.configuration()
        configuration.poolSize = 24 + holders
        let store = try await MySQLEventStore(configuration: configuration)
        let release = AsyncGate()
        await release.acquire()
        let held = OpenCount()
        let transactions = (0..<holders).map { number in
            Task {
                try await store.transaction { tx in
                    let tx = try #require(tx as? SQLEventStore)
                    try await tx.saveCheckpoint(GlobalPosition(sequence: 1), named: "holder-\(number)")
                    held.count.withLock { $0 += 1 }
                    await release.acquire()
                    await release.release()
                }
            }
        }
        try await within(.seconds(60), "\(holders) transactions open") {
            while held.count.withLock({ $0 }) < holders { try await Task.sleep(for: .milliseconds(10)) }
        }
        do {
            try await GlobalOrderStress.run(store, writers: 16, readers: 6, eventsPerWriter: GlobalOrderStress.eventsPerWriter / 2)
        } catch {
            // The open transactions end even when the stress fails, giving their connections back.
            await release.release()
            throw error
        }
        await release.release()
        for transaction in transactions { try await transaction.value }
    }
}
#endif
