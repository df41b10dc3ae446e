import EventStore
import Foundation
import Testing

/// The databases the schema-4 build wrote (`Tests/Fixtures/schema4`, see its README): every backend's test
/// opens its copy with this build and checks that it reads back unchanged and takes new appends.
public enum Schema4Fixture {
    /// The fixture's folder.
    public static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/schema4")

    /// The table prefix of the PostgreSQL and MariaDB dumps.
    public static let tablePrefix = "fixture_"

    /// Checks what the old build wrote, then appends to it. `globalOrder` (the same store) also checks the
    /// global order.
    public static func verify(_ store: any EventStore, globalOrder: (any GlobalOrderEventStore)? = nil) async throws {
        #expect(try await store.streamNames() == ["account-1", "account-2"])
        #expect(try await store.categoryNames() == ["account"])
        #expect(try await store.streamMetadata(of: "account-1") == ["owner": "Zoë", "retention": 30, "vip": true])
        #expect(try await store.streamMetadata(of: "account-2") == [:])

        let first = try await store.load("account-1").collect()
        #expect(first.map(\.position) == [1, 2, 3])
        #expect(first.map(\.messageName) == ["AccountOpened", "MoneyDeposited", "MoneyWithdrawn"])
        #expect(
            first.map(\.message.uuid.lowercased) == [
                "0b4f7c1e-2d3a-4e5f-8a9b-1c2d3e4f5a6b", "1c5a8d2f-3e4b-4f60-9bac-2d3e4f5a6b7c",
                "2d6b9e3a-4f5c-4a71-8cbd-3e4f5a6b7c8d",
            ])
        #expect(
            first.map(\.message.payload.jsonText) == [
                #"{"owner":"Zoë","limits":[1,2.5,"three",null,true]}"#, #"{"amount":125.75,"note":"\u00e9t\u00e9 \ud83d\ude00"}"#,
                #"{"amount":25}"#,
            ])
        #expect(
            first.map(\.message.createdAtMicros) == [
                try micros("2026-11-30T12:34:56.123456"), try micros("2026-11-30T12:35:00.000001"),
                try micros("2026-11-30T12:36:00.500000"),
            ])
        #expect(first.first?.message.metadata["tenant"] == "t-1")
        #expect(first.map { $0.message.metadata["_aggregate_version"] } == [1, 2, 3])
        #expect(first.last?.message.metadata["big"] == .int(9_007_199_254_740_993))
        #expect(first.first?.message.aggregateKey?.description == "aggregate account 1 at version 1")

        let second = try await store.load("account-2").collect()
        #expect(second.map(\.messageName) == ["AccountOpened"])
        #expect(second.first?.message.payload.jsonText == #"{"owner":"Ada"}"#)

        // The old rows take part in new writes: the expected version, the aggregate key's uniqueness.
        await #expect(throws: EventStoreError.self) {
            try await store.append([EventMessage(messageName: "Late")], to: "account-1", expectedVersion: .exact(2))
        }
        let duplicate = EventMessage(
            messageName: "MoneyDeposited", metadata: ["_aggregate_type": "account", "_aggregate_id": "1", "_aggregate_version": 2])
        let error = await #expect(throws: EventStoreError.self) {
            try await store.append([duplicate], to: "account-1", expectedVersion: .exact(3))
        }
        #expect(error?.code == .duplicateEvent)
        let appended = try await store.append([EventMessage(messageName: "AccountClosed")], to: "account-1", expectedVersion: .exact(3))
        #expect(appended.streamVersion == 4)
        #expect(try await store.loadReverse("account-1", count: 1).collect().map(\.messageName) == ["AccountClosed"])

        if let globalOrder {
            let all = try await globalOrder.readAll(after: .start, of: .all, limit: 100)
            #expect(all.map(\.messageName) == ["AccountOpened", "MoneyDeposited", "MoneyWithdrawn", "AccountOpened", "AccountClosed"])
            #expect(all.last?.globalPosition == appended.lastGlobalPosition)
        }
    }

    /// Runs a database's command-line client (`psql`, `mariadb`) on a fixture file, as standard input.
    /// - Throws: when it exits with another status than 0.
    public static func load(_ file: String, with command: String, _ arguments: [String]) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [command] + arguments
        process.standardInput = try FileHandle(forReadingFrom: directory.appendingPathComponent(file))
        try ProcessLaunch.run(process)
        Watchdog.step("\(command) loads the fixture \(file)")
        while process.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        try #require(process.terminationStatus == 0, "\(command) could not load \(file)")
    }

    private static func micros(_ text: String) throws -> Int64 {
        try #require(Timestamp.parseMicroseconds(text))
    }
}
