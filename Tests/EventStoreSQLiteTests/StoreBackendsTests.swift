import EventStore
import EventStoreBackends
import EventStoreSQLite
import EventStoreTestSupport
import Foundation
import Logging
import Testing

@Suite("Store backends by URL scheme", .watchdog())
struct StoreBackendsTests {
    @Test func eachSchemeNamesItsBackend() throws {
        var expected = [
            ("sqlite:/tmp/x.sqlite", "sqlite"), ("SQLite:/tmp/x.sqlite", "sqlite"),
            ("memory:", "memory"), ("memory://", "memory"),
            ("postgres://u@127.0.0.1:5432/db", "postgres"), ("postgresql://u@127.0.0.1/db", "postgres"),
        ]
        #if MySQL
        expected += [("mysql://u:p@127.0.0.1:3306/db", "mariadb"), ("mariadb://u:p@127.0.0.1/db", "mariadb")]
        #endif
        for (url, name) in expected {
            #expect(type(of: try StoreBackends.backend(for: url)).name == name, "\(url)")
        }
        #expect(StoreBackends.all.map { $0.name }.sorted() == Set(expected.map(\.1)).sorted())
    }

    @Test func aURLNoBackendReadsIsAnInvalidArgumentThatListsTheForms() throws {
        for url in ["foo:bar", "no-colon", "memory:extra", "postgres://", "sqlite:/tmp/x.sqlite?nope=1"] {
            let error = #expect(throws: EventStoreError.self, "\(url)") { try StoreBackends.backend(for: url) }
            #expect(error?.code == .invalidArgument, "\(url)")
        }
        let error = try #require(throws: EventStoreError.self) { try StoreBackends.backend(for: "foo:bar") }
        for backend in StoreBackends.all { #expect(error.description.contains(backend.urlForm)) }
    }

    @Test func aStoreOpenedWithATablePrefixKeepsItsTablesApartAndIsClosedAfterwards() async throws {
        try await withTemporaryDatabase { path in
            let backend = try StoreBackends.backend(for: "sqlite:" + path)
            let leaked = try await backend.withStore(tablePrefix: "p1_", logger: .init(label: "test")) { store in
                try await store.create("kept-1", events: [EventMessage(messageName: "A")])
                return store
            }
            await #expect(throws: EventStoreError.self) { try await leaked.hasStream("kept-1") }
            let plain = try await SQLiteEventStore(path: path)
            #expect(try await !plain.hasStream("kept-1"))
            var prefixed = SQLiteConfiguration(path: path)
            prefixed.tablePrefix = "p1_"
            #expect(try await SQLiteEventStore(configuration: prefixed).hasStream("kept-1"))
            #expect(try await backend.migrate(logger: .init(label: "test")) == plain.schemaVersion)
            #expect(try SQLiteEventStore.tableNames(prefix: "p1_").allSatisfy { $0.hasPrefix("p1_") })
        }
    }
}
