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
    private let eventsGlobalOrderIndex: String
    private let bareNames: (streams: String, events: String)

    init(schema: String?, prefix: String) throws(EventStoreError) {
        names = try SQLTableNames(prefix: prefix, longest: 36)
        qualifier = try schema.map { name throws(EventStoreError) in try SQLIdentifier(name).quoted + "." } ?? ""
        streamsCategoryIndex = try names.named("event_streams_category").quoted
        eventsGlobalOrderIndex = try names.named("events_global_order").quoted
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
        ]
    }

    /// How the common tables' columns are spelled here.
    private static let columnTypes = SQLColumnTypes(
        key: "text COLLATE \"C\"", text: "text", integer: "bigint", json: "json", timestamp: "timestamptz")

    var latestVersion: Int { migrations.last?.version ?? 0 }
}
