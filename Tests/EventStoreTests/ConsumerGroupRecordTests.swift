@_spi(Backend) import EventStore
import EventStoreTestSupport
import Foundation
import Testing

/// A consumer group's row as stored: rows written before positions could be composite (and before each
/// event's member and id were kept) read back as they were, and go on as a single store's.
@Suite("Consumer group rows", .watchdog())
struct ConsumerGroupRecordTests {
    @Test func aRowWrittenBeforeCompositePositionsReadsBackAndGoesOn() throws {
        let definition = String(decoding: try JSONEncoder().encode(ConsumerGroup(name: "mailer", target: .category("job"))), as: UTF8.self)
        // As an earlier build wrote it: positions as numbers (or their text), entries without member or uuid.
        let stored = """
            {"definition": \(definition), "checkpoint": 3, "readThrough": "1:5", "consumers": {},
             "acknowledged": 3, "retried": 0, "skipped": 0, "parkedTotal": 0,
             "entries": [{"position": 4, "stream": "job-1", "streamPosition": 4, "state": "available", "deliveries": 0}]}
            """
        var record = try JSONDecoder().decode(ConsumerGroupRecord.self, from: Data(stored.utf8))
        #expect(record.checkpoint == .global(GlobalPosition(sequence: 3)))
        #expect(record.readThrough == .global(GlobalPosition(commit: 1, sequence: 5)))
        #expect(record.entries.map(\.uuid) == [nil] && record.entries.map(\.member) == [nil])

        // Settling the old entry moves the checkpoint to the read-through, in the same kind.
        let handout = try #require(record.take(for: "c", count: 1, now: 0).first)
        #expect(handout.uuid == nil && handout.position == GlobalPosition(sequence: 4))
        #expect(record.acknowledge([handout.delivery], by: "c", now: 0) == 1)
        #expect(record.checkpoint == .global(GlobalPosition(commit: 1, sequence: 5)))
        // And it is stored again as a global position.
        let again = try JSONDecoder().decode(ConsumerGroupRecord.self, from: try JSONEncoder().encode(record))
        #expect(again == record)
    }
}
