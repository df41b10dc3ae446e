/// How long a stream keeps its events, read from its metadata (KurrentDB's keys): events past retention
/// are invisible to every read at once (loads, the global order, counts, and so subscriptions, projections
/// and consumer groups that have not reached them yet), and a scavenge removes them for good.
///
/// - `$maxAge`: seconds; an event is past it once the database's clock is more than that after the event's
///   `createdAt`.
/// - `$maxCount`: only the last that many events of the stream stay.
/// - `$tb` ("truncate before"): events at positions below it are past retention.
///
/// Retention is the one exception to "nothing acknowledged is skipped", and the user's own: a reader that
/// has not reached an event by the time it passes retention never sees it. Until a scavenge removes them,
/// lifting a stream's retention shows its events again.
public struct StreamRetention: Sendable, Hashable {
    /// The metadata key of the age limit, `$maxAge`: a whole number of seconds, 1 or more.
    public static let maxAgeKey = "$maxAge"
    /// The metadata key of the count limit, `$maxCount`: a whole number of events, 1 or more.
    public static let maxCountKey = "$maxCount"
    /// The metadata key of the first position kept, `$tb` ("truncate before"): a whole number, 0 or more.
    public static let truncateBeforeKey = "$tb"

    /// The largest value each key takes: kept below what every backend's 64-bit arithmetic on positions and
    /// timestamps holds.
    public static let largest = 1 << 52

    /// How old an event may be, in seconds by the database's clock since its `createdAt`; `nil` for no limit.
    public var maxAgeSeconds: Int?
    /// How many of the stream's last events stay; `nil` for no limit.
    public var maxCount: Int?
    /// The first stream position that stays (events below it are past retention); `nil` for none.
    public var truncateBefore: Int?

    /// A retention with the limits given, none by default; the values are not checked.
    /// - Parameters:
    ///   - maxAgeSeconds: How old an event may be, in seconds; `nil` for no limit.
    ///   - maxCount: How many of the last events stay; `nil` for no limit.
    ///   - truncateBefore: The first position that stays; `nil` for none.
    public init(maxAgeSeconds: Int? = nil, maxCount: Int? = nil, truncateBefore: Int? = nil) {
        (self.maxAgeSeconds, self.maxCount, self.truncateBefore) = (maxAgeSeconds, maxCount, truncateBefore)
    }

    /// The retention `metadata` sets.
    /// - Throws: `invalidArgument` when a key holds anything but a whole number in its range (`$maxAge` and
    ///   `$maxCount` from 1, `$tb` from 0, each at most ``largest``).
    public init(_ metadata: Metadata) throws(EventStoreError) {
        func number(_ key: String, from lowest: Int) throws(EventStoreError) -> Int? {
            guard let value = metadata[key] else { return nil }
            let number: Int?
            switch value {
            case let .int(whole): number = whole
            case let .double(real) where real.rounded() == real && abs(real) <= Double(Self.largest): number = Int(real)
            default: number = nil
            }
            guard let number, (lowest...Self.largest).contains(number) else {
                throw .invalidArgument("stream metadata \"\(key)\" is a whole number from \(lowest) to \(Self.largest), not \(value)")
            }
            return number
        }
        self.init(
            maxAgeSeconds: try number(Self.maxAgeKey, from: 1), maxCount: try number(Self.maxCountKey, from: 1),
            truncateBefore: try number(Self.truncateBeforeKey, from: 0))
    }

    /// Whether any key is set.
    public var isEmpty: Bool { maxAgeSeconds == nil && maxCount == nil && truncateBefore == nil }

    /// The first position `$tb` and `$maxCount` leave visible in a stream at `version`.
    public func firstVisiblePosition(version: Int) -> Int {
        max(truncateBefore ?? 0, maxCount.map { version - $0 + 1 } ?? 0, 1)
    }

    /// Whether the event at `position`, created at `createdAtMicros`, is within retention in a stream at
    /// `version`, at `nowMicros` (microseconds since 1970).
    public func keeps(position: Int, createdAtMicros: Int64, version: Int, nowMicros: Int64) -> Bool {
        guard position >= firstVisiblePosition(version: version) else { return false }
        guard let maxAgeSeconds else { return true }
        return createdAtMicros >= nowMicros - Int64(maxAgeSeconds) * 1_000_000
    }
}

/// What a scavenge removed.
public struct ScavengeResult: Sendable, Hashable, Codable {
    /// Streams that lost events.
    public var streams: Int
    /// Events removed.
    public var events: Int

    /// A result with the counts given, 0 by default.
    /// - Parameters:
    ///   - streams: How many streams lost events.
    ///   - events: How many events were removed.
    public init(streams: Int = 0, events: Int = 0) { (self.streams, self.events) = (streams, events) }
}

/// A store that removes for good the events past their stream's retention (``StreamRetention``).
public protocol ScavengingEventStore: EventStore {
    /// Removes the events past their stream's retention now, a stream at a time (a SQL store deletes a
    /// stream's events in transactions of at most 1,000 rows, so writers never wait long). Reads do not
    /// change: those events were invisible already. The space they took is reused by later writes;
    /// returning it to the operating system is a manual step (`VACUUM` on SQLite and PostgreSQL,
    /// `OPTIMIZE TABLE` on MariaDB). Inside a transaction it is part of the transaction.
    @discardableResult
    func scavenge() async throws -> ScavengeResult
}
