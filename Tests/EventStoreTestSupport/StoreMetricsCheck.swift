import CoreMetrics
import EventStore
import Logging
import MetricsTestKit
import Synchronization
import Testing

/// What every backend records through its ``EventStoreTelemetry``'s metrics, checked on a store opened with
/// a `TestMetrics` factory: each operation timed under its name, a failure counted under its code.
public enum StoreMetricsCheck {
    public static func run(_ store: any EventStore, metrics: TestMetrics, backend: String) async throws {
        try await store.create("metered-1", events: [EventMessage(messageName: "Opened")])
        try await store.append([EventMessage(messageName: "Added"), EventMessage(messageName: "Added")], to: "metered-1")
        try await store.append([EventMessage(messageName: "Added")], to: "metered-1", expectedVersion: .exact(3))
        await #expect(throws: EventStoreError.self) {
            try await store.append([EventMessage(messageName: "Late")], to: "metered-1", expectedVersion: .exact(1))
        }
        #expect(try await store.load("metered-1").collect().count == 4)

        func timer(_ operation: String) throws -> TestTimer {
            try metrics.expectTimer("eventstore_operation_duration_seconds", [("backend", backend), ("operation", operation)])
        }
        #expect(try timer("create").values.count == 1)
        #expect(try timer("append").values.count == 3, "two appends and the one refused")
        #expect(try timer("append").values.allSatisfy { $0 > 0 })
        // The refused append looks for an earlier append of its events (idempotence), a load of its own.
        #expect(try timer("load").values.count >= 1)
        let errors = metrics.counters(label: "eventstore_errors_total")
        #expect(errors.count == 1, "\(errors.map(\.dimensions))")
        let refused = try metrics.expectCounter(
            "eventstore_errors_total", [("backend", backend), ("operation", "append"), ("code", "wrong_expected_version")])
        #expect(refused.totalValue == 1)
    }
}

/// A log handler that keeps what it is given, for tests that check what was logged.
public final class LogRecorder: Sendable {
    public struct Entry: Sendable {
        public let level: Logger.Level
        public let message: String
        public let metadata: Logger.Metadata
    }

    private let entries = Mutex<[Entry]>([])

    public init() {}

    /// A logger whose every entry (trace level and up) this recorder keeps.
    public func logger(label: String = "eventstore.tests") -> Logger {
        var logger = Logger(label: label) { _ in Handler(recorder: self) }
        logger.logLevel = .trace
        return logger
    }

    public var all: [Entry] { entries.withLock { $0 } }

    /// The entries at `level` whose message contains `text`.
    public func entries(_ level: Logger.Level, containing text: String) -> [Entry] {
        all.filter { $0.level == level && $0.message.contains(text) }
    }

    func add(_ entry: Entry) { entries.withLock { $0.append(entry) } }

    struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            recorder.add(Entry(level: event.level, message: "\(event.message)", metadata: metadata.merging(event.metadata ?? [:]) { $1 }))
        }
    }
}
