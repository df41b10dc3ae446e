import Logging
import Synchronization

/// Projections of a partitioned store: they read the members' merged order and keep a composite position.
///
/// A projection's row (state, positions, lease, commands) lives on one member, its home: the member that
/// first owned the bucket its name hashes to. Members are never removed and a bucket's first owner never
/// changes (later members get buckets only by moves), so a projection's home never changes either, and the
/// rows spread over the members the store started with. What it emits goes where its streams live.
extension PartitionedEventStore: ProjectionStore {
    @_spi(Backend) public var projectionFeed: ProjectionFeed { ProjectionFeed(PartitionedFeed(store: self)) }

    public var logger: Logger { configuration.logger }

    /// The member that keeps the row of the projection named `name`: the first owner of the bucket its name
    /// hashes to, the same whatever moves and members come later.
    public func home(of name: String) -> Member {
        let map = placement
        return members[map.firstOwner(of: PartitionKey.bucket(of: name, count: map.bucketCount))]
    }

    public func projectionRecord(named name: String) async throws -> ProjectionRecord? {
        try TransactionScope.checkOutsideTransaction(of: ObjectIdentifier(identity))
        return try await home(of: name).store.projectionRecord(named: name)
    }

    /// Every member's names (each keeps those of its rows), merged in byte order.
    public func projectionNames(_ filter: NameFilter, limit: Int, offset: Int) async throws -> [String] {
        try StoreValidation.listing(filter, limit: limit, offset: offset)
        let members = self.members
        let wanted = offset.addingReportingOverflow(limit).overflow ? Int.max : offset + limit
        // A member's rows of other names (kept from before it joined) are no projections of this store.
        let lists = try await eachMember { index, _ in
            try await Self.firstKept(wanted, { try await members[index].store.projectionNames(filter, limit: $0, offset: $1) }) {
                self.home(of: $0).name == members[index].name
            }
        }
        return Self.merge(lists, offset: offset, limit: limit)
    }

    /// Changes the row on its home member. A stream the change asks to delete is deleted through this store
    /// once the row is written (it may live on another member, outside the row's transaction).
    @_spi(Backend) public func changeProjection<Result: Sendable>(
        named name: String, _ change: @escaping @Sendable (inout ProjectionRecord?) throws -> ProjectionChange<Result>
    ) async throws -> Result {
        try TransactionScope.checkOutsideTransaction(of: ObjectIdentifier(identity))
        let (result, stream) = try await home(of: name).store.changeProjection(named: name) { row in
            let change = try change(&row)
            return ProjectionChange((change.result, change.deleteStream))
        }
        if let stream {
            do {
                try await delete(stream, mode: .purge)
            } catch let error as EventStoreError where error.code == .streamNotFound {}
        }
        return result
    }
}

/// A partitioned store's merged order, as projection runners read it. A runner takes one feed per run and
/// reads on from where each page ended: the feed keeps the merge cursor of its last page, so that each
/// member's events are read once (as a follower's are), and starts a new one for any other position.
struct PartitionedFeed: OrderFeed {
    let store: PartitionedEventStore
    /// The cursor after the last page, with the target it read.
    private let last = LastPage()

    private final class LastPage: Sendable {
        private let page = Mutex<(cursor: MergeCursor, target: SubscriptionTarget)?>(nil)
        func withLock<T>(_ body: (inout (cursor: MergeCursor, target: SubscriptionTarget)?) -> T) -> T { page.withLock { body(&$0) } }
    }

    init(store: PartitionedEventStore) { self.store = store }

    var start: ProjectionPosition { .composite(.start) }
    var pollInterval: Duration { store.members.map(\.store.pollInterval).min() ?? .seconds(1) }

    private func composite(_ position: ProjectionPosition) throws -> CompositePosition {
        guard case let .composite(composite) = position else { throw mismatch(position) }
        return composite
    }

    func page(after position: ProjectionPosition, of target: SubscriptionTarget, limit: Int) async throws -> OrderPage {
        let after = try composite(position)
        var cursor = last.withLock { last in
            last.flatMap { $0.cursor.position == after && $0.target == target ? $0.cursor : nil }
        } ?? MergeCursor(after, members: store.members.count)
        let (events, unavailable) = try await store.read(&cursor, of: target, limit: limit)
        // A projection needs every member, as a single store's needs its database: a page without one would
        // end a query (or a settling pass) without its events.
        if let member = unavailable.keys.sorted().first, let error = unavailable[member] { throw error }
        let next = cursor
        last.withLock { $0 = (next, target) }
        return OrderPage(
            events: events.map(\.event), positions: events.map { .composite($0.position) }, members: events.map(\.member),
            readThrough: .composite(cursor.position))
    }

    func head() async throws -> ProjectionPosition { .composite(try await store.headPosition()) }

    func readableHead() async throws -> ProjectionPosition { .composite(try await store.eachMemberPosition { try await $0.readableHead() }) }

    /// Each member's count after its part, summed (a member's copies of buckets moved to it count too: an
    /// overestimate after a move, until the projection passes them).
    func count(after position: ProjectionPosition, of target: SubscriptionTarget, limit: Int) async throws -> Int {
        let after = try composite(position)
        let members = store.members
        let counts = try await store.eachMember { index, _ in
            try await members[index].store.eventCount(after: after[members[index].name], of: target, limit: limit)
        }
        return min(limit, counts.reduce(0, +))
    }

    func appendMark() -> AppendMark { AppendMark(generations: store.members.map(\.store.appendNotifier.generation)) }

    func waitForAppends(after mark: AppendMark, timeout: Duration, clock: AnyClock) async {
        await store.waitForAppends(after: mark.generations, timeout: timeout, clock: clock)
    }
}
