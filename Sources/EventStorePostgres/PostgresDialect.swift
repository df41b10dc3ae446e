@_spi(Backend) import EventStore
import EventStoreSQL
import PostgresNIO

/// Matchers in PostgreSQL: metadata is `jsonb`, keys are bound text (`metadata -> $n`), strings compare
/// with `COLLATE "C"` (bytes), numbers as `numeric` behind a `CASE` so a string is never cast; `regex` is
/// PostgreSQL's `~` (POSIX advanced regular expressions) on the pattern written for it.
struct PostgresDialect: SQLMatcherDialect {
    func member(of json: SQLQuery, key: String, _ predicate: (SQLJSONMember) -> SQLQuery) -> SQLQuery {
        let value: SQLQuery = "(\(json) -> \(bind: key))"
        let member = SQLJSONMember(
            isText: "jsonb_typeof\(value) = 'string'", isNumber: "jsonb_typeof\(value) = 'number'",
            isTrue: "\(value) = 'true'::jsonb", isFalse: "\(value) = 'false'::jsonb",
            text: "((\(json) ->> \(bind: key)) COLLATE \"C\")",
            number: "(CASE WHEN jsonb_typeof\(value) = 'number' THEN (\(json) ->> \(bind: key))::numeric END)")
        return "(\(json) ? \(bind: key) AND \(predicate(member)))"
    }

    var regexOperator: String { "~" }
    var regexFlavor: PortableRegex.Flavor { .postgres }

    var uuidText: SQLQuery { "(e.uuid::text COLLATE \"C\")" }
    var messageNameText: SQLQuery { "(e.message_name COLLATE \"C\")" }
    var createdAtText: SQLQuery { "(to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') COLLATE \"C\")" }
    func now(minusSeconds seconds: SQLQuery) -> SQLQuery { "(now() - (\(seconds)) * interval '1 second')" }
}

extension SQLQuery {
    /// The query for PostgresNIO, with `$n` placeholders.
    var postgres: PostgresQuery {
        let (sql, values) = render { "$\($0)" }
        var binds = PostgresBindings(capacity: values.count)
        for value in values {
            switch value {
            case .null: binds.appendNull()
            case let .int(i): binds.append(i)
            case let .double(d): binds.append(d)
            case let .text(s): binds.append(s)
            }
        }
        return PostgresQuery(unsafeSQL: sql, binds: binds)
    }
}
