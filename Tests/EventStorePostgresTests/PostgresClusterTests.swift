import EventStore
import EventStoreConformance
import EventStorePostgres
import PostgresNIO
import EventStoreTestSupport
import Foundation
import Logging
import Synchronization
import Testing

@testable import EventStorePostgres

/// Stores on the cluster of `scripts/test` (``TestCluster``).
enum PostgresTestCluster {
    /// A store on fresh tables of the cluster's database (or on those of `prefix`).
    static func withStore<T: Sendable>(
        queryTimeout: Duration = .seconds(10), url: String? = nil, prefix: String? = nil, readsFromStandbys: Bool = false,
        maxStandbyLag: Duration = .seconds(5), logger: Logger = PostgresTestServer.logger,
        _ body: @Sendable (PostgresEventStore) async throws -> T
    ) async throws -> T {
        var configuration = try PostgresConfiguration(url: try url ?? TestCluster.server.requiredURL())
        configuration.tablePrefix = prefix ?? TestDatabaseServer.uniquePrefix()
        configuration.readsFromStandbys = readsFromStandbys
        configuration.maxStandbyLag = maxStandbyLag
        configuration.poolSize = 10
        configuration.connectTimeout = .seconds(3)
        configuration.queryTimeout = queryTimeout
        return try await PostgresEventStore.withStore(configuration: configuration, logger: logger, body)
    }
}

/// Where a cluster store reads.
enum ClusterReads: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case primary, standbys

    var testDescription: String { rawValue }
}

/// Issue 22: the store on a Patroni cluster. One test at a time: the fault tests crash, stop and switch its
/// nodes, and each heals the cluster (every node streaming, one synchronously) before it ends.
@Suite("PostgreSQL on a Patroni cluster", .enabled(if: TestCluster.shouldRun, "\(TestCluster.skipMessage)"), .serialized, .watchdog(.seconds(300)))
struct PostgresClusterTests {
    /// The whole conformance suite through the multi-host URL: the store finds the primary among the nodes;
    /// and again reading from the standbys (`read=standby`), where each store reads its own writes.
    @Test(arguments: EventStoreConformance.cases, ClusterReads.allCases)
    func conformance(_ testCase: ConformanceCase, reads: ClusterReads) async throws {
        Watchdog.step("case \(testCase) on the cluster, reading from the \(reads)")
        try await testCase.run { settings, body in
            var configuration = try PostgresConfiguration(url: try TestCluster.server.requiredURL())
            configuration.tablePrefix = TestDatabaseServer.uniquePrefix()
            configuration.readBatchSize = settings.readBatchSize
            configuration.readsFromStandbys = reads == .standbys
            configuration.poolSize = 4
            try await PostgresEventStore.withStore(configuration: configuration, logger: PostgresTestServer.logger) { store in
                try await body(store)
            }
        }
    }

