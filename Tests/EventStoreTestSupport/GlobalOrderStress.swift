import EventStore
import Foundation
import Synchronization
import Testing

/// The late-commit stress of every backend's global order: writers append to streams of their own, one
/// event or a batch at a time, and now and then roll back a transaction that appended, while readers tail
/// ``GlobalOrderEventStore/readAll(after:of:limit:)`` page by page. Every reader must see every committed
/// event exactly once, in ascending global positions and in each stream's order, and no rolled-back event:
/// a reader that advanced past an event which became visible later would never see it.
public enum GlobalOrderStress {
    /// Events each writer commits: `EVENTSTORE_STRESS_EVENTS_PER_WRITER`, 2,000 by default.
    public static let eventsPerWriter =
        ProcessInfo.processInfo.environment["EVENTSTORE_STRESS_EVENTS_PER_WRITER"].flatMap(Int.init) ?? 2_000

    private struct RolledBackOnPurpose: Error {}

    /// What the writers committed and rolled back, from every task.
    private final class WriteLog: Sendable {
        private let state = Mutex<(committed: Set<UUID>, rolledBack: Set<UUID>, done: Bool)>(([], [], false))
        func committed(_ events: [EventMessage]) { state.withLock { $0.committed.formUnion(events.map(\.uuid)) } }
        func rolledBack(_ events: [EventMessage]) { state.withLock { $0.rolledBack.formUnion(events.map(\.uuid)) } }
        var committed: Set<UUID> { state.withLock { $0.committed } }
        var rolledBack: Set<UUID> { state.withLock { $0.rolledBack } }
        /// Whether every writer is done: a reader that then reads an empty page has seen everything.
        var writersDone: Bool { state.withLock { $0.done } }
        func finish() { state.withLock { $0.done = true } }
    }

    /// Runs the stress on `store` (whose streams `writer-0`… must not exist) and checks what each reader saw.
    public static func run(
        _ store: some GlobalOrderEventStore, writers: Int = 8, readers: Int = 1, eventsPerWriter: Int = Self.eventsPerWriter
    ) async throws {
        let streams = try (0..<writers).map { try StreamName("writer-\($0)") }
        for stream in streams { try await store.create(stream) }
        let log = WriteLog()
        var tails: [Task<[RecordedEvent], any Error>] = []
        for _ in 0..<readers {
            tails.append(Task {
                var seen: [RecordedEvent] = []
                var last = GlobalPosition.start
                // The head once every writer is done. An empty page alone does not mean the reader has seen
                // everything: on PostgreSQL, a transaction of another test still open in the same database
                // holds back what readers may see, for a while.
                var head: GlobalPosition?
                while true {
                    let page = try await store.readAll(after: last, of: .all, limit: 500)
                    seen += page
                    if let position = page.last?.globalPosition { last = position }
                    if page.isEmpty {
                        if head == nil, log.writersDone { head = try await store.headPosition() }
                        if let head, last >= head { return seen }
                        try await Task.sleep(for: .milliseconds(2))
                    }
                }
            })
        }

        do {
            try await write(streams, eventsPerWriter: eventsPerWriter, store: store, log: log)
        } catch {
            // The readers would tail for ever.
            for tail in tails { tail.cancel() }
            throw error
        }
        log.finish()

        for (number, tail) in tails.enumerated() {
            let seen = try await tail.value
            let ids = seen.map(\.uuid)
            #expect(ids.count == Set(ids).count, "reader \(number) saw an event twice")
            #expect(
                Set(ids) == log.committed,
                "reader \(number) missed \(log.committed.subtracting(ids).count) committed events")
            #expect(log.rolledBack.isDisjoint(with: ids), "reader \(number) saw rolled-back events")
            #expect(zip(seen, seen.dropFirst()).allSatisfy { $0.globalPosition < $1.globalPosition })
            for stream in streams {
                let positions = seen.filter { $0.streamName == stream }.map(\.position)
                if positions != Array(1...eventsPerWriter) {
                    let missing = Set(1...eventsPerWriter).subtracting(positions).sorted()
                    let firstOutOfOrder = zip(positions, positions.dropFirst()).first { $0 >= $1 }
                    Issue.record(
                        """
                        reader \(number): \(stream) in the global order is not 1...\(eventsPerWriter): missing \(missing.prefix(20)), \
                        first out of order \(firstOutOfOrder.map { "\($0) then \($1)" } ?? "none")
                        """)
                }
            }
        }
    }

    /// Each writer appends to its own stream, one event or a batch at a time, and every seventh round also
    /// rolls back a transaction that appended.
    private static func write(
        _ streams: [StreamName], eventsPerWriter: Int, store: some GlobalOrderEventStore, log: WriteLog
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for stream in streams {
                group.addTask {
                    var written = 0
                    var round = 0
                    while written < eventsPerWriter {
                        round += 1
                        let size = round % 3 == 0 ? min(25, eventsPerWriter - written) : 1
                        let events = (0..<size).map { _ in EventMessage(messageName: "Wrote") }
                        if round % 7 == 0 {
                            let doomed = (0..<5).map { _ in EventMessage(messageName: "Doomed") }
                            await #expect(throws: RolledBackOnPurpose.self) {
                                try await store.transaction { tx in
                                    try await tx.append(doomed, to: stream, expectedVersion: .any)
                                    throw RolledBackOnPurpose()
                                }
                            }
                            log.rolledBack(doomed)
                        }
                        try await store.append(events, to: stream, expectedVersion: .any)
                        log.committed(events)
                        written += size
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}
