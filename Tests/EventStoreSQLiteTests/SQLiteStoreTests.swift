import EventStore
import EventStoreSQLite
import EventStoreTestSupport
import Foundation
import Testing

@Suite("SQLite store", .watchdog())
struct SQLiteStoreTests {
    @Test func aTailingReaderSeesEveryCommittedEventOnceAndNoRolledBackOne() async throws {
        try await withTemporaryDatabase { path in
            try await GlobalOrderStress.run(try await SQLiteEventStore(path: path), readers: 3)
        }
    }

    @Test func loadingAStreamSearchesTheStreamPositionIndex() async throws {
        try await withTemporaryDatabase { path in
            let store = try await SQLiteEventStore(path: path)
            let matcher = try MetadataMatcher().metadata("_aggregate_id", .equals, "a").property(.messageName, .regex, "^A")
            for plan in [try await store._loadQueryPlan("s-1"), try await store._loadQueryPlan("s-1", matching: matcher)] {
                #expect(plan.contains { $0.hasPrefix("SEARCH e USING INDEX") && $0.contains("stream_id=? AND position>?") }, "\(plan)")
                #expect(!plan.contains { $0.hasPrefix("SCAN e") || $0.hasPrefix("SCAN events") }, "\(plan)")
            }
        }
    }

    @Test func openingTwiceMigratesOnceAndKeepsData() async throws {
        try await withTemporaryDatabase { path in
            let first = try await SQLiteEventStore(path: path)
            #expect(first.schemaVersion == 9)
            try await first.create("kept-1", events: [EventMessage(messageName: "A")])
            let second = try await SQLiteEventStore(path: path)
            #expect(second.schemaVersion == 9)
            #expect(try await second.load("kept-1").collect().count == 1)
        }
    }

    @Test func tablePrefixesKeepStoresApartInOneFile() async throws {
        try await withTemporaryDatabase { path in
            var a = SQLiteConfiguration(path: path)
            a.tablePrefix = "tenant_a_"
            var b = SQLiteConfiguration(path: path)
            b.tablePrefix = "tenant_b_"
            let storeA = try await SQLiteEventStore(configuration: a)
            let storeB = try await SQLiteEventStore(configuration: b)
            try await storeA.create("user-1", events: [EventMessage(messageName: "A")])
            #expect(try await storeB.hasStream("user-1") == false)
            try await storeB.create("user-1", events: [EventMessage(messageName: "B"), EventMessage(messageName: "C")])
            #expect(try await storeA.load("user-1").collect().map(\.messageName) == ["A"])
            #expect(try await storeB.load("user-1").collect().map(\.messageName) == ["B", "C"])
        }
    }

    @Test(arguments: ["1abc", "a-b", "a;DROP TABLE x", "\"q\"", String(repeating: "p", count: 41)])
    func anInvalidTablePrefixIsAnInvalidArgument(_ prefix: String) async throws {
        try await withTemporaryDatabase { path in
            var configuration = SQLiteConfiguration(path: path)
            configuration.tablePrefix = prefix
            await #expect {
                try await SQLiteEventStore(configuration: configuration)
            } throws: { ($0 as? EventStoreError)?.code == .invalidArgument }
        }
    }

    @Test func urlsCarryEverySetting() throws {
        let configuration = try SQLiteConfiguration(
            url: "sqlite:/data/my%20events.sqlite?synchronous=normal&busy_timeout_ms=250&table_prefix=p_")
        #expect(configuration.path == "/data/my events.sqlite")
        #expect(configuration.synchronous == .normal)
        #expect(configuration.busyTimeout == .milliseconds(250))
        #expect(configuration.tablePrefix == "p_")
        #expect(try SQLiteConfiguration(url: "sqlite://./e.sqlite").path == "./e.sqlite")
        let defaults = try SQLiteConfiguration(url: "SQLITE:e.sqlite")
        #expect(defaults.path == "e.sqlite" && defaults.synchronous == .full && defaults.busyTimeout == .seconds(5))
        for bad in ["postgres://h/x", "sqlite:", "sqlite:?synchronous=full", "sqlite:e?synchronous=sometimes",
                    "sqlite:e?busy_timeout_ms=-1", "sqlite:e?busy_timeout_ms=soon", "sqlite:e?color=red"] {
            let error = #expect(throws: EventStoreError.self, "\(bad)") { try SQLiteConfiguration(url: bad) }
            #expect(error?.code == .invalidArgument, "\(bad)")
        }
    }

    @Test func defaultsAreDurableAndPatient() {
        let configuration = SQLiteConfiguration(path: "x")
        #expect(configuration.synchronous == .full)
        #expect(configuration.busyTimeout >= .seconds(5))
    }

    @Test func aClosedStoreFailsEveryLaterCall() async throws {
        try await withTemporaryDatabase { path in
            let store = try await SQLiteEventStore(path: path)
            try await store.create("closed-1", events: [EventMessage(messageName: "A")])
            await store.close()
            let write = await #expect(throws: EventStoreError.self) { try await store.append([EventMessage(messageName: "B")], to: "closed-1") }
            #expect(write?.code == .backend)
            let read = await #expect(throws: EventStoreError.self) { try await store.load("closed-1").collect() }
            #expect(read?.code == .backend)
            #expect(try await SQLiteEventStore(path: path).load("closed-1").collect().map(\.messageName) == ["A"])
        }
    }

    @Test func aWriterPastTheBusyTimeoutGetsABusyError() async throws {
        try await withTemporaryDatabase { path in
            let holder = try await SQLiteEventStore(path: path)
            var impatient = SQLiteConfiguration(path: path)
            impatient.busyTimeout = .milliseconds(200)
            let other = try await SQLiteEventStore(configuration: impatient)
            try await holder.create("busy-1")
            try await holder.transaction { tx in
                try await tx.append([EventMessage(messageName: "Held")], to: "busy-1")
                await #expect {
                    try await other.append([EventMessage(messageName: "Late")], to: "busy-1")
                } throws: { ($0 as? EventStoreError)?.code == .busy }
            }
            #expect(try await other.load("busy-1").collect().map(\.messageName) == ["Held"])
        }
    }

    @Test func aWriterWithinTheBusyTimeoutWaitsAndSucceeds() async throws {
        try await withTemporaryDatabase { path in
            let holder = try await SQLiteEventStore(path: path)
            let other = try await SQLiteEventStore(path: path)
            try await holder.create("busy-2")
            let (started, signal) = AsyncStream<Void>.makeStream()
            let waiting = Task {
                var iterator = started.makeAsyncIterator()
                _ = await iterator.next()
                return try await other.append([EventMessage(messageName: "Second")], to: "busy-2")
            }
            try await holder.transaction { tx in
                try await tx.append([EventMessage(messageName: "First")], to: "busy-2")
                signal.yield()
                try await Task.sleep(for: .milliseconds(300))
            }
            #expect(try await waiting.value.streamVersion == 2)
            #expect(try await holder.load("busy-2").collect().map(\.messageName) == ["First", "Second"])
        }
    }
}