    /// Patroni's REST API names the primary instead of the hosts being asked; a multi-host URL whose hosts
    /// do not include Patroni's leader is refused clearly.
    @Test func thePrimaryIsFoundThroughPatroni() async throws {
        let url = try TestCluster.server.requiredURL()
        let endpoints = try TestCluster.patroniEndpoints()
        try await PostgresTestCluster.withStore(url: url + "&patroni=" + endpoints) { store in
            try await store.create("patroni-1", events: [EventMessage(messageName: "A")])
            #expect(try await store.load("patroni-1").collect().map(\.messageName) == ["A"])
            let primary = try await TestCluster.run("primary")
            let primaryPort = try TestCluster.port(of: primary)
            #expect(store.writeHost?.port == primaryPort)
        }
        // Only the standbys' hosts: Patroni's leader is none of them.
        let primaryPort = try TestCluster.port(of: try await TestCluster.run("primary"))
        let standbys = try PostgresConfiguration(url: url).hosts.filter { $0.port != primaryPort }
        let standbyURL = "postgres://postgres:\(try #require(PostgresConfiguration(url: url).password))@"
            + standbys.map(\.description).joined(separator: ",") + "/eventstore?sslmode=disable&patroni=" + endpoints
        let error = await #expect(throws: EventStoreError.self) {
            try await PostgresTestCluster.withStore(url: standbyURL) { _ in }
        }
        #expect(error?.code == .invalidArgument)
        #expect(error?.reason.contains("is none of the URL's hosts") == true, "\(String(describing: error))")
    }

    /// SIGKILL of the primary's whole node (Patroni, postmaster, backends) under 8 writers: Patroni promotes
    /// the synchronous standby; the writers go on in the same process, retrying each append with the same
    /// event ids; every append whose call succeeded is on the new primary exactly once, in its writer's order;
    /// a live subscriber delivers every event once.
    @Test func aCrashedPrimaryLosesNoAcknowledgedAppend() async throws {
        try await TestCluster.run("heal")
        try await Self.underLoad("crash") { try await TestCluster.run("kill-primary") }
        try await TestCluster.run("heal")
    }

    /// A planned switchover under 8 writers: the same guarantees.
    @Test func aSwitchoverUnderLoadLosesNothing() async throws {
        try await TestCluster.run("heal")
        try await Self.underLoad("switchover") { try await TestCluster.run("switchover") }
        try await TestCluster.run("heal")
    }

    /// Transaction ids the crashed primary handed out but no standby saw (rolled-back appends whose WAL
    /// nothing flushed: the walwriter is frozen) are handed out again by the new primary. A reader whose
    /// short page looked as far as the primary could read never passes them: its next read gets the events
    /// stored under them.
    @Test func aReaderNeverPassesTransactionIdsANewPrimaryHandsOutAgain() async throws {
        try await TestCluster.run("heal")
        let prefix = TestDatabaseServer.uniquePrefix()
        struct RolledBack: Error {}
        let looked = try await PostgresTestCluster.withStore(prefix: prefix) { store in
            let quiet = try #require(try await store.create("quiet-1", events: [EventMessage(messageName: "First")]).lastGlobalPosition)
            try await store.create("busy-1", events: [EventMessage(messageName: "Busy")])
            let walWriter = try TestCluster.walWriterProcess(of: try await TestCluster.run("primary"))
            try await ProcessFreezer.freeze([walWriter])
            do {
                for _ in 1...5 {
                    await #expect(throws: RolledBack.self) {
                        try await store.transaction { tx in
                            try await tx.append([EventMessage(messageName: "RolledBack")], to: "busy-1", expectedVersion: .any)
                            throw RolledBack()
                        }
                    }
                }
                let page = try await store.readPage(after: quiet, of: .stream("quiet-1"), limit: 10)
                #expect(page.events.isEmpty)
                Watchdog.step("crash the primary with rolled-back transactions unflushed")
                try await TestCluster.run("kill-primary")
                return page.readThrough
            } catch {
                ProcessFreezer.thaw([walWriter])
                throw error
            }
        }
        // A store opened during the failover fails clearly (no primary): open it once Patroni has one.
        try await TestCluster.run("wait-primary", ["120"])
        try await PostgresTestCluster.withStore(prefix: prefix) { store in
            for index in 1...10 {
                let event = EventMessage(messageName: "After \(index)")
                #expect(try await Self.appendRetrying(store, event, to: "quiet-1", expectedVersion: .exact(index), within: .seconds(90)))
            }
            let events = try await within(.seconds(30), "the reader gets the events stored after the failover") {
                while true {
                    let events = try await store.readAll(after: looked, of: .stream("quiet-1"), limit: 20)
                    if events.count == 10 { return events }
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            #expect(events.map(\.messageName) == (1...10).map { "After \($0)" })
        }
        try await TestCluster.run("heal")
    }

    /// Runs 8 writers and a subscriber reading from the standbys, `fault` once every writer has appended a
    /// while, and checks that the writers go on and that nothing acknowledged is lost, repeated or reordered.
    static func underLoad(_ name: String, fault: @escaping @Sendable () async throws -> String) async throws {
        let prefix = TestDatabaseServer.uniquePrefix()
        try await PostgresTestCluster.withStore(queryTimeout: .seconds(5), prefix: prefix) { store in
          try await PostgresTestCluster.withStore(queryTimeout: .seconds(5), prefix: prefix, readsFromStandbys: true) { reader in
            let writers = ClusterWriters(store: store, count: 8)
            try await writers.createStreams()
            let subscription = try await reader.subscribe(to: .all, readBatchSize: 200)
            let delivered = Mutex<[RecordedEvent]>([])
            let subscriber = Task {
                do {
                    for try await event in subscription { delivered.withLock { $0.append(event) } }
                } catch {
                    Issue.record("the subscriber failed: \(error)")
                    throw error
                }
            }
            defer { subscriber.cancel() }
            let load = Task { try await writers.run() }
            Watchdog.step("8 writers append before the \(name)")
            try await writers.waitUntilEach(appended: 20)
            let clock = ContinuousClock()
            let oldPrimary = try await TestCluster.run("primary")
            let faultAt = clock.now
            let node = try await fault()
            Watchdog.step("wait for Patroni to name a new primary after the \(name) of \(node)")
            var promotedAt: ContinuousClock.Instant?
            while promotedAt == nil, clock.now - faultAt < .seconds(90) {
                if let primary = try? await TestCluster.run("primary"), primary != oldPrimary {
                    promotedAt = clock.now
                } else {
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            Watchdog.step("8 writers append after the \(name) of \(node)")
            let before = writers.acknowledgedCounts
            try await writers.waitUntilEach(appended: 20, after: before, within: .seconds(90))
            writers.stop()
            do {
                try await load.value
            } catch {
                Issue.record("a writer failed: \(error)\n\(writers.failures)")
                throw error
            }
            // The store finds the new primary within 5 s of Patroni naming it (polled here, so a little late).
            let promoted = try #require(promotedAt, "Patroni named no new primary")
            let resumed = try #require(writers.firstAcknowledgement(after: faultAt), "no append succeeded after the \(name)")
            #expect(resumed - promoted < .seconds(5), "the writers resumed \(resumed - promoted) after Patroni named the new primary")

            Watchdog.step("check the streams on the new primary")
            var stored = 0
            for (index, acknowledged) in writers.acknowledged.enumerated() {
                let events = try await store.load(try StreamName("writer-\(index)")).collect()
                #expect(events.map(\.uuid) == acknowledged, "writer-\(index): what its calls acknowledged, once each, in order")
                stored += events.count
            }
            Watchdog.step("the subscriber delivers all \(stored) events")
            let total = stored
            let all: [RecordedEvent]
            do {
                all = try await within(.seconds(120), "the subscriber delivers every event") {
                    while delivered.withLock({ $0.count }) < total { try await Task.sleep(for: .milliseconds(50)) }
                    try await Task.sleep(for: .milliseconds(300))  // anything more would be a repeat
                    return delivered.withLock { $0 }
                }
            } catch {
                let seen = delivered.withLock { $0 }
                Issue.record(
                    "the subscriber delivered \(seen.count) of \(total), the last at \(seen.last.map { "\($0.globalPosition)" } ?? "-"); it reads on \(reader.nodes)")
                throw error
            }
            #expect(all.count == total, "delivered \(all.count) of \(total)")
            #expect(Set(all.map(\.uuid)).count == all.count, "no event delivered twice")
            #expect(zip(all, all.dropFirst()).allSatisfy { $0.globalPosition < $1.globalPosition })
            for index in 0..<writers.count {
                let stream = try StreamName("writer-\(index)")
                #expect(all.filter { $0.streamName == stream }.map(\.uuid) == writers.acknowledged[index])
            }
          }
        }
    }

    /// The tailing-reader stress of every backend's global order (8 writers, some transactions rolled back)
    /// with the reader on a standby: every committed event once, in order, none rolled back.
    @Test func aReaderOnAStandbySeesEveryCommittedEventOnce() async throws {
        try await TestCluster.run("heal")
        try await PostgresTestCluster.withStore(readsFromStandbys: true) { store in
            try await GlobalOrderStress.run(store, writers: 8, readers: 1, eventsPerWriter: min(GlobalOrderStress.eventsPerWriter, 300))
        }
    }

    /// A standby further behind than `maxStandbyLag` is passed over for the primary, and a store still reads
    /// its own writes (and another's, given its write token) while the standbys replay nothing (their replay
    /// processes frozen with SIGSTOP); once they replay again they serve reads again.
    @Test func aStandbyBehindIsPassedOverAndReadsSeeTheirWrites() async throws {
        try await TestCluster.run("heal")
        let url = try TestCluster.server.requiredURL()
        let primary = try TestCluster.port(of: try await TestCluster.run("primary"))
        let standbys = try PostgresConfiguration(url: url).hosts.filter { $0.port != primary }
        let replay = try standbys.map { try TestCluster.replayProcess(of: TestCluster.node(onPort: $0.port)) }
        let prefix = TestDatabaseServer.uniquePrefix()
        try await PostgresTestCluster.withStore(prefix: prefix, readsFromStandbys: true, maxStandbyLag: .seconds(1)) { store in
            try await store.create("lag-1", events: [EventMessage(messageName: "Replayed")])
            #expect(try await store.load("lag-1").collect().map(\.messageName) == ["Replayed"])
            let standbyPorts = Set(standbys.map(\.port))
            #expect(
                try await Self.eventually {
                    try await store.load("lag-1").collect().count == 1 && Set(store.nodes.reads) == Set(standbys.map(\.description))
                }, "\(store.nodes)")

            try await ProcessFreezer.freeze(replay)
            do {
                Watchdog.step("append and load while the standbys replay nothing")
                for index in 1...5 {
                    try await store.append([EventMessage(messageName: "Paused \(index)")], to: "lag-1")
                    let names = try await store.load("lag-1").collect().map(\.messageName)
                    #expect(names.last == "Paused \(index)", "the store reads its own write")
                    try await Task.sleep(for: .milliseconds(300))
                }
                // Another store on the same tables reads it too, given the first one's token.
                let token = try #require(store.writeToken)
                try await PostgresTestCluster.withStore(prefix: prefix, readsFromStandbys: true, maxStandbyLag: .seconds(1)) { other in
                    try other.readAfter(token)
                    #expect(try await other.load("lag-1").collect().count == 6)
                }
                #expect(
                    try await Self.eventually {
                        try await store.load("lag-1").collect().count == 6 && store.nodes.reads == ["127.0.0.1:\(primary)"]
                    }, "standbys behind by more than 1 s are passed over: \(store.nodes)")
            } catch {
                ProcessFreezer.thaw(replay)
                throw error
            }
            ProcessFreezer.thaw(replay)
            #expect(
                try await Self.eventually {
                    try await store.load("lag-1").collect().count == 6
                        && Set(store.nodes.reads.compactMap { Int($0.split(separator: ":").last ?? "") }) == standbyPorts
                }, "the standbys serve reads again: \(store.nodes)")
        }
    }

    /// A standby query cancelled by a recovery conflict (SQLSTATE 40001: the standbys replay exclusive locks
    /// the primary takes on the events table, and cancel the queries in their way at once) is run again:
    /// every load returns the whole stream while the standbys count the queries they cancelled.
    /// A reader's position is checked against the newest position the primary handed out; a standby that
    /// answers in its place (a failover demoted the server the store still took for the primary) may be
    /// behind, and its answer would call the reader's position one of another store (`invalidArgument`, which
    /// ends a subscription): the standby's answer is a `backend` failure instead, which readers retry. CI saw
    /// a subscriber end so in a switchover under load.
    @Test func aPositionIsNeverJudgedByAStandby() async throws {
        try await TestCluster.run("heal")
        let url = try TestCluster.server.requiredURL()
        let primary = try TestCluster.port(of: try await TestCluster.run("primary"))
        let standby = try #require(try PostgresConfiguration(url: url).hosts.first { $0.port != primary })
        let operations = PostgresOperations(tables: try PostgresTables(schema: nil, prefix: "unused_"), logger: PostgresTestServer.logger)
        let client = PostgresClient(configuration: try PostgresConfiguration(url: try TestCluster.url(ofPort: standby.port)).clientConfiguration())
        try await withThrowingTaskGroup { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            let error = await #expect(throws: EventStoreError.self) {
                try await client.withConnection { try await operations.highestPosition($0) }
            }
            #expect(error?.code == .backend, "\(String(describing: error))")
            // The primary answers.
            let primaryClient = PostgresClient(configuration: try PostgresConfiguration(url: try TestCluster.url(ofPort: primary)).clientConfiguration())
            group.addTask { await primaryClient.run() }
            #expect(try await primaryClient.withConnection { try await operations.highestPosition($0) } > .start)
        }
    }

    /// A standby shows a commit before the primary ends it: the primary marks a transaction ended only once
    /// its synchronous standby has answered, and a standby that replayed the commit shows its events before
    /// that. A position read on a standby and then read after on the primary, which does not show its event
    /// yet, is not refused as past every position the store handed out (it was: the subscriber of the
    /// switchover test stopped with `invalidArgument` in a CI run); the read waits for the event's commit.
    @Test func aPositionAStandbyShowsBeforeThePrimaryEndsTheCommitIsNotRefused() async throws {
        try await TestCluster.run("heal")
        let url = try TestCluster.server.requiredURL()
        let primary = try TestCluster.port(of: try await TestCluster.run("primary"))
        let receivers = try PostgresConfiguration(url: url).hosts.filter { $0.port != primary }
            .map { try TestCluster.walReceiverProcess(of: TestCluster.node(onPort: $0.port)) }
        let shell = SQLShell.postgres(try TestCluster.url(ofPort: primary))
        let prefix = TestDatabaseServer.uniquePrefix()
        try await PostgresTestCluster.withStore(queryTimeout: .seconds(60), prefix: prefix) { store in
            try await PostgresTestCluster.withStore(prefix: prefix, readsFromStandbys: true) { reader in
                let first = try #require(try await store.create("ended-1", events: [EventMessage(messageName: "First")]).lastGlobalPosition)
                try await ProcessFreezer.freeze(receivers)
                let frozen = Mutex(receivers)
                defer { ProcessFreezer.thaw(frozen.withLock { $0 }) }
                let append = Task { try await store.append([EventMessage(messageName: "Waiting")], to: "ended-1") }
                Watchdog.step("wait for the append to wait for the synchronous standby")
                let backend = try await within(.seconds(30), "the append waits for the synchronous standby") {
                    while true {
                        let pid = try await shell.run("SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep' LIMIT 1")
                        if let pid = pid_t(pid) { return pid }
                        try await Task.sleep(for: .milliseconds(20))
                    }
                }
                try await ProcessFreezer.freeze([backend])
                frozen.withLock { $0 = [backend] }
                ProcessFreezer.thaw(receivers)
                Watchdog.step("read the event on a standby while the primary's backend, frozen, has not ended the commit")
                let shown = try await within(.seconds(30), "a standby shows the event") {
                    while true {
                        if let event = try await reader.readPage(after: first, of: .stream("ended-1"), limit: 10).events.first { return event }
                        try await Task.sleep(for: .milliseconds(50))
                    }
                }
                #expect(shown.messageName == "Waiting")
                #expect(try await store.readPage(after: first, of: .stream("ended-1"), limit: 10).events.isEmpty, "the primary shows it not yet")
                let next = try await store.readPage(after: shown.globalPosition, of: .stream("ended-1"), limit: 10)
                #expect(next.events.isEmpty)
                ProcessFreezer.thaw([backend])
                frozen.withLock { $0 = [] }
                _ = try await append.value
                #expect(try await store.load("ended-1").collect().map(\.messageName) == ["First", "Waiting"])
            }
        }
    }

    @Test func aReadCancelledByARecoveryConflictIsRunAgain() async throws {
        try await TestCluster.run("heal")
        let url = try TestCluster.server.requiredURL()
        let primary = try TestCluster.port(of: try await TestCluster.run("primary"))
        let standbys = try PostgresConfiguration(url: url).hosts.filter { $0.port != primary }
            .map { SQLShell.postgres(try TestCluster.url(ofPort: $0.port)) }
        @Sendable func cancelled() async throws -> Int {
            var total = 0
            for standby in standbys {
                total += Int(try await standby.run("SELECT confl_lock FROM pg_stat_database_conflicts WHERE datname = current_database()")) ?? 0
            }
            return total
        }
        func conflicts(after delay: String) async throws {
            for standby in standbys {
                try await standby.run("ALTER SYSTEM SET max_standby_streaming_delay = '\(delay)'")
                try await standby.run("SELECT pg_reload_conf()")
            }
        }
        let prefix = TestDatabaseServer.uniquePrefix()
        try await conflicts(after: "0")
        do {
            let logs = LogRecorder()
            let logger = {
                var logger = logs.logger(label: "conflicts")
                logger.logLevel = .info
                return logger
            }()
            // A standby passed over says so: a status that fails, or a read that fails otherwise than by a conflict.
            // A status check that got no answer within the query timeout is left out: on a machine loaded by the
            // other suites a standby replaying 400 exclusive locks once took longer than 10 s to answer (CI,
            // 2026-12-07), and passing it over then is right; what this test holds is that a conflict's error
            // never passes a standby over.
            @Sendable func passedOver() -> [String] {
                logs.all.map(\.message).filter { ($0.contains("passed over") || $0.contains("reads go elsewhere")) && !$0.contains("did not answer within") }
            }
            try await PostgresTestCluster.withStore(prefix: prefix, readsFromStandbys: true, logger: logger) { store in
                let events = (1...2_000).map { EventMessage(messageName: "Event \($0)") }
                try await store.create("conflict-1", events: events)
                #expect(try await store.load("conflict-1").collect().count == 2_000)
                let before = try await cancelled()
                let locker = SQLShell.postgres(try TestCluster.url(ofPort: primary))
                let locks = Task {
                    _ = try await locker.run("""
                        DO $$ BEGIN FOR i IN 1..400 LOOP
                            LOCK TABLE \(prefix)events IN ACCESS EXCLUSIVE MODE; COMMIT; PERFORM pg_sleep(0.01);
                        END LOOP; END $$
                        """)
                }
                Watchdog.step("load while the standbys replay exclusive locks")
                var loads = 0
                while try await cancelled() == before || loads < 20 {
                    #expect(try await store.load("conflict-1").collect().count == 2_000)
                    loads += 1
                    if loads > 2_000 { break }
                }
                // Run again rather than passed over: the standbys still serve reads, and no standby was passed over.
                // (Their list in `nodes` is no witness on a loaded machine: a status unchecked for 3 s leaves it.)
                #expect(passedOver().isEmpty, "\(passedOver()) (\(store.nodes))")
                try await locks.value
                #expect(try await cancelled() > before, "the standbys cancelled queries in \(loads) loads")
                // A conflict that finds a session between two statements ends the session ("terminating connection
                // due to conflict with recovery"), and the client sees only a closed connection at its next
                // query: made here at once by ending every session of the standbys.
                for standby in standbys {
                    try await standby.run("""
                        SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                        WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
                        """)
                }
                for _ in 0..<4 { #expect(try await store.load("conflict-1").collect().count == 2_000) }
                #expect(passedOver().isEmpty, "after closed sessions: \(passedOver())")
            }
        } catch {
            try? await conflicts(after: "30s")
            throw error
        }
        try await conflicts(after: "30s")
    }

    /// Polls `condition` (reading or loading meanwhile is the caller's) until it holds, at most 30 s.
    static func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        while clock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try await condition()
    }

    /// A stopped standby: the other becomes synchronous and appends go on. With no standby left, a commit
    /// waits (synchronous_mode_strict) and fails at the deadline as outcome unknown, never as a success; the
    /// append becomes visible once a standby is back.
    @Test func withoutASynchronousStandbyACommitFailsAsOutcomeUnknown() async throws {
        try await TestCluster.run("heal")
        try await PostgresTestCluster.withStore(queryTimeout: .seconds(4), readsFromStandbys: true) { store in
            try await store.create("sync-1", events: [EventMessage(messageName: "Before")])
            let primary = try await TestCluster.run("primary")
            let standbys = ["node1", "node2", "node3"].filter { $0 != primary }
            let synchronous = try await TestCluster.run("sync")
            try await TestCluster.run("stop-node", [synchronous])
            Watchdog.step("append with one standby stopped")
            let one = EventMessage(messageName: "OneStandby")
            #expect(try await Self.appendRetrying(store, one, to: "sync-1", expectedVersion: .exact(1), within: .seconds(60)))
            let other = try TestCluster.port(of: try #require(standbys.first { $0 != synchronous }))
            #expect(
                try await Self.eventually {
                    try await store.load("sync-1").collect().count == 2 && store.nodes.reads == ["127.0.0.1:\(other)"]
                }, "reads move to the standby left: \(store.nodes)")

            for standby in standbys where standby != synchronous { try await TestCluster.run("stop-node", [standby]) }
            let primaryHost = "127.0.0.1:\(try TestCluster.port(of: primary))"
            #expect(
                try await Self.eventually { try await store.load("sync-1").collect().count == 2 && store.nodes.reads == [primaryHost] },
                "with no standby, reads go to the primary: \(store.nodes)")
            Watchdog.step("append with no standby")
            let lonely = EventMessage(messageName: "NoStandby")
            let error = await #expect(throws: EventStoreError.self) {
                try await store.append([lonely], to: "sync-1", expectedVersion: .exact(2))
            }
            #expect(error?.code == .backend)
            #expect(error?.reason.contains("outcome unknown") == true, "\(String(describing: error))")

            try await TestCluster.run("start-node", [synchronous])
            let names = try await within(.seconds(120), "the waiting commit becomes visible once a standby is back") {
                while true {
                    if let events = try? await store.load("sync-1").collect(), events.count == 3 { return events.map(\.messageName) }
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            #expect(names == ["Before", "OneStandby", "NoStandby"])
        }
        try await TestCluster.run("heal")
    }

    /// Appends `event`, retrying `backend` failures with the same event id until `limit`; `true` once it
    /// succeeded. `failures` hears each failed try.
    static func appendRetrying(
        _ store: PostgresEventStore, _ event: EventMessage, to stream: StreamName, expectedVersion: ExpectedVersion, within limit: Duration,
        failures: (@Sendable (any Error) -> Void)? = nil
    ) async throws -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        while clock.now < deadline {
            do {
                try await store.append([event], to: stream, expectedVersion: expectedVersion)
                return true
            } catch let error as EventStoreError where error.code == .backend {
                failures?(error)
                try await Task.sleep(for: .milliseconds(100))
            } catch {
                failures?(error)
                throw error
            }
        }
        return false
    }
}

