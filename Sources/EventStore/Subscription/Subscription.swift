import CoreMetrics
import Foundation
import Logging
import Synchronization
import Tracing

/// Which events a subscription (or a reader of the global order) receives.
public enum SubscriptionTarget: Sendable, Hashable, CustomStringConvertible {
    /// The events of one stream.
    case stream(StreamName)
    /// The events of several streams.
    case streams([StreamName])
    /// The events of every stream of a category (the part of the name before the first `-`).
    case category(String)
    /// The events of every stream of several categories.
    case categories([String])
    /// The events of every stream except internal ones (names starting with `$`).
    case all

    /// `true` when an event of `stream` belongs to this target.
    public func contains(_ stream: StreamName) -> Bool {
        switch self {
        case let .stream(name): return name == stream
        case let .streams(names): return names.contains(stream)
        case let .category(category): return stream.category.map { $0.utf8.elementsEqual(category.utf8) } ?? false
        case let .categories(categories):
            guard let category = stream.category else { return false }
            return categories.contains { $0.utf8.elementsEqual(category.utf8) }
        case .all: return !stream.isInternal
        }
    }

    /// The target as logs and messages show it: `stream user-1`, `streams a, b`, `category user`,
    /// `categories user, order` or `all`.
    public var description: String {
        switch self {
        case let .stream(name): return "stream \(name)"
        case let .streams(names): return "streams \(names.map(\.rawValue).joined(separator: ", "))"
        case let .category(category): return "category \(category)"
        case let .categories(categories): return "categories \(categories.joined(separator: ", "))"
        case .all: return "all"
        }
    }
}

extension SubscriptionTarget {
    /// The target as rows store it: `all`, or a JSON object of one key (`stream`, `streams`, `category`,
    /// `categories`) whose value is an array of names. Backend API.
    @_spi(Backend) public var storedText: String {
        func list(_ key: String, _ values: [String]) -> String {
            var out = "{"
            JSONWriter.writeString(key, into: &out)
            out += ":["
            for (index, value) in values.enumerated() {
                if index > 0 { out += "," }
                JSONWriter.writeString(value, into: &out)
            }
            return out + "]}"
        }
        switch self {
        case .all: return "all"
        case let .stream(name): return list("stream", [name.rawValue])
        case let .streams(names): return list("streams", names.map(\.rawValue))
        case let .category(category): return list("category", [category])
        case let .categories(categories): return list("categories", categories)
        }
    }

    /// Reads ``storedText``. Backend API. - Throws: `corrupt` when the text is not one this build writes.
    @_spi(Backend) public init(storedText text: String) throws(EventStoreError) {
        if text == "all" {
            self = .all
            return
        }
        guard case let .object(members) = try? JSONValue(parsing: text), members.count == 1,
            case let .array(items) = members[0].value
        else { throw .corrupt("a stored subscription target is corrupt: \(text)") }
        var values: [String] = []
        for item in items {
            guard case let .string(value) = item else { throw .corrupt("a stored subscription target is corrupt: \(text)") }
            values.append(value)
        }
        var names: [StreamName] = []
        if members[0].key.hasPrefix("stream") {
            for value in values {
                guard let name = try? StreamName(value) else { throw .corrupt("a stored subscription target is corrupt: \(text)") }
                names.append(name)
            }
        }
        switch (members[0].key, values.count) {
        case ("stream", 1): self = .stream(names[0])
        case ("streams", _): self = .streams(names)
        case ("category", 1): self = .category(values[0])
        case ("categories", _): self = .categories(values)
        default: throw .corrupt("a stored subscription target is corrupt: \(text)")
        }
    }
}

/// Where a subscription starts.
public enum SubscriptionStart: Sendable, Hashable {
    /// From the first event.
    case start
    /// After the events stored when the subscription is made: only new events.
    case end
    /// After an event's global position.
    case after(GlobalPosition)
    /// For a ``SubscriptionTarget/stream(_:)`` subscription: after the event at this stream position (0
    /// for the start).
    case afterStreamPosition(Int)
}

/// A store that can be read in its global order and followed live: what subscriptions and projections
/// are built on. Every backend conforms.
public protocol GlobalOrderEventStore: EventStore {
    /// The events of `target` after `position`, in global order, at most `limit` of them. Never passes over
    /// an event that commits later with a smaller position: each backend's mechanism guarantees it.
    /// - Throws: `invalidArgument` when `limit` < 1, `position` has a negative part or is past every position
    ///   the store handed out, or a category holds U+0000.
    func readAll(after position: GlobalPosition, of target: SubscriptionTarget, limit: Int) async throws -> [RecordedEvent]

