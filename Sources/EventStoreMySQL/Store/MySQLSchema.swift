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
    /// The procedure that appends to a stream in one call (see migration 6).
    let appendProcedure: String
    var prefix: String { names.prefix }

    /// The tables of MariaDB's own, beside the common ones.
    static let ownTables = ["event_store_lock", "event_store_durability_probe"]

    init(prefix: String) throws(EventStoreError) {
        names = try SQLTableNames(prefix: prefix, longest: 36)
        lock = try names.named(Self.ownTables[0]).quoted
        durabilityProbe = try names.named(Self.ownTables[1]).quoted
        appendProcedure = try names.named("event_store_append").quoted
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
            // An append in one call: the lock, the expected-version check, the rows, the stream's version and,
            // at the top level, the commit.
            (6, ["DROP PROCEDURE IF EXISTS \(appendProcedure)", appendProcedureSQL]),
            // Consumer groups: one row per group, its record as JSON text.
            (
                7,
                [
                    """
                    CREATE TABLE IF NOT EXISTS \(self.consumerGroups) (
                        name VARBINARY(150) NOT NULL PRIMARY KEY,
                        record LONGTEXT NOT NULL
                    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
                    """
                ]
            ),
            // Stream retention: what the metadata says, in columns a read judges each event by.
            (
                8,
                [
                    "ALTER TABLE \(self.streams) "
                        + RetentionSQL.columns(integer: "BIGINT").map { "ADD COLUMN IF NOT EXISTS \($0)" }.joined(separator: ", ")
                ]
            ),
            // Soft and hard delete: the columns, and the append procedure that knows them.
            (
                9,
                [
                    "ALTER TABLE \(self.streams) "
                        + DeletionSQL.columns(integer: "BIGINT").map { "ADD COLUMN IF NOT EXISTS \($0)" }.joined(separator: ", "),
                    "DROP PROCEDURE IF EXISTS \(appendProcedure)", appendProcedureSQL,
                ]
            ),
            // A partitioned store's placement: a row per bucket, and the map's row (``PartitionSQL``).
            (
                10,
                [
                    """
                    CREATE TABLE IF NOT EXISTS \(self.partitions) (
                        bucket INT NOT NULL PRIMARY KEY,
                        map_version BIGINT NOT NULL,
                        state VARCHAR(16) NOT NULL,
                        map LONGTEXT
                    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
                    """
                ]
            ),
            // A projection of a partitioned store keeps a composite position (a part per member) in its row,
            // longer than 64 characters once there are a few members.
            (11, ["ALTER TABLE \(self.projections) MODIFY checkpoint TEXT NULL"]),
        ]
    }

    /// The append procedure: under the global-order lock row, it reads the stream's version, and either
    /// answers `(1, version, NULL)` when the expected version does not hold (the caller builds the error,
    /// as every backend does), or inserts the stream when `p_mode` is 1 (no stream) and it is missing, the
    /// events of `p_events` (a JSON array of `[uuid, name, payload, metadata, created_at, aggregate type,
    /// id, version]`, strings read with `JSON_TABLE`; payload and metadata are strings of their JSON text),
    /// sets the version and answers `(0, version, last global position)`. A stream row deleted under it
    /// (by a writer that skipped the lock) raises SQLSTATE 45000. With `p_own` (an append outside a store
    /// transaction) the procedure opens and commits (or rolls back) the transaction itself, so that the
    /// append is one round trip; otherwise it runs in the caller's transaction or savepoint, which rolls back
    /// what a failure left. Modes: 0 any, 1 no stream, 2 stream exists, 3 exact (`p_expected`). A
    /// soft-deleted stream (``DeletionSQL``) is missing to it, and no-stream starts it again, its numbering
    /// going on; a tombstone refuses every write, answering `(5, version, NULL)`. Every text
    /// it takes is `utf8mb4`, as the tables are: undeclared, it would be the database's default, which may be
    /// latin1.
    var appendProcedureSQL: String {
        """
        CREATE PROCEDURE \(appendProcedure)(
            IN p_name VARBINARY(150), IN p_category VARBINARY(150), IN p_mode INT, IN p_expected BIGINT,
            IN p_events LONGTEXT CHARACTER SET utf8mb4, IN p_count INT, IN p_own BOOLEAN)
        MODIFIES SQL DATA
        BEGIN
            DECLARE v_lock INT;
            DECLARE v_id BIGINT;
            DECLARE v_version BIGINT;
            DECLARE v_first BIGINT;
            DECLARE v_deleted BIGINT;
            DECLARE EXIT HANDLER FOR SQLEXCEPTION
            BEGIN
                IF p_own THEN ROLLBACK; END IF;
                RESIGNAL;
            END;
            IF p_own THEN START TRANSACTION; END IF;
            SELECT id INTO v_lock FROM \(lock) WHERE id = 1 FOR UPDATE;
            SELECT MAX(id), MAX(version), MAX(deleted) INTO v_id, v_version, v_deleted FROM \(self.streams) WHERE name = p_name;
            IF v_deleted = 2 THEN
                IF p_own THEN ROLLBACK; END IF;
                SELECT 5, v_version, NULL;
            ELSEIF (COALESCE(v_deleted, 1) = 1 AND p_mode <> 1)
                OR (v_deleted = 0 AND (p_mode = 1 OR (p_mode = 3 AND v_version <> p_expected))) THEN
                IF p_own THEN ROLLBACK; END IF;
                SELECT 1, IF(v_deleted = 0, v_version, NULL), NULL;
            ELSE
                IF v_id IS NULL THEN
                    INSERT INTO \(self.streams) (name, category, metadata, version, created_at)
                        VALUES (p_name, p_category, '{}', 0, UTC_TIMESTAMP(6));
                    SET v_id = LAST_INSERT_ID(), v_version = 0;
                ELSEIF v_deleted = 1 THEN
                    UPDATE \(self.streams) SET deleted = 0, metadata = '{}', retain_from = NULL, max_count = NULL, max_age = NULL
                        WHERE id = v_id;
                END IF;
                IF p_count = 0 THEN
                    IF p_own THEN COMMIT; END IF;
                    SELECT 0, v_version, NULL;
                ELSE
                    INSERT INTO \(self.events) (stream_id, position, uuid, message_name, payload, metadata, created_at,
                        aggregate_type, aggregate_id, aggregate_version)
                    SELECT v_id, v_version + e.ord, e.uuid, e.message_name, e.payload, e.metadata, e.created_at,
                        e.aggregate_type, e.aggregate_id, e.aggregate_version
                    FROM JSON_TABLE(p_events, '$[*]' COLUMNS (
                        ord FOR ORDINALITY, uuid TEXT CHARACTER SET utf8mb4 PATH '$[0]',
                        message_name LONGTEXT CHARACTER SET utf8mb4 PATH '$[1]',
                        payload LONGTEXT CHARACTER SET utf8mb4 PATH '$[2]', metadata LONGTEXT CHARACTER SET utf8mb4 PATH '$[3]',
                        created_at TEXT CHARACTER SET utf8mb4 PATH '$[4]', aggregate_type LONGTEXT CHARACTER SET utf8mb4 PATH '$[5]',
                        aggregate_id LONGTEXT CHARACTER SET utf8mb4 PATH '$[6]',
                        aggregate_version LONGTEXT CHARACTER SET utf8mb4 PATH '$[7]')) AS e
                    ORDER BY e.ord;
                    -- The rows of one statement take consecutive ids (the lock row keeps other appends out).
                    SET v_first = LAST_INSERT_ID();
                    UPDATE \(self.streams) SET version = v_version + p_count WHERE id = v_id;
                    IF ROW_COUNT() <> 1 THEN
                        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '\(Self.deletedWhileAppending)';
                    END IF;
                    IF p_own THEN COMMIT; END IF;
                    SELECT 0, v_version + p_count, v_first + p_count - 1;
                END IF;
            END IF;
        END
        """
    }

    /// The message of the procedure's error for a stream deleted under an append.
    static let deletedWhileAppending = "eventstore: the stream was deleted while appending"

    var latestVersion: Int { migrations.last?.version ?? 0 }
}
#endif