/// Writers of one stream each (`writer-0`…), appending one event at a time with the expected version, and
/// retrying a failed append with the same event until it succeeds (an append whose outcome was unknown and
/// that was stored succeeds again through idempotent appends): what each call acknowledged, in order.
final class ClusterWriters: Sendable {
    let store: PostgresEventStore
    let count: Int
    private let state: Mutex<(acknowledged: [[UUID]], times: [ContinuousClock.Instant], stopped: Bool)>

    init(store: PostgresEventStore, count: Int) {
        self.store = store
        self.count = count
        state = Mutex((Array(repeating: [], count: count), [], false))
    }

    /// When the first append acknowledged after `instant` was.
    func firstAcknowledgement(after instant: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        state.withLock { $0.times.first { $0 > instant } }
    }

    /// Each failed try of the writers, for the report of a failed test.
    let log = Mutex<[String]>([])
    var failures: String { log.withLock { $0.joined(separator: "\n") } }

    var acknowledged: [[UUID]] { state.withLock { $0.acknowledged } }
    var acknowledgedCounts: [Int] { acknowledged.map(\.count) }
    func stop() { state.withLock { $0.stopped = true } }

    func createStreams() async throws {
        for index in 0..<count { try await store.create(try StreamName("writer-\(index)")) }
    }

