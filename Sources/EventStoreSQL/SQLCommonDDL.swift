/// The column types a backend spells the common tables with.
package struct SQLColumnTypes: Sendable {
    /// Text compared by its bytes, in keys (PostgreSQL: `text COLLATE "C"`).
    package var key: String
    package var text: String
    package var integer: String
    package var json: String
    package var timestamp: String

    package init(key: String, text: String, integer: String, json: String, timestamp: String) {
        (self.key, self.text, self.integer, self.json, self.timestamp) = (key, text, integer, json, timestamp)
    }
}

/// The statements of the tables that have the same columns on the backends with transactional DDL
/// (SQLite and PostgreSQL), but for their types. MariaDB's differ (`IF NOT EXISTS`, engine, binary
/// collations) and keep their own.
package enum SQLCommonDDL {
    /// Schema version 3: the snapshots table, one row per aggregate.
    package static func snapshots(_ table: String, _ t: SQLColumnTypes) -> String {
        """
        CREATE TABLE \(table) (
            aggregate_type \(t.key) NOT NULL,
            aggregate_id \(t.key) NOT NULL,
            last_version \(t.integer) NOT NULL,
            state \(t.json) NOT NULL,
            created_at \(t.timestamp) NOT NULL,
            PRIMARY KEY (aggregate_type, aggregate_id)
        );
        """
    }

    /// Schema version 4: the projections table, replaced (version 1's was never written to: projections
    /// came with version 4).
    package static func projections(_ table: String, _ t: SQLColumnTypes) -> String {
        """
        DROP TABLE \(table);
        CREATE TABLE \(table) (
            name \(t.key) PRIMARY KEY,
            kind \(t.text) NOT NULL,
            status \(t.text) NOT NULL,
            state \(t.text),
            positions \(t.text) NOT NULL,
            checkpoint \(t.text),
            locked_until \(t.integer),
            lease_owner \(t.text),
            read_model_action \(t.text)
        );
        """
    }

    /// The consumer groups table: one row per group, its record as JSON text (``ConsumerGroupSQL``).
    package static func consumerGroups(_ table: String, _ t: SQLColumnTypes) -> String {
        """
        CREATE TABLE \(table) (
            name \(t.key) PRIMARY KEY,
            record \(t.text) NOT NULL
        );
        """
    }

    /// The partition placement table (``PartitionSQL``): a row per bucket, and the map's row.
    package static func partitions(_ table: String, _ t: SQLColumnTypes) -> String {
        """
        CREATE TABLE \(table) (
            bucket \(t.integer) PRIMARY KEY,
            map_version \(t.integer) NOT NULL,
            state \(t.text) NOT NULL,
            map \(t.text)
        );
        """
    }

    /// Stream retention's columns (``RetentionSQL``), one `ALTER TABLE` each (SQLite adds one column at a time).
    package static func retentionColumns(_ table: String, _ t: SQLColumnTypes) -> String {
        RetentionSQL.columns(integer: t.integer).map { "ALTER TABLE \(table) ADD COLUMN \($0);" }.joined(separator: "\n")
    }

    /// Stream deletion's columns (``DeletionSQL``), one `ALTER TABLE` each.
    package static func deletionColumns(_ table: String, _ t: SQLColumnTypes) -> String {
        DeletionSQL.columns(integer: t.integer).map { "ALTER TABLE \(table) ADD COLUMN \($0);" }.joined(separator: "\n")
    }

    /// Schema version 5: what each projection reads (`/metrics` counts its lag there).
    package static func projectionSource(_ table: String, _ t: SQLColumnTypes) -> String {
        "ALTER TABLE \(table) ADD COLUMN source \(t.text);"
    }
}
