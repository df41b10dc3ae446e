import Logging
import Synchronization

/// A log handler that keeps what it is given, for tests that check what was logged.
public final class LogRecorder: Sendable {
    /// One entry that was logged.
    public struct Entry: Sendable {
        /// The entry's level.
        public let level: Logger.Level
        /// The entry's message, as text.
        public let message: String
        /// The logger's metadata merged with the entry's own (the entry's value wins for a key in both).
        public let metadata: Logger.Metadata
    }

    private let entries = Mutex<[Entry]>([])

    /// A recorder that has kept nothing yet.
    public init() {}

    /// A logger whose every entry (trace level and up) this recorder keeps.
    public func logger(label: String = "eventstore.tests") -> Logger {
        var logger = Logger(label: label) { _ in Handler(recorder: self) }
        logger.logLevel = .trace
        return logger
    }

    /// Every entry kept, oldest first, from all the loggers ``logger(label:)`` made.
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
