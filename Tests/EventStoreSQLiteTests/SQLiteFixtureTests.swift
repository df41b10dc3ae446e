import EventStore
import EventStoreSQLite
import EventStoreTestSupport
import Foundation
import Testing

@Suite("SQLite files of older builds", .watchdog())
struct SQLiteFixtureTests {
    @Test func aFileOfTheSchema4BuildOpensAndReadsBackUnchanged() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fixture-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("eventstore.sqlite").path
        try FileManager.default.copyItem(atPath: Schema4Fixture.directory.appendingPathComponent("eventstore.sqlite").path, toPath: path)
        let store = try await SQLiteEventStore(path: path)
        #expect(store.schemaVersion == 9)
        try await Schema4Fixture.verify(store, globalOrder: store)
        await store.close()
    }
}
