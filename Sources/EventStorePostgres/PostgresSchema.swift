import EventStore
import EventStoreSQL

/// The store's tables and their SQL, by schema and prefix (both validated identifiers, always quoted).
@dynamicMemberLookup
struct PostgresTables: Sendable {
    let names: SQLTableNames
    /// `"schema".` when a schema is configured, else nothing.
    private let qualifier: String
    /// The `NOTIFY` channel appends signal on, with the new last global position as payload.
    let channel: String
    /// Keys (hashed in SQL) of the advisory locks: appends to one stream (followed by the stream's name),
    /// and migrations.
    let streamLockPrefix: String
    let migrationLockName: String
    private let streamsCategoryIndex: String
    /// The function that appends in one statement (see ``appendFunctionSQL``), qualified by the schema.
    let appendFunction: String
    private let eventsGlobalOrderIndex: String
    private let bareNames: (streams: String, events: String)

    init(schema: String?, prefix: String) throws(EventStoreError) {
        names = try SQLTableNames(prefix: prefix, longest: 36)
        qualifier = try schema.map { name throws(EventStoreError) in try SQLIdentifier(name).quoted + "." } ?? ""
        streamsCategoryIndex = try names.named("event_streams_category").quoted
        eventsGlobalOrderIndex = try names.named("events_global_order").quoted
        appendFunction = qualifier + (try names.named("event_store_append").quoted)
        bareNames = (prefix + "event_streams", prefix + "events")
        channel = prefix + "eventstore_appended"
        streamLockPrefix = "eventstore:stream:" + (schema ?? "") + "." + prefix + ":"
        migrationLockName = "eventstore:migrate:" + (schema ?? "") + "." + prefix
    }

    private func constraint(_ name: String) -> String { "\"\(name)\"" }

    /// The constraint names that tell unique violations apart (as PostgreSQL names them by default).
    var streamNameKey: String { names.prefix + "event_streams_name_key" }
    var eventsUUIDKey: String { names.prefix + "events_stream_uuid_key" }
    var eventsAggregateKey: String { names.prefix + "events_aggregate_key" }

    /// A common table's name, qualified by the schema.
    subscript(dynamicMember table: KeyPath<SQLTableNames, SQLIdentifier>) -> String { qualifier + names[keyPath: table].quoted }

    /// The schema's versions, in order.
    var migrations: [(version: Int, sql: String)] {
        [
            (
                1,
                """
                CREATE TABLE \(self.streams) (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    name text COLLATE "C" NOT NULL CONSTRAINT \(constraint(streamNameKey)) UNIQUE,
                    category text COLLATE "C",
                    metadata jsonb NOT NULL,
                    version bigint NOT NULL DEFAULT 0,
                    last_transaction_id xid8,
                    created_at timestamptz NOT NULL DEFAULT now()
                );
                CREATE INDEX \(streamsCategoryIndex) ON \(self.streams) (category) WHERE category IS NOT NULL;
                CREATE TABLE \(self.events) (
                    global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
                    stream_id bigint NOT NULL,
                    position bigint NOT NULL,
                    uuid uuid NOT NULL,
                    message_name text NOT NULL,
                    payload json NOT NULL,
                    metadata jsonb NOT NULL,
                    created_at timestamptz NOT NULL,
                    aggregate_type text,
                    aggregate_id text,
                    aggregate_version text,
                    CONSTRAINT \(constraint(bareNames.events + "_stream_position_key")) UNIQUE (stream_id, position),
                    CONSTRAINT \(constraint(eventsUUIDKey)) UNIQUE (stream_id, uuid)
                );
                CREATE INDEX \(eventsGlobalOrderIndex) ON \(self.events) (transaction_id, global_position);
                CREATE UNIQUE INDEX \(constraint(eventsAggregateKey)) ON \(self.events)
                    (stream_id, aggregate_type, aggregate_id, aggregate_version) WHERE aggregate_type IS NOT NULL;
                CREATE TABLE \(self.projections) (
                    name text COLLATE "C" PRIMARY KEY,
                    status text NOT NULL DEFAULT 'idle',
                    state jsonb NOT NULL DEFAULT '{}',
                    positions jsonb NOT NULL DEFAULT '{}',
                    locked_until timestamptz
                );
                """
            ),
            (
                2,
                """
                CREATE TABLE \(self.checkpoints) (
                    name text COLLATE "C" PRIMARY KEY,
                    position text NOT NULL,
                    updated_at timestamptz NOT NULL DEFAULT now()
                );
                """
            ),
            (3, SQLCommonDDL.snapshots(self.snapshots, Self.columnTypes)),
            // State stays text: exactly what the runner wrote.
            (4, SQLCommonDDL.projections(self.projections, Self.columnTypes)),
            (5, SQLCommonDDL.projectionSource(self.projections, Self.columnTypes)),
            (6, appendFunctionSQL),
            (7, SQLCommonDDL.consumerGroups(self.consumerGroups, Self.columnTypes)),
            (8, SQLCommonDDL.retentionColumns(self.streams, Self.columnTypes)),
            // Soft and hard delete: the columns, and the append function that knows them.
            (9, SQLCommonDDL.deletionColumns(self.streams, Self.columnTypes) + "\n" + appendFunctionSQL),
            (10, SQLCommonDDL.partitions(self.partitions, Self.columnTypes)),
        ]
    }

