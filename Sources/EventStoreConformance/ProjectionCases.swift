import EventStore
import Foundation
import Synchronization
import Testing

extension EventStore {
    /// The store as one that keeps projections, or a recorded failure.
    func projecting(sourceLocation: SourceLocation = #_sourceLocation) throws -> any ProjectionStore {
        try #require(self as? any ProjectionStore, "the store keeps no projections", sourceLocation: sourceLocation)
    }
}

/// A counter handlers can bump from any task.
final class Calls: Sendable {
    private let value = Mutex(0)
    @discardableResult func bump() -> Int { value.withLock { $0 += 1; return $0 } }
    var count: Int { value.withLock { $0 } }
}

/// A read model in memory, as prooph's tests use: a table of users by id.
final class UsersReadModel: ReadModel {
    enum Operation: Sendable, Equatable {
        case insert(id: String, name: String?)
        case update(id: String, name: String)
    }

    struct Tables: Sendable {
        var initialized = false
        var users: [String: String?] = [:]
        var resets = 0
        var deletes = 0
    }

    let stack = OperationStack<Operation>()
    let tables = Mutex(Tables())

    func initialize() async throws { tables.withLock { $0.initialized = true } }
    func isInitialized() async throws -> Bool { tables.withLock { $0.initialized } }
    func reset() async throws {
        stack.clear()
        tables.withLock {
            $0.users = [:]
            $0.resets += 1
        }
    }
    func delete() async throws {
        stack.clear()
        tables.withLock {
            $0 = Tables(initialized: false, users: [:], resets: $0.resets, deletes: $0.deletes + 1)
        }
    }
    func stack(_ operation: Operation) { stack.push(operation) }
    func persist() async throws {
        for operation in stack.drain() {
            tables.withLock { tables in
                switch operation {
                case let .insert(id, name): tables.users[id] = .some(name)
                case let .update(id, name): tables.users[id] = .some(name)
                }
            }
        }
    }
    var users: [String: String?] { tables.withLock { $0.users } }
}

/// `user-123` with 50 events: `UserCreated`, then 49 `UsernameChanged`.
private func seedUser(_ store: any EventStore, _ name: StreamName = "user-123", count: Int = 50) async throws {
    try await store.create(name, events: userEvents(1...count))
}

private func changedCount(_ count: Int, _ event: RecordedEvent, _ context: some ProjectionContext) -> Int { count + 1 }