    /// Runs the writers until ``stop()``; an append that keeps failing for 120 s fails the run.
    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<count {
                group.addTask { [self] in
                    let stream = try StreamName("writer-\(index)")
                    var version = 0
                    while !state.withLock({ $0.stopped }) {
                        let event = EventMessage(messageName: "Written", payload: try Payload(json: "{\"writer\":\(index)}"))
                        let label = "writer-\(index) #\(version + 1) \(event.uuid)"
                        let failed = Mutex(false)
                        guard
                            try await PostgresClusterTests.appendRetrying(
                                store, event, to: stream, expectedVersion: .exact(version), within: .seconds(120),
                                failures: { [self] error in
                                    failed.withLock { $0 = true }
                                    self.log.withLock { $0.append("\(Date()) \(label): \(error)") }
                                })
                        else {
                            throw EventStoreError.backend("writer-\(index) could not append for 120 s")
                        }
                        version += 1
                        state.withLock {
                            $0.acknowledged[index].append(event.uuid)
                            $0.times.append(.now)
                        }
                        if failed.withLock({ $0 }) { self.log.withLock { $0.append("\(Date()) \(label): acknowledged") } }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Waits until every writer has had `appended` more appends acknowledged than `before`.
    func waitUntilEach(appended: Int, after before: [Int]? = nil, within limit: Duration = .seconds(60)) async throws {
        let before = before ?? Array(repeating: 0, count: count)
        Watchdog.step("each writer appends \(appended) more")
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        var done = false
        while !done, clock.now < deadline {
            done = !zip(acknowledgedCounts, before).contains { $0 - $1 < appended }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(done, "acknowledged appends per writer: \(acknowledgedCounts), before: \(before)")
    }
}
