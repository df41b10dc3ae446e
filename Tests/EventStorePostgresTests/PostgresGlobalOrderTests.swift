import EventStore
import EventStorePostgres
import EventStoreTestSupport
import Foundation
import Synchronization
import Testing

struct RolledBackOnPurpose: Error {}

/// What the writers committed and rolled back, from every task.
final class WriteLog: Sendable {
    private let state = Mutex<(committed: Set<UUID>, rolledBack: Set<UUID>)>(([], []))
    func committed(_ events: [EventMessage]) { state.withLock { $0.committed.formUnion(events.map(\.uuid)) } }
    func rolledBack(_ events: [EventMessage]) { state.withLock { $0.rolledBack.formUnion(events.map(\.uuid)) } }
    var committed: Set<UUID> { state.withLock { $0.committed } }
    var rolledBack: Set<UUID> { state.withLock { $0.rolledBack } }
}

@Suite("PostgreSQL global order", .enabled(if: PostgresTestServer.shouldRun, "\(PostgresTestServer.skipMessage)"), .watchdog())
struct PostgresGlobalOrderTests {
    static let writers = 8
    static let eventsPerWriter = ProcessInfo.processInfo.environment["EVENTSTORE_STRESS_EVENTS_PER_WRITER"].flatMap(Int.init) ?? 2_000

    @Test func aTailingReaderSeesEveryCommittedEventOnceAndNoRolledBackOne() async throws {
        try await PostgresTestServer.withStore { store in
            for writer in 0..<Self.writers { try await store.create(try StreamName("writer-\(writer)")) }
            let log = WriteLog()
            let writersDone = Atomic<Bool>(false)

            let reader = Task {
                var seen: [RecordedEvent] = []
                var last = GlobalPosition.start
                while true {
                    let finished = writersDone.load(ordering: .acquiring)
                    let page = try await store.readAll(after: last, limit: 500)
                    seen += page
                    if let position = page.last?.globalPosition { last = position }
                    if page.isEmpty {
                        if finished { return seen }
                        try await Task.sleep(for: .milliseconds(2))
                    }
                }
            }

            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<Self.writers {
                    group.addTask {
                        let stream = try StreamName("writer-\(writer)")
                        var written = 0
                        var round = 0
                        while written < Self.eventsPerWriter {
                            round += 1
                            let size = round % 3 == 0 ? min(25, Self.eventsPerWriter - written) : 1
                            let events = (0..<size).map { _ in EventMessage(messageName: "Wrote", metadata: ["writer": .int(writer)]) }
                            if round % 7 == 0 {
                                let doomed = (0..<5).map { _ in EventMessage(messageName: "Doomed") }
                                await #expect(throws: RolledBackOnPurpose.self) {
                                    try await store.transaction { tx in
                                        try await tx.append(doomed, to: stream)
                                        throw RolledBackOnPurpose()
                                    }
                                }
                                log.rolledBack(doomed)
                            }
                            try await store.append(events, to: stream)
                            log.committed(events)
                            written += size
                        }
                    }
                }
                try await group.waitForAll()
            }
            writersDone.store(true, ordering: .releasing)
            let seen = try await reader.value

            let seenIDs = seen.map(\.uuid)
            #expect(seenIDs.count == Set(seenIDs).count, "an event was seen twice")
            #expect(Set(seenIDs) == log.committed, "the reader missed \(log.committed.subtracting(seenIDs).count) committed events")
            #expect(log.rolledBack.isDisjoint(with: seenIDs), "the reader saw rolled-back events")
            #expect(seen.count == Self.writers * Self.eventsPerWriter)
            #expect(zip(seen, seen.dropFirst()).allSatisfy { $0.globalPosition < $1.globalPosition })
            for writer in 0..<Self.writers {
                let positions = seen.filter { $0.streamName.rawValue == "writer-\(writer)" }.map(\.position)
                #expect(positions == Array(1...Self.eventsPerWriter), "stream writer-\(writer) out of order in the global order")
            }
        }
    }
}
