#if MySQL
@_spi(Backend) import EventStore
import EventStoreSQL

/// Matchers in MySQL and MariaDB: metadata is JSON text, members are reached by a bound JSON path
/// (`$."key"`, the key written as a JSON string, so quotes and dots in it are data), strings compare as
/// bytes (`CAST(… AS BINARY)`), integers as 64-bit integers and other numbers as doubles behind a `CASE`, and `regex` is the server's `REGEXP`
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
        let isInteger: SQLQuery = "\(type) = 'INTEGER'"
        let member = SQLJSONMember(
            isText: "\(type) = 'STRING'", isNumber: isNumber,
            isTrue: "(\(type) = 'BOOLEAN' AND JSON_UNQUOTE(\(value)) = 'true')",
            isFalse: "(\(type) = 'BOOLEAN' AND JSON_UNQUOTE(\(value)) = 'false')",
            text: "CAST(JSON_UNQUOTE(\(value)) AS BINARY)",
            number: "(CASE WHEN \(isNumber) THEN JSON_UNQUOTE(\(value)) + 0 END)",
            // `+ 0` makes a double, which cannot tell 2^53 + 1 from 2^53.
            integer: (isInteger, "(CASE WHEN \(isInteger) THEN CAST(JSON_UNQUOTE(\(value)) AS SIGNED) END)"))
        return "(JSON_CONTAINS_PATH(\(json), 'one', \(bind: path)) AND \(predicate(member)))"
    }

    /// On the text as utf8mb4 (bytes reread as characters), so that `.` is one character, not one byte;
    /// the binary collation keeps it case-sensitive.
    func regex(_ text: SQLQuery, pattern: String) -> SQLQuery {
        "(CONVERT(\(text) USING utf8mb4) COLLATE utf8mb4_bin REGEXP \(bind: Self.written(pattern, for: .pcre)))"
    }

    var uuidText: SQLQuery { "CAST(e.uuid AS BINARY)" }
    var createdAtText: SQLQuery { "CAST(DATE_FORMAT(e.created_at, '%Y-%m-%dT%H:%i:%s.%f') AS BINARY)" }
    /// `created_at` holds UTC.
    func now(minusSeconds seconds: SQLQuery) -> SQLQuery { "(UTC_TIMESTAMP(6) - INTERVAL (\(seconds)) SECOND)" }
}
#endif
