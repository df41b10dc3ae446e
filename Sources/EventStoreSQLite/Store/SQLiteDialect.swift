import EventStore
import EventStoreSQL

/// Matchers in SQLite: metadata members through `json_each` (the key is a bound value, so any key is
/// plain data), regular expressions through the registered `es_regexp` function.
struct SQLiteDialect: SQLMatcherDialect {
    func member(of json: SQLQuery, key: String, _ predicate: (SQLJSONMember) -> SQLQuery) -> SQLQuery {
        let member = SQLJSONMember(
            isText: "j.type = 'text'", isNumber: "j.type IN ('integer', 'real')", isTrue: "j.type = 'true'",
            isFalse: "j.type = 'false'", text: "j.value", number: "j.value")
        return "EXISTS (SELECT 1 FROM json_each(\(json)) AS j WHERE j.key = \(bind: key) AND \(predicate(member)))"
    }

    func regex(_ text: SQLQuery, pattern: String) -> SQLQuery {
        "es_regexp(\(bind: pattern), \(text)) = 1"
    }

    var uuidText: SQLQuery { "e.uuid" }
    var createdAtText: SQLQuery { "e.created_at" }

    /// `created_at` is UTC text with six decimals; SQLite's clock gives three, which compare as the same
    /// instant's prefix.
    func now(minusSeconds seconds: SQLQuery) -> SQLQuery {
        "strftime('%Y-%m-%dT%H:%M:%f', 'now', '-' || (\(seconds)) || ' seconds')"
    }
}
