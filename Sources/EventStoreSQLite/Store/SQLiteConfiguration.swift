import EventStore
import EventStoreSQL
import Foundation

/// How an ``SQLiteEventStore`` opens and uses its database file.
public struct SQLiteConfiguration: Sendable {
    /// How hard SQLite makes sure a commit is on disk before it returns
    /// ([`PRAGMA synchronous`](https://www.sqlite.org/pragma.html#pragma_synchronous)).
    public enum Synchronous: String, Sendable, CaseIterable {
        /// No syncs: fastest; an OS crash or power loss can corrupt or lose commits.
        case off = "OFF"
        /// In WAL mode, commits are durable against an application crash but the last ones may be lost on
        /// power loss or an OS crash.
        case normal = "NORMAL"
        /// Every commit is synced to disk before it returns: nothing acknowledged is lost. The default.
        case full = "FULL"
        /// As `full`, and the directory is synced too.
        case extra = "EXTRA"
    }

    /// The database file; created, with its schema, when missing.
    public var path: String

    /// A prefix for the store's tables, so that several stores can share one file (ASCII letters,
    /// digits and `_`, at most 40). Empty by default.
    public var tablePrefix: String = ""

    /// How long a writer waits for another connection or process holding the write lock before it fails
    /// with `busy` ([`sqlite3_busy_timeout`](https://www.sqlite.org/c3ref/busy_timeout.html)). 5 seconds by
    /// default.
    public var busyTimeout: Duration = .seconds(5)

    /// Durability of commits; ``Synchronous/full`` by default, so that an acknowledged append survives a
    /// power loss.
    public var synchronous: Synchronous = .full

    /// How many read connections serve loads and listings beside the one writer (WAL mode lets them read
    /// while it writes). 2 by default, at least 1.
    public var readerCount: Int = 2

    /// How many events one read of a load fetches (a load reads its stream in batches of this size, so
    /// memory stays bounded however long the stream). 1,000 by default, at least 1 (smaller values count
    /// as 1). Formerly `loadBatchSize`.
    public var readBatchSize: Int = 1000

    /// Called on the writer's thread after an append's rows are written and before its commit: the crash
    /// tests' hook (their own writer process sets it), never API.
    package var _beforeCommit: (@Sendable () -> Void)?

    /// A configuration for the file at `path`, with the defaults.
    public init(path: String) {
        self.path = path
    }

    /// Reads `sqlite:PATH` (also `sqlite://PATH`), the path percent-encoded where it must be, with optional
    /// settings `synchronous=off|normal|full|extra`, `busy_timeout_ms=N` and `table_prefix=P`:
    /// `sqlite:/data/events.sqlite?busy_timeout_ms=10000`.
    /// - Throws: `EventStoreError` `invalidArgument` when the URL is not such a URL.
    public init(url text: String) throws(EventStoreError) {
        guard text.lowercased().hasPrefix("sqlite:") else { throw .invalidArgument("\"\(text)\" is not a sqlite: URL") }
        var rest = Substring(text.dropFirst("sqlite:".count))
        if rest.hasPrefix("//") { rest = rest.dropFirst(2) }
        var items: [(name: String, value: String)] = []
        if let mark = rest.firstIndex(of: "?") {
            items = rest[rest.index(after: mark)...].split(separator: "&").map { item in
                let parts = item.split(separator: "=", maxSplits: 1)
                let value = parts.count > 1 ? String(parts[1]) : ""
                return (String(parts[0]), value.removingPercentEncoding ?? value)
            }
            rest = rest[..<mark]
        }
        let path = rest.removingPercentEncoding ?? String(rest)
        guard !path.isEmpty else { throw .invalidArgument("sqlite: needs a file path, for example sqlite:./eventstore.sqlite") }
        self.init(path: path)
        var settings = try URLSettings(items, of: "sqlite:")
        if let mode = try settings.choice("synchronous", of: Synchronous.self) { synchronous = mode }
        if let ms = try settings.integer("busy_timeout_ms", atLeast: 0, unit: "milliseconds") { busyTimeout = .milliseconds(ms) }
        if let prefix = settings.text("table_prefix") { tablePrefix = prefix }
        try settings.finish()
    }
}
