import EventStore
import EventStoreSQL

/// The store's tables, by prefix.
@dynamicMemberLookup
struct SQLiteTables: Sendable {
    let names: SQLTableNames
    let categoryIndex: SQLIdentifier
    let aggregateIndex: SQLIdentifier

    init(prefix: String) throws(EventStoreError) {
        names = try SQLTableNames(prefix: prefix, longest: 40)
        categoryIndex = try names.named("event_streams_category")
        aggregateIndex = try names.named("events_aggregate")
    }

    /// A common table's name.
    subscript(dynamicMember table: KeyPath<SQLTableNames, SQLIdentifier>) -> SQLIdentifier { names[keyPath: table] }

    /// The schema's versions, in order; each migration takes the schema from the version before it.
    var migrations: [(version: Int, sql: String)] {
        [
            (
                1,
                """
                CREATE TABLE \(self.streams) (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    name TEXT NOT NULL UNIQUE,
                    category TEXT,
                    metadata TEXT NOT NULL,
                    version INTEGER NOT NULL DEFAULT 0,
                    created_at TEXT NOT NULL
                );
                CREATE INDEX \(categoryIndex) ON \(self.streams) (category) WHERE category IS NOT NULL;
                CREATE TABLE \(self.events) (
                    global_position INTEGER PRIMARY KEY AUTOINCREMENT,
                    stream_id INTEGER NOT NULL,
                    position INTEGER NOT NULL,
                    uuid TEXT NOT NULL,
                    message_name TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    metadata TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    aggregate_type TEXT,
                    aggregate_id TEXT,
                    aggregate_version TEXT,
                    UNIQUE (stream_id, position),
                    UNIQUE (stream_id, uuid)
                );
                CREATE UNIQUE INDEX \(aggregateIndex) ON \(self.events)
                    (stream_id, aggregate_type, aggregate_id, aggregate_version) WHERE aggregate_type IS NOT NULL;
                CREATE TABLE \(self.projections) (
                    name TEXT PRIMARY KEY,
                    status TEXT NOT NULL DEFAULT 'idle',
                    state TEXT NOT NULL DEFAULT '{}',
                    positions TEXT NOT NULL DEFAULT '{}',
                    locked_until TEXT
                );
                """
            ),
            (
                2,
                """
                CREATE TABLE \(self.checkpoints) (
                    name TEXT PRIMARY KEY,
                    position TEXT NOT NULL,
                    updated_at TEXT NOT NULL
                );
                """
            ),
            (3, SQLCommonDDL.snapshots(self.snapshots.quoted, Self.columnTypes)),
            (4, SQLCommonDDL.projections(self.projections.quoted, Self.columnTypes)),
            (5, SQLCommonDDL.projectionSource(self.projections.quoted, Self.columnTypes)),
            (6, SQLCommonDDL.consumerGroups(self.consumerGroups.quoted, Self.columnTypes)),
            (7, SQLCommonDDL.retentionColumns(self.streams.quoted, Self.columnTypes)),
            (8, SQLCommonDDL.deletionColumns(self.streams.quoted, Self.columnTypes)),
            (9, SQLCommonDDL.partitions(self.partitions.quoted, Self.columnTypes)),
        ]
    }

    /// How the common tables' columns are spelled here.
    private static let columnTypes = SQLColumnTypes(
        key: "TEXT", text: "TEXT", integer: "INTEGER", json: "TEXT", timestamp: "TEXT")

    /// The newest schema version this build knows.
    var latestVersion: Int { migrations.last?.version ?? 0 }
}
