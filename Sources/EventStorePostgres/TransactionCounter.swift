import EventStore

/// What the store says when the server's transaction counter is behind the global order, and the repair.
///
/// The global order of PostgreSQL is (transaction id, sequence). After a restore from a dump into another
/// cluster, or a failover to a server that lost transactions, the counter can restart below the stored
/// events' ids; the repair is to move the counter past them with `pg_resetwal`, offline.
enum TransactionCounter {
    /// Transactions per commit-log segment: `pg_resetwal` asks for a next id at a segment's start.
    static let segment: Int64 = 1 << 20

    /// The `-e` (epoch) and `-x` (transaction id) to give `pg_resetwal` so that the next transaction comes
    /// after `stored`: the start of the next commit-log segment.
    static func repairTarget(after stored: Int64) -> (epoch: Int64, xid: Int64) {
        var epoch = stored >> 32
        var xid = ((stored & 0xFFFF_FFFF) / segment + 1) * segment
        if xid >= 1 << 32 {
            epoch += 1
            xid = segment
        }
        return (epoch, xid)
    }

    /// The database holds events of transactions up to `stored`, but the server's next transaction is `next`.
    /// Permanent: `corrupt`, never retried.
    static func behind(stored: Int64, next: Int64) -> EventStoreError {
        let (epoch, xid) = repairTarget(after: stored)
        return .corrupt(
            "the stored events were written by transactions up to \(stored), but this server's next transaction is \(next) "
                + "(the database was restored from a dump, or the server lost transactions in a failover): new events would "
                + "sort before the stored ones and readers past them would skip them. Stop the server, run "
                + "`pg_resetwal -e \(epoch) -x \(xid) DATADIR` as its owner, and start it again (documentation: \"Backing up, restoring and upgrading\")")
    }
}