    /// How the append function is told what the caller expects (`p_mode`).
    enum AppendMode: Int32 {
        case any = 0, noStream = 1, streamExists = 2, exact = 3
        /// `create`: the stream must not exist, and gets the metadata given.
        case create = 4
    }

    /// What the append function answers (`outcome`).
    enum AppendOutcome: Int32 {
        /// Appended: `current_version` is the new version, `transaction_id` and `last_position` the last
        /// event's global position.
        case appended = 0
        /// The expected version does not hold: nothing written; `current_version` is the stream's (null when
        /// it has none).
        case conflict = 1
        /// A younger transaction appended to the stream while this one ran (a store transaction that wrote
        /// before): nothing written.
        case reordered = 2
        /// `create` of a stream that exists: nothing written.
        case exists = 4
        /// The stream is a tombstone (``DeleteMode/hard``): nothing written.
        case tombstone = 5
    }

    /// The SQLSTATE the append function raises when the stream's row went away while it inserted (deleted
    /// by a writer that does not take the stream's lock): the statement is rolled back whole.
    static let deletedWhileAppending = "ES001"

    /// An append in one statement, so in one round trip: called outside a transaction the server commits
    /// it as the statement ends.
    ///
    /// It takes the stream's lock first (an advisory lock takes no transaction id, so this transaction's id,
    /// taken by its first write, comes after every earlier writer of the stream committed), then reads the
    /// stream in a statement of its own (in READ COMMITTED each statement of a function takes a new snapshot,
    /// so it sees the last holder's commit: one data-modifying CTE would read in a snapshot taken before the
    /// lock), checks the expected version, inserts the batch, sets the stream's version and notifies. A
    /// soft-deleted stream (``DeletionSQL``) is missing to it, and `create` or no-stream starts it again, its
    /// numbering going on; a tombstone refuses every write.
    /// Conflicts are answered as outcomes before anything is written; duplicate ids raise the unique
    /// violations of the events table, which roll the statement back whole.
    private var appendFunctionSQL: String {
        """
        CREATE OR REPLACE FUNCTION \(appendFunction)(
            p_name text, p_category text, p_metadata text, p_lock text, p_channel text, p_mode int, p_expected int8,
            p_uuids uuid[], p_names text[], p_payloads text[], p_event_metadata text[], p_micros int8[],
            p_keyed bool[], p_aggregate_types text[], p_aggregate_ids text[], p_aggregate_versions text[])
        RETURNS TABLE (outcome int, current_version int8, transaction_id int8, last_position int8)
        LANGUAGE plpgsql VOLATILE AS $$
        #variable_conflict use_column
        DECLARE
            v_id int8;
            v_version int8;
            v_last_transaction xid8;
            v_deleted int8;
            v_count int := coalesce(cardinality(p_uuids), 0);
            v_last int8;
        BEGIN
            PERFORM pg_advisory_xact_lock(hashtext(p_lock));
            SELECT s.id, s.version, s.last_transaction_id, s.deleted INTO v_id, v_version, v_last_transaction, v_deleted
                FROM \(self.streams) s WHERE s.name = p_name;
            IF v_deleted = 2 THEN
                RETURN QUERY SELECT 5, v_version, NULL::int8, NULL::int8;
                RETURN;
            ELSIF v_deleted = 1 THEN
                IF p_mode <> 1 AND p_mode <> 4 THEN
                    RETURN QUERY SELECT 1, NULL::int8, NULL::int8, NULL::int8;
                    RETURN;
                ELSIF v_last_transaction > pg_current_xact_id_if_assigned() THEN
                    RETURN QUERY SELECT 2, v_version, NULL::int8, NULL::int8;
                    RETURN;
                END IF;
                UPDATE \(self.streams) SET deleted = 0, metadata = coalesce(p_metadata, '{}')::jsonb, retain_from = NULL,
                    max_count = NULL, max_age = NULL WHERE id = v_id;
            ELSIF p_mode = 4 THEN
                IF v_id IS NOT NULL THEN
                    RETURN QUERY SELECT 4, v_version, NULL::int8, NULL::int8;
                    RETURN;
                END IF;
            ELSIF v_id IS NULL THEN
                IF p_mode <> 1 THEN
                    RETURN QUERY SELECT 1, NULL::int8, NULL::int8, NULL::int8;
                    RETURN;
                END IF;
            ELSIF p_mode = 1 OR (p_mode = 3 AND v_version <> p_expected) THEN
                RETURN QUERY SELECT 1, v_version, NULL::int8, NULL::int8;
                RETURN;
            ELSIF v_last_transaction > pg_current_xact_id_if_assigned() THEN
                RETURN QUERY SELECT 2, v_version, NULL::int8, NULL::int8;
                RETURN;
            END IF;
            IF v_id IS NULL THEN
                INSERT INTO \(self.streams) (name, category, metadata)
                    VALUES (p_name, p_category, coalesce(p_metadata, '{}')::jsonb) RETURNING id INTO v_id;
                v_version := 0;
            END IF;
            IF v_count = 0 THEN
                RETURN QUERY SELECT 0, v_version, NULL::int8, NULL::int8;
                RETURN;
            END IF;
            WITH inserted AS (
                INSERT INTO \(self.events) (stream_id, position, uuid, message_name, payload, metadata, created_at,
                    aggregate_type, aggregate_id, aggregate_version)
                SELECT v_id, v_version + e.ord, e.uuid, e.name, e.payload::json, e.metadata::jsonb,
                    timestamptz 'epoch' + e.micros * interval '1 microsecond',
                    CASE WHEN e.keyed THEN e.atype END, CASE WHEN e.keyed THEN e.aid END, CASE WHEN e.keyed THEN e.aver END
                FROM unnest(p_uuids, p_names, p_payloads, p_event_metadata, p_micros, p_keyed, p_aggregate_types,
                    p_aggregate_ids, p_aggregate_versions)
                    WITH ORDINALITY AS e(uuid, name, payload, metadata, micros, keyed, atype, aid, aver, ord)
                ORDER BY e.ord
                RETURNING global_position
            )
            SELECT max(global_position) INTO v_last FROM inserted;
            UPDATE \(self.streams) SET version = v_version + v_count, last_transaction_id = pg_current_xact_id()
                WHERE id = v_id;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'stream deleted while appending' USING ERRCODE = '\(Self.deletedWhileAppending)';
            END IF;
            PERFORM pg_notify(p_channel, pg_current_xact_id()::text || ':' || v_last::text);
            RETURN QUERY SELECT 0, v_version + v_count, pg_current_xact_id()::text::int8, v_last;
        END
        $$
        """
    }

    /// How the common tables' columns are spelled here.
    private static let columnTypes = SQLColumnTypes(
        key: "text COLLATE \"C\"", text: "text", integer: "bigint", json: "json", timestamp: "timestamptz")

    var latestVersion: Int { migrations.last?.version ?? 0 }
}
