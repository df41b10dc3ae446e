import EventStore
import EventStoreBackends
import EventStoreTestSupport
import Foundation
import Logging
import Testing

/// Issue 23: `eventstore serve` scavenges on its schedule (`--scavenge-interval`) and logs what it removed.
@Suite("eventstore serve scavenges", .watchdog())
struct ServeScavengeTests {
    @Test func serveScavengesOnItsSchedule() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("es-scavenge-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = "sqlite:" + directory.appendingPathComponent("events.sqlite").path
        _ = try await StoreBackends.backend(for: database).withStore(tablePrefix: nil, logger: Logger(label: "test")) { store in
            try await store.create(
                "capped-2", metadata: [StreamRetention.maxCountKey: .int(1)], events: (1...4).map { _ in EventMessage(messageName: "Tick") })
        }
        let serve = try await ServeProcess.start(database: database, in: directory, ["--scavenge-interval", "1"])
        Watchdog.step("wait for serve's first scavenge")
        let deadline = ContinuousClock.now + .seconds(30)
        while !serve.output.contains("scavenge removed"), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(serve.output.contains("scavenge removed 3 event(s) past retention from 1 stream(s)"), "\(serve.output)")
        let exit = await serve.terminate(within: .seconds(30))
        #expect(exit != nil, "serve exited on SIGTERM")
        let left = try await StoreBackends.backend(for: database).withStore(tablePrefix: nil, logger: Logger(label: "test")) { store in
            try await (store as? any ScavengingEventStore)?.scavenge()
        }
        #expect(left == ScavengeResult(), "nothing was left to remove")
    }
}
