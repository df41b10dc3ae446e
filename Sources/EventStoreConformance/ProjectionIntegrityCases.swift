@_spi(Backend) import EventStore
import Foundation
import Synchronization
import Testing

/// A read model whose reset takes a while, to let a runner start while it runs.
private final class SlowResetReadModel: ReadModel {
    let users = UsersReadModel()
    /// Ended by ``letResetsFinish()``: resets wait for it.
    private let gate = AsyncStream<Void>.makeStream()

    func initialize() async throws { try await users.initialize() }
    func isInitialized() async throws -> Bool { try await users.isInitialized() }
    func reset() async throws {
        for await _ in gate.stream {}
        try await users.reset()
    }
    /// Lets every reset, waiting or to come, go on.
    func letResetsFinish() { gate.continuation.finish() }
    func delete() async throws { try await users.delete() }
    func stack(_ operation: UsersReadModel.Operation) { users.stack(operation) }
    func persist() async throws { try await users.persist() }
}

/// `UserRenamed` events, named `n1`, `n2`, …
private func renames(_ range: ClosedRange<Int>) -> [EventMessage] {
    range.map { EventMessage(messageName: "UserRenamed", payload: ["name": .string("n\($0)")]) }
}

extension EventStoreConformance {
    /// Emitted and linked events are written once, whatever replays; resets delete only what the projection
    /// made; a runner that lost its lease writes nothing more.
    static let projectionIntegrityCases: [ConformanceCase] = [
        ConformanceCase("projections", "emittedAndLinkedEventsAreWrittenOnceAcrossAResetAndCarryTheirOwnPositions") { inner in
            let store = try inner.projecting()
            try await store.create("user-1", events: [EventMessage(messageName: "UserCreated")] + renames(1...2))
            let manager = ProjectionManager(store: store)
            // The README's projection: re-emit each rename and link it to an audit stream.
            let projection = manager.createProjection("renamed-users").fromStream("user-1")
                .when([
                    .on("UserRenamed") { state, event, context in
                        try await context.emit(event.message)
                        try await context.linkTo("audit-users", event.message)
                        return state
                    }
                ])
            try await projection.run(keepRunning: false)
            for stream: StreamName in ["renamed-users", "audit-users"] {
                let copies = try await store.all(stream)
                #expect(copies.map(\.messageName) == ["UserRenamed", "UserRenamed"])
                // Their own positions (the sources are at 2 and 3), and ids of their own.
                #expect(copies.map { $0.metadata[MetadataKey.position] } == [.int(1), .int(2)])
                #expect(copies.map(\.position) == [1, 2])
                #expect(Set(copies.map(\.uuid)).isDisjoint(with: try await store.all("user-1").map(\.uuid)))
            }
            // Before, the reset deleted only the projection's own stream, and the replay's linkTo met its own
            // earlier copies: duplicateEvent, on this run and every later one.
            try await manager.resetProjection("renamed-users")
            await expectError(.streamNotFound) { try await store.all("audit-users") }
            try await projection.run(keepRunning: false)
            #expect(try await store.all("renamed-users").count == 2)
            #expect(try await store.all("audit-users").count == 2)
            try await store.append(renames(3...3), to: "user-1")
            try await projection.run(keepRunning: false)
            #expect(try await store.all("audit-users").map { $0.payload } == [["name": "n1"], ["name": "n2"], ["name": "n3"]])
        },
        ConformanceCase("projections", "aRunThatFailsAfterEmittingIsRepeatedWithoutWritingTwice") { inner in
            let store = try inner.projecting()
            try await store.create("user-1", events: renames(1...6))
            let manager = ProjectionManager(store: store)
            let failed = Mutex(false)
            let projection = manager.createProjection("once-each").fromStream("user-1")
                .whenAny { state, event, context in
                    try await context.emit(EventMessage(messageName: "Seen", payload: event.payload))
                    try await context.emit(EventMessage(messageName: "SeenAgain", payload: event.payload))
                    if event.position == 5, !failed.withLock({ $0 }) {
                        failed.withLock { $0 = true }
                        struct Crash: Error {}
                        throw Crash()
                    }
                    return state
                }
            await #expect(throws: (any Error).self) { try await projection.run(keepRunning: false) }
            #expect(try await store.all("once-each").count == 10)
            try await projection.run(keepRunning: false)
            let emitted = try await store.all("once-each")
            #expect(emitted.count == 12)
            #expect(emitted.map(\.messageName) == Array(repeating: ["Seen", "SeenAgain"], count: 6).flatMap { $0 })
        },
        ConformanceCase("projections", "aResetNeverDeletesAStreamTheProjectionDidNotCreateOrDidNotWriteAlone") { inner in
            let store = try inner.projecting()
            try await store.create("orders", events: [EventMessage(messageName: "OrderPlaced")])
            try await store.create("user-1", events: renames(1...2))
            let manager = ProjectionManager(store: store)
            // Named like a domain stream, which it emits into; it also links into a stream it creates, which
            // someone else then writes to.
            let projection = manager.createProjection("orders").fromStream("user-1")
                .whenAny { state, event, context in
                    try await context.emit(event.message)
                    try await context.linkTo("shared-log", event.message)
                    return state
                }
            try await projection.run(keepRunning: false)
            try await store.append([EventMessage(messageName: "Written by someone else")], to: "shared-log")
            try await manager.resetProjection("orders")
            #expect(try await store.all("orders").map(\.messageName) == ["OrderPlaced", "UserRenamed", "UserRenamed"])
            #expect(try await store.all("shared-log").count == 3)
            // The replay finds its copies still there and writes none twice.
            try await projection.run(keepRunning: false)
            #expect(try await store.all("orders").count == 3)
            #expect(try await store.all("shared-log").count == 3)
            try await manager.deleteProjection("orders", deleteEmittedEvents: true)
            #expect(try await store.hasStream("orders"))
            #expect(try await store.hasStream("shared-log"))
        },
        ConformanceCase("projection control", "aRunnerThatLostItsLeaseEmitsNothingMore") { inner in
            let store = try inner.projecting()
            try await store.create("user-123", events: userEvents(1...3))
            let manager = ProjectionManager(store: store)
            let options = ProjectionOptions(lockTimeout: .milliseconds(300), idleCheckInterval: .milliseconds(100))
            let fastFinished = Calls()
            let slow = manager.createProjection("emitter", options: options).fromStream("user-123")
                .whenAny { state, _, context in
                    try await context.emit(EventMessage(messageName: "X"))
                    // Until the fast runner has taken over and finished (a fixed 3 s sleep was not always
                    // long enough on a busy machine).
                    try await eventually("the fast runner finished") { fastFinished.count > 0 }
                    return state
                }
            let runner = Task { try await slow.run(keepRunning: false) }
            // After its first emit (which renewed the lease), the slow runner sleeps: wait for that emit, then
            // for the lease to run out.
            try await eventually("the slow runner emitted once and its lease expired") {
                guard try await store.hasStream("emitter"), let record = try await store.projectionRecord(named: "emitter"),
                    let until = record.lockedUntil
                else { return false }
                return until < Timestamp.microseconds(Date())
            }
            let fast = manager.createProjection("emitter", options: options).fromStream("user-123")
                .whenAny { state, _, context in
                    try await context.emit(EventMessage(messageName: "X"))
                    return state
                }
            defer { fastFinished.bump() }
            try await fast.run(keepRunning: false)
            fastFinished.bump()
            await expectError(.projectionLeaseLost) { try await runner.value }
            // One per source event: the slow runner's first (the fast one found it and skipped its own), then
            // the fast runner's; before, the slow runner went on emitting after it lost the lease.
            #expect(try await store.all("emitter").count == 3)
        },
        ConformanceCase("read models", "aReadModelResetDoesNotRaceARunnerThatStartsMeanwhile") { inner in
            let store = try inner.projecting()
            try await store.create("user-123", events: userEvents(1...3))
            let manager = ProjectionManager(store: store)
            let readModel = SlowResetReadModel()
            func runner() -> ReadModelProjection<SlowResetReadModel, Int> {
                manager.createReadModelProjection("users", readModel: readModel).initialState(0).fromStream("user-123")
                    .whenAny { n, event, context in
                        context.readModel.stack(.insert(id: "\(event.position)", name: nil))
                        return n + 1
                    }
            }
            try await runner().run(keepRunning: false)
            #expect(readModel.users.users.count == 3)
            let reset = Task { try await manager.resetProjection("users") }
            try await eventually("the manager holds the lease while the read model resets") {
                try await store.projectionRecord(named: "users")?.leaseOwner?.hasPrefix("manager-") == true
            }
            // The manager holds the lease while the read model resets: a runner starting now is refused,
            // instead of persisting rows the late reset then wipes while its saved positions say done.
            await expectError(.projectionRunning) { try await runner().run(keepRunning: false) }
            readModel.letResetsFinish()
            try await reset.value
            #expect(readModel.users.users.isEmpty)
            try await runner().run(keepRunning: false)
            #expect(readModel.users.users.count == 3)
            #expect(try await manager.streamPositions(of: "users") == ["user-123": 3])
        },
        ConformanceCase("projections", "aRowKeepsItsPositionWholeWhateverItsKindAndLength") { inner in
            // A partitioned store's projection keeps a composite position (a part per member) in its home
            // member's row: every backend keeps one of many long parts as it keeps a global position (MariaDB's
            // column was 64 characters before schema version 11).
            let store = try inner.projecting()
            var parts: [String: GlobalPosition] = [:]
            for index in 0..<12 {
                parts["member-with-a-long-name-\(index)"] = GlobalPosition(commit: 9_000_000_000_000 + Int64(index), sequence: 123_456_789)
            }
            let composite = ProjectionPosition.composite(CompositePosition(parts: parts))
            #expect(composite.description.utf8.count > 500)
            for (name, position) in [("composite", composite), ("global", .global(GlobalPosition(commit: 7, sequence: 42)))] {
                try await store.changeProjection(named: name) { row in
                    row = ProjectionRecord(name: name, kind: .projection, position: position)
                    return ProjectionChange(())
                }
                #expect(try await store.projectionRecord(named: name)?.position == position, "\(name)")
            }
        },
    ]
}
