@_spi(Backend) import EventStore
import Foundation

/// The consumer groups table's SQL, the same on every SQL backend: one row per group, its record as JSON
/// text (``ConsumerGroupRecord``), every value bound.
package struct ConsumerGroupSQL: Sendable {
    /// The table's quoted name (written by the program, never taken from input).
    package let table: String

    package init(table: String) {
        self.table = table
    }

    /// The row named `name`; `lock` adds `FOR UPDATE` (PostgreSQL, MySQL).
    package func select(_ name: String, lock: Bool) -> SQLQuery {
        "SELECT record FROM \(unsafeSQL: table) WHERE name = \(bind: name)\(unsafeSQL: lock ? " FOR UPDATE" : "")"
    }

    package func insert(_ name: String, _ record: String) -> SQLQuery {
        "INSERT INTO \(unsafeSQL: table) (name, record) VALUES (\(bind: name), \(bind: record))"
    }

    package func update(_ name: String, _ record: String) -> SQLQuery {
        "UPDATE \(unsafeSQL: table) SET record = \(bind: record) WHERE name = \(bind: name)"
    }

    package func delete(_ name: String) -> SQLQuery {
        "DELETE FROM \(unsafeSQL: table) WHERE name = \(bind: name)"
    }

    package func names(limit: Int, offset: Int) -> SQLQuery {
        "SELECT name FROM \(unsafeSQL: table) ORDER BY name LIMIT \(bind: limit) OFFSET \(bind: offset)"
    }

    /// Decodes a row's record.
    /// - Throws: `corrupt` for text this build cannot read.
    package static func record(_ text: String) throws(EventStoreError) -> ConsumerGroupRecord {
        do {
            return try JSONDecoder().decode(ConsumerGroupRecord.self, from: Data(text.utf8))
        } catch {
            throw .corrupt("a consumer group's row cannot be read: \(error)")
        }
    }

    /// Encodes a record for its row.
    package static func text(_ record: ConsumerGroupRecord) throws(EventStoreError) -> String {
        do {
            return String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
        } catch {
            throw .corrupt("a consumer group's record cannot be written: \(error)")
        }
    }

    /// Runs a change on a row read as text: decodes it, applies `change` with the database's clock `now`,
    /// and says what to write.
    package static func apply<Result>(
        _ existing: String?, now: Int64, _ change: (inout ConsumerGroupRecord?, Int64) throws -> Result
    ) throws -> (result: Result, write: Write) {
        let before = try existing.map(record)
        var after = before
        let result = try change(&after, now)
        switch (before, after) {
        case (nil, nil): return (result, .none)
        case (_?, nil): return (result, .delete)
        case let (nil, record?): return (result, .insert(try text(record)))
        case let (old?, record?): return (result, old == record ? .none : .update(try text(record)))
        }
    }

    /// What a change writes.
    package enum Write: Sendable {
        case none
        case insert(String)
        case update(String)
        case delete
    }
}

/// Consumer groups on a blocking backend, from its ``BlockingSQLOperations``.
extension BlockingSQLOperations {
    package var consumerGroupSQL: ConsumerGroupSQL { ConsumerGroupSQL(table: tableNames.consumerGroups.quoted) }

    package func consumerGroupRecord(_ c: Connection, named name: String) throws -> ConsumerGroupRecord? {
        try firstColumn(c, consumerGroupSQL.select(name, lock: false)).first.map(ConsumerGroupSQL.record)
    }

    package func consumerGroupNames(_ c: Connection, limit: Int, offset: Int) throws -> [String] {
        try firstColumn(c, consumerGroupSQL.names(limit: limit, offset: offset))
    }

    /// Reads (locking), edits and writes a group's row; the caller holds the write transaction.
    /// - Throws: ``ProjectionRowRaced`` when another transaction inserted the row first: run it again.
    package func changeConsumerGroup<Result>(
        _ c: Connection, named name: String, _ change: (inout ConsumerGroupRecord?, Int64) throws -> Result
    ) throws -> Result {
        let sql = consumerGroupSQL
        let existing = try firstColumn(c, sql.select(name, lock: locksGroupRows)).first
        let (result, write) = try ConsumerGroupSQL.apply(existing, now: try databaseNow(c), change)
        switch write {
        case .none: break
        case let .insert(record): if try !insertConsumerGroup(c, sql, name: name, record: record) { throw ProjectionRowRaced() }
        case let .update(record): try run(c, sql.update(name, record))
        case .delete: try run(c, sql.delete(name))
        }
        return result
    }
}
