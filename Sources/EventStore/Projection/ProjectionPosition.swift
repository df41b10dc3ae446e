/// Where a projection is in its store's order: a global position (a single store), or a composite position
/// (a ``PartitionedEventStore``, one part per member). Rows store its text.
public enum ProjectionPosition: Sendable, Hashable, CustomStringConvertible, LosslessStringConvertible {
    /// A position in a single store's global order.
    case global(GlobalPosition)
    /// A position in a ``PartitionedEventStore``'s merged order: one global position per member.
    case composite(CompositePosition)

    /// The text rows store: ``GlobalPosition``'s (`42`, `7:42`) or ``CompositePosition``'s (`a=42,b=7:42`).
    public var description: String {
        switch self {
        case let .global(position): position.description
        case let .composite(position): position.description
        }
    }

    /// Reads ``description``: a global position, or a composite one (the empty text is the composite
    /// ``CompositePosition/start``: a global position's text is never empty). `nil` otherwise.
    public init?(_ text: String) {
        if let global = GlobalPosition(text) {
            self = .global(global)
        } else if text.isEmpty || text.contains("="), let composite = CompositePosition(text) {
            self = .composite(composite)
        } else {
            return nil
        }
    }

    /// The global position, `nil` for a composite one.
    public var global: GlobalPosition? {
        if case let .global(position) = self { return position }
        return nil
    }

    /// The part of `member` (a composite position's), or the global position (`member` is `nil`); ``GlobalPosition/start``
    /// when the kinds differ.
    func part(of member: String?) -> GlobalPosition {
        switch (self, member) {
        case let (.global(position), nil): position
        case let (.composite(position), member?): position[member]
        default: .start
        }
    }

    /// `true` before every event.
    public var isStart: Bool { self == .global(.start) || self == .composite(.start) }

    /// `true` when a reader here has seen every event a reader at `other` has (a composite position only
    /// when every part is at or after `other`'s); `false` for positions of different kinds.
    public func isAtOrAfter(_ other: ProjectionPosition) -> Bool {
        switch (self, other) {
        case let (.global(mine), .global(theirs)): mine >= theirs
        case let (.composite(mine), .composite(theirs)): mine.isAtOrAfter(theirs)
        default: false
        }
    }

    /// `true` when every part is past `other`'s: every event at or before `other` is behind this position.
    public func isPast(_ other: ProjectionPosition) -> Bool {
        switch (self, other) {
        case let (.global(mine), .global(theirs)): return mine > theirs
        case let (.composite(mine), .composite(theirs)):
            return Set(mine.parts.keys).union(theirs.parts.keys).allSatisfy { mine[$0] > theirs[$0] }
        default: return false
        }
    }

    /// The later of the two (part by part for composite positions); `self` for positions of different kinds.
    public func joined(with other: ProjectionPosition) -> ProjectionPosition {
        switch (self, other) {
        case let (.global(mine), .global(theirs)): return .global(Swift.max(mine, theirs))
        case let (.composite(mine), .composite(theirs)):
            var joined = mine
            for (member, part) in theirs.parts where part > joined[member] { joined[member] = part }
            return .composite(joined)
        default: return self
        }
    }
}

extension ProjectionPosition: Codable {
    /// Reads what ``encode(to:)`` writes, or a ``GlobalPosition``'s stored form (a number or its text): rows
    /// written before a position could be composite read as global positions.
    public init(from decoder: any Decoder) throws {
        if let global = try? GlobalPosition(from: decoder) {
            self = .global(global)
            return
        }
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let position = ProjectionPosition(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a position: \(text)")
        }
        self = position
    }

    /// A global position as ``GlobalPosition`` writes itself, a composite one as its text.
    public func encode(to encoder: any Encoder) throws {
        switch self {
        case let .global(position): try position.encode(to: encoder)
        case let .composite(position):
            var container = encoder.singleValueContainer()
            try container.encode(position.description)
        }
    }
}

/// How projection runners read a ``ProjectionStore``: its order, its head, and its wake-ups. A store that is a
/// ``GlobalOrderEventStore`` gets one reading its global order; a ``PartitionedEventStore`` has one of
/// its members' merged order. Backend API: runners and the HTTP server's metrics use it.
@_spi(Backend) public struct ProjectionFeed: Sendable {
    let base: any OrderFeed

