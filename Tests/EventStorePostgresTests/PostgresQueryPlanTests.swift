import EventStore
import EventStoreSQL
import EventStoreTestSupport
import Foundation
import Logging
import PostgresNIO
import Testing

@testable import EventStorePostgres

/// What PostgreSQL's planner makes of the store's queries, where a bad plan costs more as the store grows:
/// asserted on the plan, not timed.
@Suite("PostgreSQL query plans", .enabled(if: PostgresTestServer.shouldRun, "\(PostgresTestServer.skipMessage)"), .watchdog())
struct PostgresQueryPlanTests {
    /// A page of the global order reads the events' index in order and stops after the page, also where the
    /// streams table has no statistics (a store of fewer than 50 streams: autovacuum never analyzes it). The
    /// retention filter, written in the join, made the planner sort every event for each page: a catch-up
    /// over 100,000 events ran at 27,000 events/s instead of 270,000, and the cost grew with the store.
    @Test func aPageOfTheGlobalOrderReadsTheIndexInOrderWithoutStatistics() async throws {
        let prefix = PostgresTestServer.uniquePrefix()
        try await PostgresTestServer.withStore(prefix: prefix) { store in
            for stream in 0..<10 {
                for batch in 0..<2 {
                    let events = (0..<1000).map { EventMessage(messageName: "Filled", payload: ["n": JSONValue(integerLiteral: batch * 1000 + $0)]) }
                    try await store.append(events, to: try StreamName("plan-\(stream)"), expectedVersion: batch == 0 ? .noStream : .exact(1000))
                }
            }
            let operations = PostgresOperations(tables: try PostgresTables(schema: nil, prefix: prefix), logger: Logger(label: "test"))
            // Pages from the start, and from the middle of the order.
            let middle = try await store.readAll(after: .start, of: .all, limit: 10_000).last!.globalPosition
            for after in [GlobalPosition.start, middle] {
                let query = operations.readAllQuery(after: after, of: .all, limit: 1000, columns: PostgresOperations.columns).postgres
                let plan = try await store.withConnection { connection in
                    _ = try await connection.query("ANALYZE \(unescaped: "\"\(prefix)events\"")", logger: Logger(label: "test"))
                    _ = try await connection.query(
                        "DELETE FROM pg_statistic WHERE starelid = \(unescaped: "'\"\(prefix)event_streams\"'")::regclass", logger: Logger(label: "test"))
                    var explain = query
                    explain.sql = "EXPLAIN (FORMAT TEXT) " + explain.sql
                    var lines: [String] = []
                    for try await line in try await connection.query(explain, logger: Logger(label: "test")).decode(String.self) {
                        lines.append(line)
                    }
                    return lines.joined(separator: "\n")
                }
                #expect(!plan.contains("Seq Scan on \(prefix)events"), "after \(after): \(plan)")
                #expect(plan.contains("Index Scan using \(prefix)events_global_order"), "after \(after): \(plan)")
            }
        }
    }
}