/// Waits (up to 30 s) until `condition` holds.
func eventually(
    _ what: String, within limit: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        // Errors (a row not yet written, say) count as "not yet".
        if (try? await condition()) == true { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("timed out waiting until \(what)", sourceLocation: sourceLocation)
}

extension EventStoreConformance {
    static let projectionCases: [ConformanceCase] =
        projectorCases + remoteControlCases + readModelCases + managerCases + projectionIntegrityCases

    static let projectorCases: [ConformanceCase] = [
        ConformanceCase("projections", "projectsAStreamPersistsStateAndPositionsAndResets") { inner in
            let store = try inner.projecting()
            try await seedUser(store)
            let manager = ProjectionManager(store: store)
            let statusInHandler = Mutex<ProjectionStatus?>(nil)
            let projection = manager.createProjection("test_projection")
                .initialState(0)
                .fromStream("user-123")
                .when([
                    .on("UsernameChanged") { count, _, _ in
                        let status = try await manager.status(of: "test_projection")
                        statusInHandler.withLock { $0 = status }
                        return count + 1
                    }
                ])
            try await projection.run(keepRunning: false)
            #expect(projection.state == 49)
            #expect(statusInHandler.withLock { $0 } == .running)
            #expect(try await manager.state(of: "test_projection") == .number("49"))
            #expect(try await manager.streamPositions(of: "test_projection") == ["user-123": 50])
            #expect(try await manager.status(of: "test_projection") == .idle)
            try await manager.resetProjection("test_projection")
            try await projection.run(keepRunning: false)
            try await projection.run(keepRunning: false)
            #expect(projection.state == 49)
            #expect(try await manager.state(of: "test_projection") == .number("49"))
        },
        ConformanceCase("projections", "aHandlerCanStopTheRunAndWhatItProcessedIsKept") { inner in
            let store = try inner.projecting()
            try await seedUser(store)
            let manager = ProjectionManager(store: store)
            let projection = manager.createProjection("stoppable").initialState(0).fromStream("user-123")
                .whenAny { count, _, context in
                    if count + 1 == 10 { context.stop() }
                    return count + 1
                }
            try await projection.run(keepRunning: true)
            #expect(projection.state == 10)
            #expect(try await manager.streamPositions(of: "stoppable") == ["user-123": 10])
            let query = manager.createQuery().initialState(0).fromStream("user-123")
                .whenAny { count, _, context in
                    if count + 1 == 10 { context.stop() }
                    return count + 1
                }
            try await query.run()
            #expect(query.state == 10)
        },
        ConformanceCase("projections", "queriesAndProjectionsReadSeveralStreamsInGlobalOrder") { inner in
            let store = try inner.projecting()
            let now = Date()
            // Written in this order, but with creation times the other way round: order is the store's.
            try await store.create("user-234", events: (1...3).map { userEvent($0, createdAt: now) })
            try await store.create("user-123", events: (1...3).map { userEvent($0, createdAt: now - 3600) })
            try await store.append([userEvent(4, createdAt: now - 7200)], to: "user-234")
            let manager = ProjectionManager(store: store)
            let query = manager.createQuery().initialState([String]()).fromStreams("user-123", "user-234")
                .whenAny { seen, event, context in seen + ["\(context.streamName?.rawValue ?? "?")#\(event.position)"] }
            try await query.run()
            #expect(query.state == ["user-234#1", "user-234#2", "user-234#3", "user-123#1", "user-123#2", "user-123#3", "user-234#4"])
            #expect(query.streamPositions == ["user-123": 3, "user-234": 4])
        },
        ConformanceCase("projections", "aMetadataMatcherChoosesTheEventsHandlersSeeWhilePositionsAdvanceOverAll") { inner in
            let store = try inner.projecting()
            try await seedUser(store)
            let manager = ProjectionManager(store: store)
            let projection = manager.createProjection("matched").initialState([Int]()).fromStream("user-123")
                .withMetadataMatcher(try MetadataMatcher().metadata("_aggregate_version", .equals, 10))
                .whenAny { versions, event, _ in versions + [event.metadata["_aggregate_version"]?.intValue ?? -1] }
            try await projection.run(keepRunning: false)
            #expect(projection.state == [10])
            #expect(try await manager.streamPositions(of: "matched") == ["user-123": 50])
        },
        ConformanceCase("projections", "fromAllSkipsInternalStreamsAndFromCategoriesTakeTheirStreams") { inner in
            let store = try inner.projecting()
            try await seedUser(store, "user-123")
            try await seedUser(store, "user-234")
            try await seedUser(store, "$iternal-345")
            try await store.create("guest-1", events: userEvents(1...3))
            try await store.create("guests-2", events: userEvents(1...3))
            let manager = ProjectionManager(store: store)
            let all = manager.createQuery().initialState([String]()).fromAll()
                .whenAny { streams, _, context in streams + [context.streamName?.rawValue ?? "?"] }
            try await all.run()
            #expect(all.state.count == 106)
            #expect(Array(all.state.prefix(50)) == Array(repeating: "user-123", count: 50))
            #expect(Array(all.state[50..<100]) == Array(repeating: "user-234", count: 50))
            #expect(!all.state.contains("$iternal-345"))
            let category = manager.createQuery().initialState(0).fromCategory("user").whenAny { n, _, _ in n + 1 }
            try await category.run()
            #expect(category.state == 100)
            let created = manager.createQuery().initialState(0).fromCategories("user", "guest")
                .when([.on("UserCreated") { n, _, _ in n + 1 }])
            try await created.run()
            #expect(created.state == 3)
        },
        ConformanceCase("projections", "aSecondRunResumesAfterWhatTheFirstProcessed") { inner in
            let store = try inner.projecting()
            try await seedUser(store)
            let manager = ProjectionManager(store: store)
            let calls = Calls()
            func define() -> Projection<Int> {
                manager.createProjection("resuming").initialState(0).fromStreams("user-123", "user-234")
                    .when([.on("UsernameChanged") { n, _, _ in calls.bump(); return n + 1 }])
            }
            try await define().run(keepRunning: false)
            #expect(calls.count == 49)
            // The row keeps what the projection reads: /metrics counts its lag there.
            #expect(try await manager.record("resuming").source == .streams(["user-123", "user-234"]))
            try await store.append(userEvents(51...100), to: "user-123")
            try await seedUser(store, "user-234")
            let second = define()
            try await second.run(keepRunning: false)
            #expect(second.state == 148)
            #expect(calls.count == 148)
            let query = manager.createQuery().initialState(0).fromStream("user-123").whenAny { n, _, _ in n + 1 }
            try await query.run()
            try await store.append(userEvents(101...110), to: "user-123")
            try await query.run()
            #expect(query.state == 110)
            query.resetLocally()
            #expect(query.state == 0)
        },
        ConformanceCase("projections", "stateAndPositionsAreSavedEveryBlock") { inner in
            let store = try inner.projecting()
            try await seedUser(store)
            let manager = ProjectionManager(store: store)
            let seen = Mutex<[Int?]>([])
            let projection = manager.createProjection("blocks", options: ProjectionOptions(persistBlockSize: 10))
                .initialState(0).fromStream("user-123")
                .when([
                    .on("UsernameChanged") { n, _, _ in
                        let saved = try await manager.streamPositions(of: "blocks")["user-123"]
                        seen.withLock { $0.append(saved) }
                        return n + 1
                    }
                ])
            try await projection.run(keepRunning: false)
            let saved = seen.withLock { $0 }
            try #require(saved.count == 49)
            #expect(saved[0..<9].allSatisfy { $0 == nil })
            #expect(saved[9..<19].allSatisfy { $0 == 10 })
            #expect(saved[19] == 20 && saved[29] == 30 && saved[39] == 40)
            #expect(try await manager.streamPositions(of: "blocks") == ["user-123": 50])
        },
        ConformanceCase("projections", "misconfigurationIsAnInvalidArgumentBeforeAnythingRuns") { inner in
            let store = try inner.projecting()
            let manager = ProjectionManager(store: store)
            let twice = manager.createProjection("twice").fromAll()
                .when([.on("A") { s, _, _ in s }, .on("A") { s, _, _ in s }])
            await expectError(.invalidArgument) { try await twice.run(keepRunning: false) }
            let empty = manager.createProjection("empty").fromAll().when([.on("") { s, _, _ in s }])
            await expectError(.invalidArgument) { try await empty.run(keepRunning: false) }
            let none = manager.createProjection("none").fromAll().when([])
            await expectError(.invalidArgument) { try await none.run(keepRunning: false) }
            let noStreams = manager.createQuery().fromStreams().whenAny { s, _, _ in s }
            await expectError(.invalidArgument) { try await noStreams.run() }
            let noCategory = manager.createQuery().fromCategory("").whenAny { s, _, _ in s }
            await expectError(.invalidArgument) { try await noCategory.run() }
            for options in [
                ProjectionOptions(persistBlockSize: 0), ProjectionOptions(readBatchSize: 0),
                ProjectionOptions(lockTimeout: .seconds(1), idleCheckInterval: .seconds(1)),
            ] {
                let bad = manager.createProjection("options", options: options).fromAll().whenAny { s, _, _ in s }
                await expectError(.invalidArgument) { try await bad.run(keepRunning: false) }
            }
            let badName = "no/slash\u{0}"
            let named = manager.createProjection(badName).fromAll().whenAny { s, _, _ in s }
            await expectError(.invalidArgument) { try await named.run(keepRunning: false) }
            #expect(try await manager.projectionNames().isEmpty)
        },
        ConformanceCase("projections", "linkToCopiesEventsToAnotherStreamAndContinues") { inner in
            let store = try inner.projecting()
            try await seedUser(store)
            let manager = ProjectionManager(store: store)
            func define(stopAt: Int) -> Projection<EmptyState> {
                manager.createProjection("linker").fromStream("user-123").whenAny { state, event, context in
                    try await context.linkTo("foo", event.message)
                    if event.metadata["_aggregate_version"]?.intValue == stopAt { context.stop() }
                    return state
                }
            }
            try await define(stopAt: 50).run()
            #expect(try await store.all("foo").count == 50)
            try await store.append(userEvents(51...100), to: "user-123")
            try await define(stopAt: 100).run()
            #expect(try await store.all("foo").count == 100)
        },
        ConformanceCase("projections", "emitWritesToTheProjectionsStreamWhichResetAndDeleteRemove") { inner in
            let store = try inner.projecting()
            try await store.create("user-123", events: [userEvent(1, name: "Alex")] + userEvents(2...3))
            let manager = ProjectionManager(store: store)
            let streamSeen = Mutex<StreamName?>(nil)
            let projection = manager.createProjection("test_projection").fromStream("user-123")
                .when([
                    .on("UserCreated") { state, event, context in
                        streamSeen.withLock { $0 = context.streamName }
                        #expect(context.projectionName == "test_projection")
                        try await context.emit(event.message)
                        context.stop()
                        return state
                    }
                ])
            try await projection.run()
            let emitted = try await store.all("test_projection")
            #expect(emitted.count == 1)
            #expect(emitted.first?.payload == ["name": "Alex"])
            #expect(streamSeen.withLock { $0 } == "user-123")
            #expect(projection.name == "test_projection")
            try await manager.resetProjection("test_projection")
            await expectError(.streamNotFound) { try await store.all("test_projection") }
            try await projection.run()
            #expect(try await store.all("test_projection").count == 1)
            try await manager.deleteProjection("test_projection", deleteEmittedEvents: true)
            await expectError(.streamNotFound) { try await store.all("test_projection") }
            #expect(try await manager.projectionNames().isEmpty)
            await expectError(.projectionNotFound) { try await manager.status(of: "test_projection") }
        },
        ConformanceCase("projections", "emitAppendsToAnExistingStreamAndDeleteWithoutOneDoesNotFail") { inner in
            let store = try inner.projecting()
            try await seedUser(store, count: 3)
            try await store.create("emitter", events: [userEvent(1)])
            let manager = ProjectionManager(store: store)
            let projection = manager.createProjection("emitter").fromStream("user-123")
                .whenAny { state, event, context in
                    try await context.emit(event.message.withAddedMetadata("copied", true))
                    return state
                }
            try await projection.run(keepRunning: false)
            #expect(try await store.all("emitter").count == 4)
            let quiet = manager.createProjection("quiet").fromStream("user-123").whenAny { s, _, _ in s }
            try await quiet.run(keepRunning: false)
            try await manager.deleteProjection("quiet", deleteEmittedEvents: true)
            #expect(try await manager.projectionNames() == ["emitter"])
        },
        ConformanceCase("projections", "positionsAdvanceOverEventsWithoutHandlersAndARunCanRepeat") { inner in
            let store = try inner.projecting()
            try await seedUser(store)
            let manager = ProjectionManager(store: store)
            let projection = manager.createProjection("sparse", options: ProjectionOptions(persistBlockSize: 5))
                .initialState(0).fromAll()
                .when([.on("UserCreated") { n, _, _ in n + 1 }])
            try await projection.run(keepRunning: false)
            try await projection.run(keepRunning: false)
            #expect(projection.state == 1)
            #expect(try await manager.streamPositions(of: "sparse") == ["user-123": 50])
        },
        ConformanceCase("projections", "typedHandlersDecodeDomainEvents") { inner in
            let store = try inner.projecting()
            try await store.create("account-1", events: [try EventMessage(Deposited(amount: 5)), try EventMessage(Deposited(amount: 7))])
            let manager = ProjectionManager(store: store)
            let query = manager.createQuery().initialState(0).fromCategory("account")
                .when([.on(Deposited.self) { total, deposited, _, _ in total + deposited.amount }])
            try await query.run()
            #expect(query.state == 12)
        },
        ConformanceCase("projections", "aHandlerThatThrowsKeepsTheLastSavedProgressAndReleasesTheLease") { inner in
            let store = try inner.projecting()
            try await seedUser(store)
            let manager = ProjectionManager(store: store)
            let fail = Mutex(true)
            let handled = Mutex<[Int]>([])
            let projection = manager.createProjection("fragile", options: ProjectionOptions(persistBlockSize: 1, readBatchSize: 1))
                .initialState(0).fromStream("user-123")
                .whenAny { n, event, _ in
                    if event.position == 6, fail.withLock({ $0 }) { throw HandlerStop() }
                    handled.withLock { $0.append(event.position) }
                    return n + 1
                }
            await #expect(throws: HandlerStop.self) { try await projection.run(keepRunning: true) }
            #expect(try await manager.streamPositions(of: "fragile") == ["user-123": 5])
            #expect(try await manager.state(of: "fragile") == .number("5"))
            #expect(try await manager.status(of: "fragile") == .idle)
            #expect(try await manager.record("fragile").lockedUntil == nil)
            fail.withLock { $0 = false }
            try await projection.run(keepRunning: false)
            #expect(handled.withLock { $0 } == Array(1...50))
            #expect(try await manager.state(of: "fragile") == .number("50"))
        },
        ConformanceCase("projections", "aLiveProjectionSeesEveryCommittedEventOnceWhileEightWritersAppend") { inner in
            let store = try inner.projecting()
            let manager = ProjectionManager(store: store)
            let writers = 8
            let perWriter = 25
            let seen = Mutex<[String]>([])
            let projection = manager.createProjection("$all-events", options: ProjectionOptions(persistBlockSize: 7))
                .initialState(0).fromAll()
                .whenAny { n, event, _ in
                    seen.withLock { $0.append("\(event.streamName)#\(event.position)") }
                    return n + 1
                }
            let runner = Task { try await projection.run(keepRunning: true) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        let stream = try StreamName("writer-\(writer)")
                        try await store.create(stream)
                        for version in 1...perWriter {
                            try await store.append([userEvent(version)], to: stream)
                        }
                    }
                }
                try await group.waitForAll()
            }
            try await eventually("the projection saw every event") { seen.withLock { $0.count } >= writers * perWriter }
            projection.stop()
            try await runner.value
            let events = seen.withLock { $0 }
            #expect(events.count == writers * perWriter)
            #expect(Set(events).count == events.count)
            for writer in 0..<writers {
                #expect(events.filter { $0.hasPrefix("writer-\(writer)#") } == (1...perWriter).map { "writer-\(writer)#\($0)" })
            }
            #expect(try await manager.state(of: "$all-events") == .number(String(writers * perWriter)))
        },
        ConformanceCase("projections", "aLiveRunnerStopsAtOnceWhenAskedAndWhenItsTaskIsCancelled") { inner in
            let store = try inner.projecting()
            try await seedUser(store, count: 3)
            let manager = ProjectionManager(store: store)
            let projection = manager.createProjection("live").initialState(0).fromAll().whenAny { n, _, _ in n + 1 }
            let runner = Task { try await projection.run() }
            try await eventually("the runner caught up") { try await manager.streamPositions(of: "live") == ["user-123": 3] }
            try await store.append(userEvents(4...5), to: "user-123")
            try await eventually("the runner followed") { try await manager.streamPositions(of: "live") == ["user-123": 5] }
            projection.stop()
            try await runner.value
            #expect(try await manager.status(of: "live") == .idle)
            let cancelled = Task { try await projection.run() }
            try await eventually("the runner holds the lease") { try await manager.status(of: "live") == .running }
            cancelled.cancel()
            try await cancelled.value
            #expect(try await manager.status(of: "live") == .idle)
            #expect(try await manager.record("live").lockedUntil == nil)
        },
    ]
}

struct Deposited: DomainEvent, Equatable {
    static let messageName = "Deposited"
    var amount: Int
}