    init(_ base: any OrderFeed) { self.base = base }

    /// A feed of `store`'s global order.
    public init(globalOrderOf store: some GlobalOrderEventStore) { base = GlobalOrderFeed(store: store) }

    /// Where a projection that processed nothing is.
    public var start: ProjectionPosition { base.start }

    /// How many events of `target` follow `position`, counted up to `limit`: how far a projection is behind.
    public func count(after position: ProjectionPosition, of target: SubscriptionTarget, limit: Int) async throws -> Int {
        try await base.count(after: position, of: target, limit: limit)
    }

    /// The first event of `target` after `position`, `nil` when there is none.
    public func first(after position: ProjectionPosition, of target: SubscriptionTarget) async throws -> RecordedEvent? {
        try await base.page(after: position, of: target, limit: 1).events.first
    }
}

/// A page of a store's order for a projection runner: the events, the position after each, and how far the
/// read looked.
struct OrderPage: Sendable {
    var events: [RecordedEvent]
    var positions: [ProjectionPosition]
    /// The member each event was read from: `nil` in a single store's order.
    var members: [String?]
    var readThrough: ProjectionPosition
}

/// The append signals' generations when a runner last looked: one per signal the store has.
struct AppendMark: Sendable {
    var generations: [UInt64]
}

/// What ``ProjectionFeed`` wraps: one kind of store's order.
protocol OrderFeed: Sendable {
    var start: ProjectionPosition { get }
    var pollInterval: Duration { get }
    /// Up to `limit` events of `target` after `position`. - Throws: `corrupt` for a position of another kind.
    func page(after position: ProjectionPosition, of target: SubscriptionTarget, limit: Int) async throws -> OrderPage
    /// The position after every event committed now.
    func head() async throws -> ProjectionPosition
    /// A position below which every event is committed and readable.
    func readableHead() async throws -> ProjectionPosition
    func count(after position: ProjectionPosition, of target: SubscriptionTarget, limit: Int) async throws -> Int
    func appendMark() -> AppendMark
    /// Waits until an append is signalled after `mark`, at most `timeout` on `clock`.
    func waitForAppends(after mark: AppendMark, timeout: Duration, clock: AnyClock) async
}

extension OrderFeed {
    /// A position of another kind than this feed's: a row written through another kind of store.
    func mismatch(_ position: ProjectionPosition) -> EventStoreError {
        .corrupt(
            "the position \(position) (of a projection's or a consumer group's row) is not one of this store's order: the row was written through another kind of store")
    }
}

/// A single store's global order.
struct GlobalOrderFeed<Store: GlobalOrderEventStore>: OrderFeed {
    let store: Store

    var start: ProjectionPosition { .global(.start) }
    var pollInterval: Duration { store.pollInterval }

    private func global(_ position: ProjectionPosition) throws -> GlobalPosition {
        guard case let .global(global) = position else { throw mismatch(position) }
        return global
    }

    func page(after position: ProjectionPosition, of target: SubscriptionTarget, limit: Int) async throws -> OrderPage {
        let page = try await store.readPage(after: try global(position), of: target, limit: limit)
        return OrderPage(
            events: page.events, positions: page.events.map { .global($0.globalPosition) },
            members: Array(repeating: nil, count: page.events.count), readThrough: .global(page.readThrough))
    }

    func head() async throws -> ProjectionPosition { .global(try await store.headPosition()) }
    func readableHead() async throws -> ProjectionPosition { .global(try await store.readableHead()) }

    func count(after position: ProjectionPosition, of target: SubscriptionTarget, limit: Int) async throws -> Int {
        try await store.eventCount(after: try global(position), of: target, limit: limit)
    }

    func appendMark() -> AppendMark { AppendMark(generations: [store.appendNotifier.generation]) }

    func waitForAppends(after mark: AppendMark, timeout: Duration, clock: AnyClock) async {
        await store.appendNotifier.wait(after: mark.generations[0], timeout: timeout, clock: clock)
    }
}