    /// Reads like ``readAll(after:of:limit:)``, and says how far the read looked: a reader of a quiet target
    /// goes on from there, instead of reading again everything stored since its last event.
    func readPage(after position: GlobalPosition, of target: SubscriptionTarget, limit: Int) async throws -> GlobalOrderPage

    /// How many events of `target` are stored after `position`, counted up to `limit`, without reading
    /// them: how far a projection or a subscription is behind.
    /// - Throws: `invalidArgument` when `limit` < 1 or `position` has a negative part.
    func eventCount(after position: GlobalPosition, of target: SubscriptionTarget, limit: Int) async throws -> Int

    /// The global position of the last event committed, ``GlobalPosition/start`` when there is none.
    func headPosition() async throws -> GlobalPosition

    /// A position below which every event is committed and readable by ``readAll(after:of:limit:)``: no event
    /// will ever appear below it. Backends that show events in order as they commit return
    /// ``headPosition()``; PostgreSQL returns the start of the oldest transaction still running.
    @_spi(Backend) func readableHead() async throws -> GlobalPosition

    /// The transactions that hold readers back now, where the backend can tell (PostgreSQL: the oldest open
    /// transaction of the cluster); empty for backends whose readers are never held back.
    func globalOrderBlockers() async throws -> [GlobalOrderBlocker]

    /// Signalled after appends commit (this process's, and other processes' where the backend can tell).
    @_spi(Backend) var appendNotifier: AppendNotifier { get }

    /// How long a live reader waits for a signal before it reads again anyway (the fallback for wake-ups
    /// this process cannot see).
    @_spi(Backend) var pollInterval: Duration { get }

    /// The checkpoint saved under `name`, `nil` when there is none.
    func checkpoint(named name: String) async throws -> GlobalPosition?

    /// Saves a checkpoint under `name`, replacing the one before.
    func saveCheckpoint(_ position: GlobalPosition, named name: String) async throws

    /// Where the store logs, and subscriptions and projections on it log by default.
    var logger: Logger { get }
}

extension GlobalOrderEventStore {
    /// Counts by reading the events, a page at a time: for stores that have no count of their own.
    public func eventCount(after position: GlobalPosition, of target: SubscriptionTarget, limit: Int) async throws -> Int {
        if limit < 1 { throw EventStoreError.invalidArgument("limit must be 1 or more, not \(limit)") }
        var count = 0
        var position = position
        while count < limit {
            let page = try await readAll(after: position, of: target, limit: min(500, limit - count))
            guard let last = page.last else { break }
            count += page.count
            position = last.globalPosition
        }
        return count
    }

    /// Reads with ``readAll(after:of:limit:)``, looking no further than its last event: for stores that
    /// cannot tell more.
    public func readPage(after position: GlobalPosition, of target: SubscriptionTarget, limit: Int) async throws
        -> GlobalOrderPage
    {
        let events = try await readAll(after: position, of: target, limit: limit)
        return GlobalOrderPage(events: events, after: position, limit: limit, readable: nil)
    }

    @_spi(Backend) public func readableHead() async throws -> GlobalPosition {
        let head = try await headPosition()
        return GlobalPosition(commit: head.commit, sequence: head.sequence + 1)
    }

    public func globalOrderBlockers() async throws -> [GlobalOrderBlocker] { [] }

    public var logger: Logger { Logger(label: "eventstore") }

    /// Follows `target`: first what is stored, then new events as they are committed, in global order, each
    /// once, until the consuming task is cancelled.
    ///
    /// The sequence reads a page of at most `readBatchSize` events only when the consumer asks for more: a slow
    /// consumer slows reading and memory stays bounded. Backend failures (a lost connection) are retried
    /// with back-off, resuming after the last event delivered; `logger` (the store's by default) hears of the
    /// first failure of a run of them and of the read that ends it. `clock` times the waits: the back-off, and
    /// the poll interval a live reader waits at most for a wake-up. Each read of a page is a span,
    /// `eventstore subscription page`.
    /// - Throws: `invalidArgument` when `readBatchSize` < 1 or `.afterStreamPosition` is used with another
    ///   target or names a position the stream does not have.
    public func subscribe(
        to target: SubscriptionTarget, from start: SubscriptionStart = .start, readBatchSize: Int = 1000,
        clock: some Clock<Duration> = ContinuousClock(), logger: Logger? = nil
    ) async throws -> EventSubscription {
        if readBatchSize < 1 { throw EventStoreError.invalidArgument("readBatchSize must be 1 or more, not \(readBatchSize)") }
        let position: GlobalPosition
        switch start {
        case .start: position = .start
        case .end: position = try await headPosition()
        case let .after(global): position = global
        case let .afterStreamPosition(streamPosition):
            guard case let .stream(stream) = target else {
                throw EventStoreError.invalidArgument("afterStreamPosition needs a stream subscription, not \(target)")
            }
            if streamPosition < 0 { throw EventStoreError.invalidArgument("stream positions are 0 or more") }
            if streamPosition == 0 {
                position = .start
            } else {
                guard let event = try await load(stream, from: streamPosition, count: 1, matching: nil).collect().first,
                    event.position == streamPosition
                else {
                    throw EventStoreError.invalidArgument("stream \"\(stream)\" has no event at position \(streamPosition)")
                }
                position = event.globalPosition
            }
        }
        return EventSubscription(
            store: self, target: target, after: position, readBatchSize: readBatchSize, clock: AnyClock(clock),
            logger: logger ?? self.logger)
    }

