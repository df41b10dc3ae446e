/// A connection's prepared statements by SQL text, at most `capacity` of them: the one used longest ago is
/// released when another is added. Matcher shapes come from query strings (an `in` list of every length
/// is a new text), so an unbounded cache grew with what clients sent, and on MariaDB used up the server's
/// `max_prepared_stmt_count`, for every application on it.
///
/// - Important: not thread-safe; a connection owns one. A statement handed out stays valid while fewer than
///   `capacity` others are prepared, so a query run inside another's row callback cannot release it.
package struct StatementCache<Statement> {
    private var entries: [String: (statement: Statement, lastUse: UInt64)] = [:]
    private var clock: UInt64 = 0
    package let capacity: Int
    private let release: (Statement) -> Void

    /// - Parameter release: finalises a statement that leaves the cache (also each one left at `removeAll`).
    package init(capacity: Int = 256, release: @escaping (Statement) -> Void) {
        self.capacity = max(2, capacity)
        self.release = release
    }

    package var count: Int { entries.count }

    /// The statement of `sql`, prepared by `prepare` when the cache does not hold it.
    package mutating func statement<E: Error>(for sql: String, prepare: () throws(E) -> Statement) throws(E) -> Statement {
        clock &+= 1
        if let entry = entries[sql] {
            entries[sql] = (entry.statement, clock)
            return entry.statement
        }
        let statement = try prepare()
        if entries.count >= capacity, let oldest = entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
            entries[oldest.key] = nil
            release(oldest.value.statement)
        }
        entries[sql] = (statement, clock)
        return statement
    }

    /// Forgets `sql`'s statement without releasing it (the caller closed it).
    package mutating func forget(_ sql: String) { entries[sql] = nil }

    /// Releases every statement.
    package mutating func removeAll() {
        for entry in entries.values { release(entry.statement) }
        entries.removeAll()
    }
}
