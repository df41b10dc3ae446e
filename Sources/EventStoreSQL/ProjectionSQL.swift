@_spi(Backend) import EventStore

/// The projections table's SQL, the same on every SQL backend: one row per projection, every value bound.
package struct ProjectionSQL: Sendable {
    /// The table's quoted name (written by the program, never taken from input).
    package let table: String

    package init(table: String) {
        self.table = table
    }

    /// The columns, in the order ``record(_:)`` reads them.
    static let columns = "name, kind, status, state, positions, checkpoint, locked_until, lease_owner, read_model_action, source"

    /// The row named `name`; `lock` adds `FOR UPDATE` (PostgreSQL, MySQL).
    package func select(_ name: String, lock: Bool) -> SQLQuery {
        "SELECT \(unsafeSQL: Self.columns) FROM \(unsafeSQL: table) WHERE name = \(bind: name)\(unsafeSQL: lock ? " FOR UPDATE" : "")"
    }

    package func insert(_ record: ProjectionRecord) -> SQLQuery {
        "INSERT INTO \(unsafeSQL: table) (\(unsafeSQL: Self.columns)) VALUES (\(bind: record.name), \(values(record)))"
    }

    package func update(_ record: ProjectionRecord) -> SQLQuery {
        let binds = bindValues(record)
        let names = ["kind", "status", "state", "positions", "checkpoint", "locked_until", "lease_owner", "read_model_action", "source"]
        let assignments = zip(names, binds).map { name, value -> SQLQuery in "\(unsafeSQL: name) = \(bind: value)" }
        return "UPDATE \(unsafeSQL: table) SET \(SQLQuery.joined(assignments, separator: ", ")) WHERE name = \(bind: record.name)"
    }

    package func delete(_ name: String) -> SQLQuery {
        "DELETE FROM \(unsafeSQL: table) WHERE name = \(bind: name)"
    }

    /// Names (tombstones left out) in the column's order, filtered, paged.
    package func names(_ filter: NameFilter, dialect: some SQLMatcherDialect, limit: Int, offset: Int) -> SQLQuery {
        var conditions: [SQLQuery] = ["(read_model_action IS NULL OR read_model_action <> 'delete')"]
        if let condition = dialect.nameCondition(filter, column: "name") { conditions.append(condition) }
        return """
            SELECT name FROM \(unsafeSQL: table) WHERE \(SQLQuery.joined(conditions, separator: " AND "))
            ORDER BY name LIMIT \(bind: limit) OFFSET \(bind: offset)
            """
    }

    private func bindValues(_ record: ProjectionRecord) -> [SQLValue] {
        func text(_ value: String?) -> SQLValue { value.map(SQLValue.text) ?? .null }
        return [
            .text(record.kind.rawValue), .text(record.status.rawValue), text(record.state), .text(record.streamPositionsJSON),
            text(record.position?.description), record.lockedUntil.map(SQLValue.int) ?? .null, text(record.leaseOwner),
            text(record.pendingReadModelAction?.rawValue), text(record.source?.storedText),
        ]
    }

    private func values(_ record: ProjectionRecord) -> SQLQuery {
        SQLQuery.joined(bindValues(record).map { "\(bind: $0)" }, separator: ", ")
    }

    /// A row read with the columns of ``select(_:lock:)``, as text and integers.
    package struct Row: Sendable {
        package var name: String
        package var kind: String
        package var status: String
        package var state: String?
        package var positions: String
        package var checkpoint: String?
        package var lockedUntil: Int64?
        package var leaseOwner: String?
        package var readModelAction: String?
        package var source: String?

        package init(
            name: String, kind: String, status: String, state: String?, positions: String, checkpoint: String?,
            lockedUntil: Int64?, leaseOwner: String?, readModelAction: String?, source: String?
        ) {
            self.name = name
            self.kind = kind
            self.status = status
            self.state = state
            self.positions = positions
            self.checkpoint = checkpoint
            self.lockedUntil = lockedUntil
            self.leaseOwner = leaseOwner
            self.readModelAction = readModelAction
            self.source = source
        }
    }

    /// The record of a stored row.
    /// - Throws: `backend` when a value is not one this build writes.
    package func record(_ row: Row) throws(EventStoreError) -> ProjectionRecord {
        guard let kind = ProjectionRecord.Kind(rawValue: row.kind), let status = ProjectionStatus(rawValue: row.status) else {
            throw .corrupt("projection \"\(row.name)\" has an unknown kind or status (\(row.kind), \(row.status))")
        }
        var checkpoint: ProjectionPosition?
        if let text = row.checkpoint {
            guard let position = ProjectionPosition(text) else { throw .corrupt("projection \"\(row.name)\" has a corrupt checkpoint") }
            checkpoint = position
        }
        var action: ProjectionRecord.ReadModelAction?
        if let text = row.readModelAction {
            guard let value = ProjectionRecord.ReadModelAction(rawValue: text) else {
                throw .corrupt("projection \"\(row.name)\" has an unknown read model action \(text)")
            }
            action = value
        }
        return ProjectionRecord(
            name: row.name, kind: kind, status: status, state: row.state,
            streamPositions: try ProjectionRecord.streamPositions(fromJSON: row.positions), position: checkpoint,
            lockedUntil: row.lockedUntil, leaseOwner: row.leaseOwner, pendingReadModelAction: action,
            source: try row.source.map { text throws(EventStoreError) in try SubscriptionTarget(storedText: text) })
    }
}

/// Another transaction created the projection row this one meant to create (two first runs at once).
package struct ProjectionRowRaced: Error {
    package init() {}
}

extension ProjectionSQL {
    /// Runs a row change again when it lost the race to create the row: the second time it finds the
    /// winner's row (locked) and decides on that.
    package static func retryingRaces<T>(_ body: () async throws -> T) async throws -> T {
        for _ in 0..<2 {
            do {
                return try await body()
            } catch is ProjectionRowRaced {
                continue
            }
        }
        return try await body()
    }
}