    /// Runs a durable subscription: resumes after the checkpoint saved under `name` (from the start the
    /// first time), calls `handler` for each event and saves the checkpoint after the handler returns, until
    /// the task is cancelled or the handler throws.
    ///
    /// Delivery is at least once: after a crash between a handler and its checkpoint, the event is delivered
    /// again, so handlers should be idempotent. `clock` times the subscription's waits, as for
    /// ``subscribe(to:from:readBatchSize:clock:logger:)``, and `logger` hears what it does.
    ///
    /// While it runs, every `lagInterval` (on `clock`) it measures how far it is behind its target, through
    /// `metrics`: `eventstore_subscription_lag_events{subscription}` (the events of its target after the last
    /// one it handled, counted up to 10,000 with the store's count query) and
    /// `eventstore_subscription_lag_seconds{subscription}` (how long ago the oldest of them was recorded; 0
    /// when there is none).
    public func runSubscription(
        named name: String, to target: SubscriptionTarget, readBatchSize: Int = 1000,
        clock: some Clock<Duration> = ContinuousClock(), logger: Logger? = nil,
        metrics: any MetricsFactory = MetricsSystem.factory, lagInterval: Duration = .seconds(5),
        handler: (RecordedEvent) async throws -> Void
    ) async throws {
        if name.isEmpty { throw EventStoreError.invalidArgument("a durable subscription needs a name") }
        var named = logger ?? self.logger
        named[metadataKey: "eventstore.subscription"] = .string(name)
        let logger = named
        let start = try await checkpoint(named: name)
        let lag = SubscriptionLag(name: name, target: target, after: start ?? .start, metrics: metrics)
        let clock = AnyClock(clock)
        try await withThrowingTaskGroup { group in
            group.addTask { [self] in
                while !Task.isCancelled {
                    do {
                        try await lag.measure(in: self)
                    } catch where !Task.isCancelled {
                        logger.debug("the subscription's lag could not be measured: \(error)")
                    }
                    try? await clock.sleep(for: lagInterval)
                }
            }
            defer { group.cancelAll() }
            let events = try await subscribe(
                to: target, from: start.map(SubscriptionStart.after) ?? .start, readBatchSize: readBatchSize, clock: clock,
                logger: logger)
            for try await event in events {
                try await handler(event)
                try await saveCheckpoint(event.globalPosition, named: name)
                lag.handled(event.globalPosition)
            }
        }
    }
}

/// The events of a subscription: catch-up, then live (see ``GlobalOrderEventStore/subscribe(to:from:readBatchSize:clock:logger:)``).
/// It ends only when the consuming task is cancelled, or with an error that is not a backend failure.
public struct EventSubscription: AsyncSequence, Sendable {
    /// One event of the target, in the global order.
    public typealias Element = RecordedEvent

    let store: any GlobalOrderEventStore
    let target: SubscriptionTarget
    let after: GlobalPosition
    let readBatchSize: Int
    /// Times the back-off and the waits for wake-ups.
    let clock: AnyClock
    let logger: Logger

    /// The most time between retries after backend failures.
    static let maxRetryDelay: Duration = .seconds(5)

    /// An iterator that starts after the subscription's start position.
    public func makeAsyncIterator() -> Iterator {
        Iterator(store: store, target: target, last: after, readBatchSize: readBatchSize, clock: clock, logger: logger)
    }

    /// Reads the target's events a page at a time and hands them out one by one.
    public struct Iterator: AsyncIteratorProtocol {
        let store: any GlobalOrderEventStore
        let target: SubscriptionTarget
        /// Where the next read starts: the position of the last event delivered, or, once every event of the
        /// page was delivered, how far that read looked.
        var last: GlobalPosition
        let readBatchSize: Int
        let clock: AnyClock
        let logger: Logger
        var buffer: [RecordedEvent] = []
        var index = 0
        /// How far the read of `buffer` looked.
        var readThrough = GlobalPosition.start

