#if MySQL
import EventStore
import EventStoreSQL

/// Matchers in MySQL and MariaDB: metadata is JSON text, members are reached by a bound JSON path
/// (`$."key"`, the key written as a JSON string, so quotes and dots in it are data), strings compare as
/// bytes (`CAST(… AS BINARY)`), numbers as doubles behind a `CASE`, and `regex` is the server's `REGEXP`
/// (PCRE in MariaDB, ICU in MySQL 8).
struct MySQLDialect: SQLMatcherDialect {
    /// The JSON path of one top-level member.
    static func path(_ key: String) -> String {
        "$." + JSONValue.string(key).jsonText
    }

    func member(of json: SQLQuery, key: String, _ predicate: (SQLJSONMember) -> SQLQuery) -> SQLQuery {
        let path = Self.path(key)
        let value: SQLQuery = "JSON_EXTRACT(\(json), \(bind: path))"
        let type: SQLQuery = "JSON_TYPE(JSON_EXTRACT(\(json), \(bind: path)))"
        let isNumber: SQLQuery = "\(type) IN ('INTEGER', 'DOUBLE', 'DECIMAL', 'UNSIGNED INTEGER')"
        let member = SQLJSONMember(
            isText: "\(type) = 'STRING'", isNumber: isNumber,
            isTrue: "(\(type) = 'BOOLEAN' AND JSON_UNQUOTE(\(value)) = 'true')",
            isFalse: "(\(type) = 'BOOLEAN' AND JSON_UNQUOTE(\(value)) = 'false')",
            text: "CAST(JSON_UNQUOTE(\(value)) AS BINARY)",
            number: "(CASE WHEN \(isNumber) THEN JSON_UNQUOTE(\(value)) + 0 END)")
        return "(JSON_CONTAINS_PATH(\(json), 'one', \(bind: path)) AND \(predicate(member)))"
    }

    var uuidText: SQLQuery { "CAST(e.uuid AS BINARY)" }
    var createdAtText: SQLQuery { "CAST(DATE_FORMAT(e.created_at, '%Y-%m-%dT%H:%i:%s.%f') AS BINARY)" }
}
#endif
