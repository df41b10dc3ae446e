/// A connection that runs SQL text: what the transaction helpers of the SQLite and MariaDB connections
/// need (PostgreSQL's are async, on PostgresNIO).
package protocol SQLCommandConnection {
    /// Runs statements that return no rows.
    func execute(_ sql: String) throws
}

extension SQLCommandConnection {
    /// Runs `body` in a transaction opened by `begin`, committing when it returns and rolling back when it
    /// throws.
    package func transaction<T>(begin: String, _ body: () throws -> T) throws -> T {
        try execute(begin)
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Runs `body` in a savepoint inside an open transaction: undone alone when it throws.
    package func savepoint<T>(_ body: () throws -> T) throws -> T {
        try execute("SAVEPOINT es_operation")
        do {
            let result = try body()
            try execute("RELEASE SAVEPOINT es_operation")
            return result
        } catch {
            try? execute("ROLLBACK TO SAVEPOINT es_operation")
            try? execute("RELEASE SAVEPOINT es_operation")
            throw error
        }
    }
}
