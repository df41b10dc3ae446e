import EventStoreSQL
import EventStoreTestSupport
import Testing

/// The prepared-statement cache of the SQLite and MariaDB connections stays within its capacity.
@Suite("Statement cache", .watchdog())
struct StatementCacheTests {
    final class Released {
        var names: [String] = []
    }

    @Test func itKeepsAtMostItsCapacityAndReleasesTheStatementUsedLongestAgo() {
        let released = Released()
        var cache = StatementCache<String>(capacity: 3) { released.names.append($0) }
        var prepared: [String] = []
        func statement(_ sql: String) -> String {
            cache.statement(for: sql) { () -> String in
                prepared.append(sql)
                return "statement of \(sql)"
            }
        }
        #expect(statement("a") == "statement of a")
        _ = statement("b")
        _ = statement("c")
        _ = statement("a")  // a is now the most recent; b the oldest
        #expect(prepared == ["a", "b", "c"])
        _ = statement("d")
        #expect(released.names == ["statement of b"])
        #expect(cache.count == 3)
        _ = statement("b")
        #expect(prepared == ["a", "b", "c", "d", "b"])
        #expect(released.names == ["statement of b", "statement of c"])
        for n in 0..<1000 { _ = statement("in list of \(n)") }
        #expect(cache.count == 3)
        #expect(released.names.count == 2 + 1000)
        cache.removeAll()
        #expect(cache.count == 0)
        #expect(released.names.count == 2 + 1000 + 3)
    }

    @Test func aStatementThatFailsToPrepareIsNotCached() {
        struct Failure: Error {}
        var cache = StatementCache<Int>(capacity: 4) { _ in }
        #expect(throws: Failure.self) { try cache.statement(for: "bad") { () throws(Failure) -> Int in throw Failure() } }
        #expect(cache.count == 0)
        #expect(cache.statement(for: "bad") { 7 } == 7)
    }
}
