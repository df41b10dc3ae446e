import EventStore
import EventStorePostgres
import EventStoreTestSupport
import Foundation
import Testing

/// The global order of PostgreSQL is (transaction id, sequence): it holds only while the server's transaction
/// counter is ahead of every stored event (review A2).
@Suite("PostgreSQL transaction counter", .enabled(if: PostgresTestServer.shouldRun, "\(PostgresTestServer.skipMessage)"), .watchdog(.seconds(180)))
struct PostgresTransactionCounterTests {
    /// A database restored from a dump into a server whose counter is behind its events is refused at open,
    /// with the `pg_resetwal` to run (before: it opened, and an event appended after the restore sorted before
    /// the stored ones, so a reader after the last stored position never saw it). After that repair the store
    /// opens and the new event comes after the stored ones. A reader's position from before the restore is
    /// refused while the counter is behind it, never answered with an empty page.
    @Test func aDatabaseRestoredBehindItsEventsIsRefusedUntilTheCounterIsMoved() async throws {
        let source = try await PrivatePostgresServer.start("xid-source")
        let target: PrivatePostgresServer
        do {
            target = try await PrivatePostgresServer.start("xid-target")
        } catch {
            await source.remove()
            throw error
        }
        do {
            try await Self.restoreAndRepair(from: source, into: target)
        } catch {
            await source.remove()
            await target.remove()
            throw error
        }
        await source.remove()
        await target.remove()
    }

    static func restoreAndRepair(from source: PrivatePostgresServer, into target: PrivatePostgresServer) async throws {
        let logger = PostgresTestServer.logger
        // The source has used 20,000 transactions more than the fresh target will have.
        Watchdog.step("use 20,000 transaction ids on the source")
        try await SQLShell.postgres(source.url).run(
            "DO $$ BEGIN FOR i IN 1..20000 LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$")
        let stored = try await PostgresEventStore.withStore(configuration: try PostgresConfiguration(url: source.url), logger: logger) {
            store in
            try await store.create("restored-1", events: (1...3).map { _ in EventMessage(messageName: "Before") })
            let written = try await store.readAll(after: .start, of: .all, limit: 10)
            let ahead = GlobalPosition(commit: try #require(written.last).globalPosition.commit + 1_000_000, sequence: 1)
            let error = await #expect(throws: EventStoreError.self) { try await store.readAll(after: ahead, of: .all, limit: 10) }
            #expect(error?.code == .invalidArgument, "\(String(describing: error))")
            return written
        }
        let last = try #require(stored.last).globalPosition
        Watchdog.step("pg_dump the source into the target")
        try await SQLShell.script.run("pg_dump '\(source.url)' | psql -q -X -v ON_ERROR_STOP=1 '\(target.url)' >/dev/null")
        let refused = await #expect(throws: EventStoreError.self) {
            try await PostgresEventStore.withStore(configuration: try PostgresConfiguration(url: target.url), logger: logger) { _ in }
        }
        #expect(refused?.code == .corrupt, "\(String(describing: refused))")
        let reason = refused?.reason ?? ""
        let repair = try #require(reason.firstMatch(of: /pg_resetwal -e (\d+) -x (\d+)/), "\(reason)")
        let epoch = try #require(Int64(repair.output.1))
        let xid = try #require(Int64(repair.output.2))
        #expect((epoch << 32) + xid > last.commit)

        Watchdog.step("move the target's counter past the stored events")
        try await target.setNextTransaction(epoch: epoch, xid: xid)
        try await PostgresEventStore.withStore(configuration: try PostgresConfiguration(url: target.url), logger: logger) { store in
            try await store.append([EventMessage(messageName: "After")], to: "restored-1")
            #expect(try await store.readAll(after: last, of: .all, limit: 10).map(\.messageName) == ["After"])
            let all = try await store.readAll(after: .start, of: .all, limit: 10)
            #expect(all.map(\.messageName) == ["Before", "Before", "Before", "After"])
            #expect(all.map(\.position) == [1, 2, 3, 4])
            #expect(Array(all.prefix(3)).map(\.globalPosition) == stored.map(\.globalPosition))
        }
    }
}
