/// Consumer groups of a partitioned store: they read the members' merged order and keep composite positions.
///
/// A group's row (its definition, checkpoint, window, consumers and counters) lives on one member, its home,
/// chosen as a projection's is (``home(of:)``): every change of it is one transaction there, on that
/// member's clock. Each event of its window is known by its member and its position in that member's
/// order, and is loaded from its stream wherever the stream lives now; the checkpoint moves member by member.
extension PartitionedEventStore: ConsumerGroupRecordStore {
    @_spi(Backend) public var consumerGroupFeed: ProjectionFeed { projectionFeed }

    @_spi(Backend) public func consumerGroupRecord(named name: String) async throws -> ConsumerGroupRecord? {
        try TransactionScope.checkOutsideTransaction(of: ObjectIdentifier(identity))
        return try await home(of: name).store.consumerGroupRecord(named: name)
    }

    @_spi(Backend) public func changeConsumerGroup<Result: Sendable>(
        named name: String, _ change: @escaping @Sendable (inout ConsumerGroupRecord?, Int64) throws -> Result
    ) async throws -> Result {
        try TransactionScope.checkOutsideTransaction(of: ObjectIdentifier(identity))
        return try await home(of: name).store.changeConsumerGroup(named: name, change)
    }

    /// Every member's names (each keeps those of its rows), merged in byte order.
    public func consumerGroupNames(limit: Int, offset: Int) async throws -> [String] {
        try StoreValidation.listing(.all, limit: limit, offset: offset)
        let members = self.members
        let wanted = offset.addingReportingOverflow(limit).overflow ? Int.max : offset + limit
        let lists = try await eachMember { index, _ in
            try await Self.firstKept(wanted, { try await members[index].store.consumerGroupNames(limit: $0, offset: $1) }) {
                self.home(of: $0).name == members[index].name
            }
        }
        return Self.merge(lists, offset: offset, limit: limit)
    }
}
