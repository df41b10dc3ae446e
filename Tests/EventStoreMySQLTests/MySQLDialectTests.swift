#if MySQL
import EventStore
import EventStoreSQL
import EventStoreTestSupport
import Testing

@testable import EventStoreMySQL

/// The SQL the MySQL dialect generates (MySQL 8 itself has no server in Debian: its SQL is checked here,
/// and the whole suite runs against MariaDB).
@Suite(.watchdog()) struct MySQLDialectTests {
    @Test func metadataKeysAndValuesAreBoundNeverSpliced() throws {
        let key = "'; DROP TABLE events; --\"\\"
        let matcher = try MetadataMatcher().metadata(key, .equals, "x'y").metadata("n", .greaterThan, 3)
        let (sql, binds) = MySQLDialect().predicate(for: matcher, metadata: "e.metadata").render()
        #expect(!sql.contains("DROP"))
        #expect(!sql.contains("x'y"))
        #expect(binds.contains(.text(#"$."'; DROP TABLE events; --\"\\""#)))
        #expect(binds.contains(.text("x'y")))
        #expect(binds.contains(.int(3)))
        #expect(sql.contains("JSON_CONTAINS_PATH(e.metadata, 'one', ?)"))
        #expect(sql.contains("JSON_TYPE(JSON_EXTRACT(e.metadata, ?)) = 'STRING'"))
        #expect(sql.contains("CAST(JSON_UNQUOTE(JSON_EXTRACT(e.metadata, ?)) AS BINARY) = ?"))
        #expect(sql.filter { $0 == "?" }.count == binds.count)
    }

    @Test func pathsQuoteKeysAsJSONStrings() {
        #expect(MySQLDialect.path("a.b") == #"$."a.b""#)
        #expect(MySQLDialect.path(#"q"uote"#) == #"$."q\"uote""#)
        #expect(MySQLDialect.path("ключ") == #"$."ключ""#)
    }

    @Test func propertiesAndRegexUseTheirColumns() throws {
        let matcher = try MetadataMatcher()
            .property(.messageName, .regex, "^User")
            .property(.createdAt, .lessThan, "2026-01-01T00:00:00")
            .property(.position, .in, [1, 2])
            .property(.uuid, .notIn, [])
        let (sql, binds) = MySQLDialect().predicate(for: matcher, metadata: "e.metadata").render()
        // On the text as characters (utf8mb4, binary collation), the pattern written for PCRE2.
        #expect(sql.contains("(CONVERT(e.message_name USING utf8mb4) COLLATE utf8mb4_bin REGEXP ?)"))
        #expect(sql.contains("CAST(DATE_FORMAT(e.created_at, '%Y-%m-%dT%H:%i:%s.%f') AS BINARY) < ?"))
        #expect(sql.contains("e.position IN (?, ?)"))
        #expect(sql.contains("1 = 1"))
        #expect(binds == [.text(#"\AUser"#), .text("2026-01-01T00:00:00.000000"), .int(1), .int(2)])
    }
}
#endif
