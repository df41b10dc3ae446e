import EventStore
import EventStorePostgres
import EventStoreTestSupport
import Foundation
import Testing

/// Review B16: readers of the global order never pass over a transaction still open anywhere in the cluster
/// (`pg_snapshot_xmin`), so a session left idle in a transaction, or a prepared transaction, in another
/// database holds every reader back, and nothing said so. The watch reports the stall and what holds it.
extension PostgresFaultTests {
    @Test func aTransactionLeftOpenInAnotherDatabaseHoldsReadersBackAndTheWatchSaysWhich() async throws {
        try await Self.withServer("stall-session") { server, store in
            let shell = SQLShell.postgres(server.url)
            try await shell.run("CREATE DATABASE other")
            let other = server.url.replacingOccurrences(of: "/eventstore", with: "/other")
            try await store.create("stall-1", events: [EventMessage(messageName: "Before")])
            let watch = GlobalOrderWatch(store: store, threshold: .milliseconds(500))
            #expect(try await watch.check() == nil)

            Watchdog.step("open a transaction in another database and leave it idle")
            let session = try SQLSession(postgres: other, applicationName: "forgetful-orm")
            try session.send("BEGIN; SELECT pg_current_xact_id();")
            try await shell.waitFor(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'forgetful-orm' AND backend_xid IS NOT NULL",
                toPrint: "1")
            try await store.append([EventMessage(messageName: "Held")], to: "stall-1")
            let first = try #require(try await watch.check())
            #expect(first.blockers.isEmpty, "below the threshold the blockers are not asked for")
            try await Task.sleep(for: .milliseconds(700))
            let stall = try #require(try await watch.check())
            #expect(stall.age >= .milliseconds(700))
            #expect(stall.head > stall.readableHead)
            let blocker = try #require(stall.blockers.first)
            #expect(stall.blockers.count == 1)
            #expect(blocker.kind == .session)
            #expect(blocker.state == "idle in transaction")
            #expect(blocker.database == "other")
            #expect(blocker.applicationName == "forgetful-orm")
            #expect(blocker.processID != nil)
            #expect((blocker.age ?? .zero) >= .milliseconds(700))
            #expect("\(stall)".contains("idle in transaction"), "\(stall)")
            // The appended event is committed but no reader sees it.
            #expect(try await store.readAll(after: .start, limit: 10).map(\.messageName) == ["Before"])

            Watchdog.step("end the open transaction")
            await session.end()
            // The server ends the session's backend (and its transaction) after the client has gone: wait
            // for that, or the next check can still see it (it failed once so in a full run).
            try await shell.waitFor("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'forgetful-orm'", toPrint: "0")
            #expect(try await watch.check() == nil)
            #expect(watch.lastStall == nil)
            #expect(try await store.readAll(after: .start, limit: 10).map(\.messageName) == ["Before", "Held"])
        }
    }

    /// A prepared (two-phase) transaction has no session and survives a restart of the server: it holds
    /// readers back until it is committed or rolled back, and the watch names it.
    @Test func aPreparedTransactionHoldsReadersBackAcrossARestartAndTheWatchNamesIt() async throws {
        try await Self.withServer("stall-prepared") { server, store in
            let shell = SQLShell.postgres(server.url)
            try await shell.run("ALTER SYSTEM SET max_prepared_transactions = 2")
            try await shell.run("CREATE DATABASE other")
            try await store.create("prepared-1")
            try await server.stop()
            try await server.resume()
            let other = server.url.replacingOccurrences(of: "/eventstore", with: "/other")
            try await SQLShell.postgres(other).run("BEGIN; SELECT pg_current_xact_id(); PREPARE TRANSACTION 'held-for-test';")
            #expect(try await appendRetrying(store, EventMessage(messageName: "Held"), to: "prepared-1"))
            let watch = GlobalOrderWatch(store: store, threshold: .milliseconds(300))
            try #require(try await watch.check() != nil)
            try await Task.sleep(for: .milliseconds(400))
            let stall = try #require(try await watch.check())
            #expect(stall.blockers.map(\.kind) == [.prepared])
            #expect(stall.blockers.first?.preparedName == "held-for-test")
            #expect(stall.blockers.first?.database == "other")
            #expect(stall.blockers.first?.age != nil)

            Watchdog.step("restart the server: the prepared transaction stays")
            try await server.stop()
            try await server.resume()
            #expect(try await loadRetrying(store, "prepared-1")?.map(\.messageName) == ["Held"])
            #expect(try await store.readAll(after: .start, limit: 10).isEmpty)
            #expect(try await watch.check()?.blockers.first?.preparedName == "held-for-test")

            try await SQLShell.postgres(other).run("COMMIT PREPARED 'held-for-test'")
            #expect(try await watch.check() == nil)
            #expect(try await store.readAll(after: .start, limit: 10).map(\.messageName) == ["Held"])
        }
    }
}