        /// What a log line of this subscription says of it: its target, and where its reads start.
        var logMetadata: Logger.Metadata {
            ["eventstore.target": .string(target.description), "eventstore.position": .string("\(last)")]
        }

        /// The next event: the next of the page read last, or of a new page of at most the read batch size;
        /// when there is none, it waits for an append, or at most the store's poll interval, and reads again.
        ///
        /// `nil` once the consuming task is cancelled (checked before each read). A transient failure is
        /// logged and the read retried after 100 ms, then twice as long each time, up to 5 s.
        /// - Throws: the errors that are not transient.
        public mutating func next() async throws -> RecordedEvent? {
            var retryDelay: Duration = .milliseconds(100)
            var failures = 0
            while index == buffer.count {
                if Task.isCancelled { return nil }
                let generation = store.appendNotifier.generation
                do {
                    let page = try await withSpan("eventstore subscription page", ofKind: .consumer) { [self] span in
                        span.attributes["eventstore.target"] = target.description
                        span.attributes["eventstore.position"] = "\(last)"
                        let page = try await store.readPage(after: last, of: target, limit: readBatchSize)
                        span.attributes["eventstore.events"] = page.events.count
                        return page
                    }
                    (buffer, readThrough) = (page.events, page.readThrough)
                    index = 0
                    retryDelay = .milliseconds(100)
                    if failures > 0 {
                        logger.notice(
                            "the subscription reads again after \(failures) failed reads",
                            metadata: logMetadata)
                        failures = 0
                    }
                } catch where Task.isCancelled {
                    // Cancelling the consumer ends the subscription, whatever the read in flight threw.
                    return nil
                } catch let error as EventStoreError where error.code.isTransient {
                    // The first failure of a run is a warning; the rest of the run, until a read succeeds, is
                    // debug detail.
                    failures += 1
                    logger.log(
                        level: failures == 1 ? .warning : .debug,
                        "the subscription's read failed; it retries in \(retryDelay): \(error)",
                        metadata: logMetadata)
                    try? await clock.sleep(for: retryDelay)
                    retryDelay = Swift.min(retryDelay * 2, EventSubscription.maxRetryDelay)
                    continue
                }
                if buffer.isEmpty {
                    last = readThrough
                    await store.appendNotifier.wait(after: generation, timeout: store.pollInterval, clock: clock)
                }
            }
            let event = buffer[index]
            index += 1
            last = index == buffer.count ? readThrough : event.globalPosition
            return event
        }
    }
}

/// A durable subscription's lag, for ``GlobalOrderEventStore/runSubscription(named:to:readBatchSize:clock:logger:metrics:lagInterval:handler:)``.
final class SubscriptionLag: Sendable {
    let target: SubscriptionTarget
    private let position: Mutex<GlobalPosition>
    private let events: Gauge
    private let seconds: Gauge

    /// The most events counted behind.
    static let countLimit = 10_000

    init(name: String, target: SubscriptionTarget, after position: GlobalPosition, metrics: any MetricsFactory) {
        self.target = target
        self.position = Mutex(position)
        events = Gauge(label: "eventstore_subscription_lag_events", dimensions: [("subscription", name)], factory: metrics)
        seconds = Gauge(label: "eventstore_subscription_lag_seconds", dimensions: [("subscription", name)], factory: metrics)
    }

    func handled(_ position: GlobalPosition) { self.position.withLock { $0 = position } }

    /// Counts the events of the target after the last one handled, and reads the first of them for its age.
    func measure(in store: some GlobalOrderEventStore) async throws {
        let after = position.withLock { $0 }
        let behind = try await store.eventCount(after: after, of: target, limit: Self.countLimit)
        events.record(behind)
        seconds.record(try await EventLag.seconds(after: after, of: target, in: store, count: behind))
    }
}

/// How far a reader of the global order is behind, in time.
package enum EventLag {
    /// How long ago the oldest event of `target` after `position` was recorded (0 when `count` says there
    /// is none): one read of one event.
    package static func seconds(after position: GlobalPosition, of target: SubscriptionTarget, in store: some GlobalOrderEventStore, count: Int)
        async throws -> Double
    {
        guard count > 0, let oldest = try await store.readAll(after: position, of: target, limit: 1).first else { return 0 }
        return max(0, Date().timeIntervalSince(oldest.createdAt))
    }
}
