/// The database servers a store writes to and reads from, as it last found them: what `/health/ready`
/// reports for a store on a replicated database (PostgreSQL under Patroni).
public struct StoreNodes: Sendable, Hashable {
    /// The server that takes the store's writes (`host:port`); `nil` while the store does not know it (from
    /// a failed call during a failover until a call finds the new primary, and before the first call).
    public var writes: String?
    /// The servers the store reads from (`host:port`); empty while it does not know them.
    public var reads: [String]

    /// Nodes as a store found them.
    /// - Parameters:
    ///   - writes: The server that takes the writes (`host:port`), or `nil` when unknown.
    ///   - reads: The servers reads go to (`host:port`); empty when unknown.
    public init(writes: String?, reads: [String]) {
        (self.writes, self.reads) = (writes, reads)
    }
}

/// A store that can say which database servers it uses (``StoreNodes``).
public protocol NodeReportingStore: Sendable {
    /// The servers the store writes to and reads from, as it last found them (what `/health/ready` reports).
    var nodes: StoreNodes { get }
}
