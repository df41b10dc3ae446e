/// How a projection runs. The defaults suit most projections.
public struct ProjectionOptions: Sendable, Hashable {
    /// Save state and positions (and persist the read model) after this many events, and at the end of each
    /// pass. Remote commands are read at the same moments. Default 1000.
    public var persistBlockSize: Int
    /// How many events one read of the global order fetches. Default 1000. Formerly `loadCount`.
    public var readBatchSize: Int
    /// How long a runner's lease lasts without renewal. A crashed runner blocks others this long at most.
    /// The lease is renewed at every save, and every ``idleCheckInterval`` while waiting. Default 5 s.
    public var lockTimeout: Duration
    /// How often a live runner with nothing to do renews its lease and reads remote commands. Must be at
    /// most half of ``lockTimeout``. Default 1 s.
    public var idleCheckInterval: Duration

    /// Options, each with its default unless given; a runner checks them when it runs (`invalidArgument`).
    /// - Parameters:
    ///   - persistBlockSize: Save after this many events, 1 or more; 1000 by default.
    ///   - readBatchSize: How many events one read fetches, 1 or more; 1000 by default.
    ///   - lockTimeout: How long a lease lasts without renewal, at least twice `idleCheckInterval`; 5 s by default.
    ///   - idleCheckInterval: How often an idle live runner renews its lease and reads commands, more than
    ///     zero; 1 s by default.
    public init(
        persistBlockSize: Int = 1000, readBatchSize: Int = 1000, lockTimeout: Duration = .seconds(5),
        idleCheckInterval: Duration = .seconds(1)
    ) {
        self.persistBlockSize = persistBlockSize
        self.readBatchSize = readBatchSize
        self.lockTimeout = lockTimeout
        self.idleCheckInterval = idleCheckInterval
    }

    func validate() throws(EventStoreError) {
        if persistBlockSize < 1 { throw .invalidArgument("persistBlockSize must be 1 or more, not \(persistBlockSize)") }
        if readBatchSize < 1 { throw .invalidArgument("readBatchSize must be 1 or more, not \(readBatchSize)") }
        if idleCheckInterval <= .zero { throw .invalidArgument("idleCheckInterval must be positive") }
        if idleCheckInterval * 2 > lockTimeout {
            throw .invalidArgument("lockTimeout (\(lockTimeout)) must be at least twice idleCheckInterval (\(idleCheckInterval))")
        }
    }
}

extension Duration {
    /// Whole microseconds.
    var microseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    }
}
