/// The events of a load, read from the backend in pages as they are consumed.
///
/// Pages are fetched by keyset (position after the last one seen), so memory stays constant however
/// long the stream, and `count` is honoured exactly whatever the page size.
public struct RecordedEventSequence: AsyncSequence, Sendable {
    /// A recorded event of the load.
    public typealias Element = RecordedEvent

    /// Which way positions run.
    @_spi(Backend) public enum Direction: Sendable, Hashable {
        case forward
        case backward
    }

    /// Fetches at most `limit` matching events of one stream, starting at position `bound` (inclusive) and
    /// going in the sequence's direction. Returning fewer than `limit` events means there are no more.
    @_spi(Backend) public typealias PageFetcher = @Sendable (_ bound: Int, _ limit: Int) async throws -> [RecordedEvent]

    let direction: Direction
    let start: Int
    let count: Int?
    let readBatchSize: Int
    let fetch: PageFetcher
    /// Applied to each fetched event (upcasting); `nil` passes events through.
    let transform: (@Sendable (RecordedEvent) throws -> [RecordedEvent])?

    /// - Parameters:
    ///   - direction: forward (ascending positions) or backward.
    ///   - start: the first position to consider (inclusive).
    ///   - count: the most events to return, `nil` for all.
    ///   - readBatchSize: the most events fetched at once (at least 1).
    ///   - fetch: reads one page.
    @_spi(Backend) public init(direction: Direction, start: Int, count: Int?, readBatchSize: Int, fetch: @escaping PageFetcher) {
        self.direction = direction
        self.start = start
        self.count = count
        self.readBatchSize = Swift.max(1, readBatchSize)
        self.fetch = fetch
        self.transform = nil
    }

    private init(_ base: RecordedEventSequence, transform: @escaping @Sendable (RecordedEvent) throws -> [RecordedEvent]) {
        direction = base.direction
        start = base.start
        count = base.count
        readBatchSize = base.readBatchSize
        fetch = base.fetch
        if let earlier = base.transform {
            self.transform = { event in try earlier(event).flatMap(transform) }
        } else {
            self.transform = transform
        }
    }

    /// This sequence with each event replaced by zero or more events (upcasting). `count` and paging still
    /// apply to the stored events: an event split in two counts once.
    public func flatMapEvents(_ transform: @escaping @Sendable (RecordedEvent) throws -> [RecordedEvent])
        -> RecordedEventSequence
    {
        RecordedEventSequence(self, transform: transform)
    }

    /// A sequence without events.
    public static let empty = RecordedEventSequence(direction: .forward, start: 1, count: nil, readBatchSize: 1) { _, _ in [] }

    /// A sequence of the given events, in the order given.
    public static func of(_ events: [RecordedEvent]) -> RecordedEventSequence {
        RecordedEventSequence(direction: .forward, start: 0, count: nil, readBatchSize: Swift.max(1, events.count + 1)) {
            bound, _ in bound == 0 ? events : []
        }
    }

    /// An iterator over the events, from the load's start: each iterator reads the pages again.
    public func makeAsyncIterator() -> Iterator {
        Iterator(sequence: self, bound: start, remaining: count)
    }

    /// Iterates a ``RecordedEventSequence``, fetching a page whenever the one before is used up.
    public struct Iterator: AsyncIteratorProtocol {
        let sequence: RecordedEventSequence
        var bound: Int
        var remaining: Int?
        var page: [RecordedEvent] = []
        var index = 0
        var exhausted = false

        /// The next event, fetching the next page when needed; `nil` after the last one.
        /// - Throws: The backend's error when a page cannot be read, or what an upcaster
        ///   (``RecordedEventSequence/flatMapEvents(_:)``) throws.
        public mutating func next() async throws -> RecordedEvent? {
            while index == page.count {
                if exhausted || remaining == 0 { return nil }
                let limit = Swift.min(sequence.readBatchSize, remaining ?? Int.max)
                let fetched = try await sequence.fetch(bound, limit)
                if fetched.count < limit { exhausted = true }
                guard let last = fetched.last else { return nil }
                switch sequence.direction {
                case .forward:
                    if last.position == Int.max { exhausted = true } else { bound = last.position + 1 }
                case .backward:
                    if last.position <= 1 { exhausted = true } else { bound = last.position - 1 }
                }
                if let r = remaining { remaining = r - fetched.count }
                page = try sequence.transform.map { transform in try fetched.flatMap(transform) } ?? fetched
                index = 0
            }
            let event = page[index]
            index += 1
            return event
        }
    }

    /// All the events, in order.
    public func collect() async throws -> [RecordedEvent] {
        var events: [RecordedEvent] = []
        for try await event in self { events.append(event) }
        return events
    }
}
