#if MySQL
import EventStore
import EventStoreSQL

/// The store's tables and their SQL, by prefix (a validated identifier; names are quoted with `"`, the
/// connections run in `ANSI_QUOTES` mode).
@dynamicMemberLookup
struct MySQLTables: Sendable {
    let names: SQLTableNames
    let lock: String
    /// Rows readers of the global order write to make what they read durable (see `MySQLOperations.readAll`).
    let durabilityProbe: String
    var prefix: String { names.prefix }

    /// The tables of MariaDB's own, beside the common ones.
    static let ownTables = ["event_store_lock", "event_store_durability_probe"]

    init(prefix: String) throws(EventStoreError) {
        names = try SQLTableNames(prefix: prefix, longest: 36)
        lock = try names.named(Self.ownTables[0]).quoted
        durabilityProbe = try names.named(Self.ownTables[1]).quoted
    }

    /// A common table's quoted name.
    subscript(dynamicMember table: KeyPath<SQLTableNames, SQLIdentifier>) -> String { names[keyPath: table].quoted }

    private func name(_ suffix: String) -> String { "\"\(prefix)\(suffix)\"" }

    /// The name of the server-wide lock that serialises migrations of this prefix.
    var migrationLockName: String { "eventstore:migrate:" + prefix }

    var migrations: [(version: Int, statements: [String])] {
        [
            (
                1,
                [
                    """
                    CREATE TABLE IF NOT EXISTS \(self.streams) (
                        id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                        name VARBINARY(150) NOT NULL,
                        category VARBINARY(150) NULL,
                        metadata LONGTEXT NOT NULL CHECK (JSON_VALID(metadata)),
                        version BIGINT NOT NULL DEFAULT 0,
                        created_at DATETIME(6) NOT NULL,
                        UNIQUE KEY \(name("event_streams_name")) (name),
                        KEY \(name("event_streams_category")) (category)
                    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
                    """,
                    """
                    CREATE TABLE IF NOT EXISTS \(self.events) (
                        global_position BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                        stream_id BIGINT NOT NULL,
                        position BIGINT NOT NULL,
                        uuid CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
                        message_name VARBINARY(255) NOT NULL,
                        payload LONGTEXT NOT NULL CHECK (JSON_VALID(payload)),
                        metadata LONGTEXT NOT NULL CHECK (JSON_VALID(metadata)),
                        created_at DATETIME(6) NOT NULL,
                        aggregate_type BLOB NULL,
                        aggregate_id BLOB NULL,
                        aggregate_version BLOB NULL,
                        aggregate_hash BINARY(32) AS (IF(aggregate_type IS NULL, NULL, UNHEX(SHA2(CONCAT(
                            LENGTH(aggregate_type), ':', aggregate_type, LENGTH(aggregate_id), ':', aggregate_id,
                            LENGTH(aggregate_version), ':', aggregate_version), 256)))) STORED,
                        UNIQUE KEY \(name("events_stream_position")) (stream_id, position),
                        UNIQUE KEY \(name("events_stream_uuid")) (stream_id, uuid),
                        UNIQUE KEY \(name("events_aggregate")) (stream_id, aggregate_hash)
                    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
                    """,
                    "CREATE TABLE IF NOT EXISTS \(lock) (id INT NOT NULL PRIMARY KEY) ENGINE=InnoDB",
                    "INSERT IGNORE INTO \(lock) (id) VALUES (1)",
                    """
                    CREATE TABLE IF NOT EXISTS \(self.projections) (
                        name VARBINARY(150) NOT NULL PRIMARY KEY,
                        status VARCHAR(40) NOT NULL DEFAULT 'idle',
                        state LONGTEXT NOT NULL,
                        positions LONGTEXT NOT NULL,
                        locked_until DATETIME(6) NULL
                    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
                    """,
                ]
            ),
            (
                2,
                [
                    """
                    CREATE TABLE IF NOT EXISTS \(self.checkpoints) (
                        name VARBINARY(190) NOT NULL PRIMARY KEY,
                        position VARCHAR(64) NOT NULL,
                        updated_at DATETIME(6) NOT NULL
                    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
                    """
                ]
            ),
            (
                3,
                [
                    """
                    CREATE TABLE IF NOT EXISTS \(self.snapshots) (
                        aggregate_type VARBINARY(150) NOT NULL,
                        aggregate_id VARBINARY(150) NOT NULL,
                        last_version BIGINT NOT NULL,
                        state LONGTEXT NOT NULL CHECK (JSON_VALID(state)),
                        created_at DATETIME(6) NOT NULL,
                        PRIMARY KEY (aggregate_type, aggregate_id)
                    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
                    """
                ]
            ),
            (
                // Version 1's projections table was never written to (projections came with this version),
                // so it is replaced rather than altered.
                4,
                [
                    "DROP TABLE IF EXISTS \(self.projections)",
                    """
                    CREATE TABLE IF NOT EXISTS \(self.projections) (
                        name VARBINARY(150) NOT NULL PRIMARY KEY,
                        kind VARCHAR(20) NOT NULL,
                        status VARCHAR(40) NOT NULL,
                        state LONGTEXT NULL,
                        positions LONGTEXT NOT NULL,
                        checkpoint VARCHAR(64) NULL,
                        locked_until BIGINT NULL,
                        lease_owner VARCHAR(64) NULL,
                        read_model_action VARCHAR(20) NULL
                    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
                    """,
                ]
            ),
            // What each projection reads (`/metrics` counts its lag there),
            // and the rows that readers of the global order write to make what they read durable.
            (
                5,
                [
                    "ALTER TABLE \(self.projections) ADD COLUMN IF NOT EXISTS source LONGTEXT NULL",
                    "CREATE TABLE IF NOT EXISTS \(durabilityProbe) (id INT NOT NULL PRIMARY KEY, commits BIGINT NOT NULL) ENGINE=InnoDB",
                ]
            ),
        ]
    }

    var latestVersion: Int { migrations.last?.version ?? 0 }
}
#endif
