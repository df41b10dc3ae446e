@_spi(Backend) import EventStore
import Foundation
import Logging
import Synchronization
import Testing

/// Marks a projection's row as leased by a runner that is not here (one that crashed a moment ago, say).
private func holdLease(_ store: any ProjectionStore, _ name: String, for duration: Duration = .seconds(60)) async throws {
    try await store.changeProjection(named: name) { row in
        row?.leaseOwner = "another-runner"
        row?.lockedUntil = Timestamp.microseconds(Date()) + Int64(duration.components.seconds) * 1_000_000
        return ProjectionChange(())
    }
}

/// The projection prooph's remote-control tests use: counts `UsernameChanged` in `user-123`.
/// A lease no run outlasts, however slow the machine: a case about commands to a running projection must
/// not turn, under load, into one about an expired lease (the last cases here are about those).
private let heldLease: Duration = .seconds(120)

private func counting(
    _ manager: ProjectionManager, _ name: String = "test_projection",
    options: ProjectionOptions = ProjectionOptions(lockTimeout: heldLease),
    calls: Calls, onEvent: @escaping @Sendable (Int) async throws -> Void = { _ in }
) -> Projection<Int> {
    manager.createProjection(name, options: options).initialState(0).fromStream("user-123")
        .when([
            .on("UsernameChanged") { n, _, _ in
                try await onEvent(calls.bump())
                return n + 1
            }
        ])
}

/// A projecting store whose `user-123` holds 50 events (49 `UsernameChanged`), its manager, and a fresh
/// call counter: where most cases here start.
private func fiftyUserEvents(_ inner: any EventStore) async throws -> (any ProjectionStore, ProjectionManager, Calls) {
    let store = try inner.projecting()
    try await store.create("user-123", events: userEvents(1...50))
    return (store, ProjectionManager(store: store), Calls())
}

extension EventStoreConformance {
    static let remoteControlCases: [ConformanceCase] = [
        ConformanceCase("projection control", "aSecondRunnerOfTheSameNameGetsProjectionRunning") { inner in
            let store = try inner.projecting()
            try await store.create("user-123", events: userEvents(1...3))
            let manager = ProjectionManager(store: store)
            let first = counting(manager, calls: Calls())
            let runner = Task { try await first.run(keepRunning: true) }
            try await eventually("the first runner holds the lease") { try await manager.status(of: "test_projection") == .running }
            let second = counting(manager, calls: Calls())
            let error = await expectError(.projectionRunning) { try await second.run(keepRunning: false) }
            #expect(error?.projectionName == "test_projection")
            await expectError(.projectionRunning) { try await first.run(keepRunning: false) }
            first.stop()
            try await runner.value
            try await second.run(keepRunning: false)
            #expect(second.state == 2)
        },
        ConformanceCase("projection control", "deleteWhileIdleIsDoneAtOnceAndTheNextRunStartsOver") { inner in
            let (store, manager, calls) = try await fiftyUserEvents(inner)
            let projection = counting(manager, calls: calls)
            try await projection.run(keepRunning: false)
            try await manager.deleteProjection("test_projection", deleteEmittedEvents: false)
            #expect(try await manager.projectionNames().isEmpty)
            await expectError(.projectionNotFound) { try await manager.state(of: "test_projection") }
            await expectError(.projectionNotFound) {
                try await manager.deleteProjection("test_projection", deleteEmittedEvents: false)
            }
            try await projection.run(keepRunning: false)
            #expect(calls.count == 98)
            #expect(projection.state == 49)
        },
        ConformanceCase("projection control", "deleteDuringARunIsObeyedAtTheNextBlock") { inner in
            let store = try inner.projecting()
            try await store.create("user-123", events: userEvents(1...50))
            // As the projection would have made it (its marker on the stream and its events): delete with
            // emitted events removes only streams the projection created and alone wrote to.
            let marker: Metadata = [MetadataKey.projection: "test_projection"]
            try await store.create("test_projection", metadata: marker, events: [userEvent(1, metadata: marker)])
            let manager = ProjectionManager(store: store)
            for withEmitted in [false, true] {
                let calls = Calls()
                let projection = counting(manager, options: ProjectionOptions(persistBlockSize: 5, lockTimeout: heldLease), calls: calls) { call in
                    if call == 1 { try await manager.deleteProjection("test_projection", deleteEmittedEvents: withEmitted) }
                }
                try await projection.run(keepRunning: true)
                #expect(calls.count == 4)
                #expect(projection.state == 0)
                #expect(try await manager.projectionNames().isEmpty)
                #expect(try await store.hasStream("test_projection") == !withEmitted)
            }
        },
        ConformanceCase("projection control", "resetWhileIdleIsDoneAtOnceAndTheNextRunReplaysEverything") { inner in
            let (store, manager, calls) = try await fiftyUserEvents(inner)
            let projection = counting(manager, calls: calls)
            try await projection.run(keepRunning: false)
            try await manager.resetProjection("test_projection")
            #expect(try await manager.state(of: "test_projection") == .object([]))
            #expect(try await manager.streamPositions(of: "test_projection").isEmpty)
            #expect(try await manager.status(of: "test_projection") == .idle)
            try await store.append(userEvents(51...100), to: "user-123")
            try await projection.run(keepRunning: false)
            #expect(projection.state == 99)
            #expect(calls.count == 148)
        },
        ConformanceCase("projection control", "resetDuringARunIsDoneAtTheEndOfThePass") { inner in
            let (store, manager, calls) = try await fiftyUserEvents(inner)
            let projection = counting(manager, calls: calls) { call in
                if call == 1 { try await manager.resetProjection("test_projection") }
            }
            try await projection.run(keepRunning: false)
            #expect(calls.count == 49)
            #expect(try await manager.streamPositions(of: "test_projection").isEmpty)
            try await projection.run(keepRunning: false)
            #expect(calls.count == 98)
            #expect(projection.state == 49)
        },
        ConformanceCase("projection control", "aResetDoneAfterARunnersLeaseExpiredIsNotUndoneByThatRunner") { inner in
            let (store, manager, _) = try await fiftyUserEvents(inner)
            let options = ProjectionOptions(lockTimeout: .milliseconds(400), idleCheckInterval: .milliseconds(100))
            let projection = counting(manager, options: options, calls: Calls()) { call in
                guard call == 1 else { return }
                // The runner stalls past its lease; the manager finds no runner and resets at once.
                try await Task.sleep(for: .milliseconds(800))
                try await manager.resetProjection("test_projection")
            }
            let log = LogRecorder()
            await expectError(.projectionLeaseLost) { try await projection.run(keepRunning: false, logger: log.logger()) }
            // The runner says, once, that it stopped for its lost lease.
            let lost = log.entries(.warning, containing: "the projection stopped")
            #expect(lost.count == 1, "\(log.all.map(\.message))")
            #expect(lost.first?.metadata["eventstore.projection"] == "test_projection")
            #expect(try await manager.streamPositions(of: "test_projection").isEmpty)
            #expect(try await manager.state(of: "test_projection") == .object([]))
            #expect(try await manager.status(of: "test_projection") == .idle)
        },
        ConformanceCase("projection control", "stopWhileIdleMakesTheNextRunStopAtItsStartKeepingPositions") { inner in
            let (store, manager, calls) = try await fiftyUserEvents(inner)
            let projection = counting(manager, calls: calls)
            try await projection.run(keepRunning: false)
            try await manager.stopProjection("test_projection")
            #expect(try await manager.status(of: "test_projection") == .stopping)
            try await store.append(userEvents(51...60), to: "user-123")
            try await projection.run(keepRunning: true)
            #expect(calls.count == 49)
            #expect(projection.state == 49)
            #expect(try await manager.streamPositions(of: "test_projection") == ["user-123": 50])
            #expect(try await manager.status(of: "test_projection") == .idle)
            try await projection.run(keepRunning: false)
            #expect(projection.state == 59)
        },
        ConformanceCase("projection control", "stopDuringARunIsObeyedAndNothingIsProcessedTwice") { inner in
            let (store, manager, calls) = try await fiftyUserEvents(inner)
            let projection = counting(manager, calls: calls) { call in
                if call == 1 { try await manager.stopProjection("test_projection") }
            }
            try await projection.run(keepRunning: true)
            #expect(calls.count == 49)
            try await projection.run(keepRunning: false)
            #expect(calls.count == 49)
            #expect(projection.state == 49)
        },
        ConformanceCase("projection control", "aResetWhileRunningLiveStartsOverAndKeepsGoing") { inner in
            let (store, manager, calls) = try await fiftyUserEvents(inner)
            let projection = manager.createProjection(
                "test_projection", options: ProjectionOptions(persistBlockSize: 1, lockTimeout: heldLease))
                .initialState(0).fromStream("user-123")
                .whenAny { n, _, context in
                    let call = calls.bump()
                    if call == 20 { try await manager.resetProjection("test_projection") }
                    if call == 70 { context.stop() }
                    return n + 1
                }
            try await projection.run(keepRunning: true)
            #expect(calls.count == 70)
            #expect(projection.state == 50)
        },
        ConformanceCase("projection control", "commandsForALeasedProjectionWaitAsStatusesAndMayBeRepeated") { inner in
            let store = try inner.projecting()
            try await store.create("user-123", events: userEvents(1...5))
            let manager = ProjectionManager(store: store)
            let projection = counting(manager, calls: Calls())
            try await projection.run(keepRunning: false)
            try await holdLease(store, "test_projection")
            await expectError(.projectionRunning) { try await projection.run(keepRunning: false) }
            try await manager.stopProjection("test_projection")
            try await manager.stopProjection("test_projection")
            #expect(try await manager.status(of: "test_projection") == .stopping)
            try await manager.resetProjection("test_projection")
            try await manager.resetProjection("test_projection")
            #expect(try await manager.status(of: "test_projection") == .resetting)
            #expect(try await manager.streamPositions(of: "test_projection") == ["user-123": 5])
            try await manager.deleteProjection("test_projection", deleteEmittedEvents: false)
            try await manager.deleteProjection("test_projection", deleteEmittedEvents: true)
            #expect(try await manager.status(of: "test_projection") == .deletingInclEmittedEvents)
            #expect(try await manager.projectionNames() == ["test_projection"])
        },
        ConformanceCase("projection control", "aWaitingLiveRunnerKeepsRenewingItsLease") { inner in
            let store = try inner.projecting()
            try await store.create("user-123", events: userEvents(1...3))
            let manager = ProjectionManager(store: store)
            let options = ProjectionOptions(lockTimeout: .seconds(4), idleCheckInterval: .milliseconds(100))
            let live = manager.createProjection("renewed", options: options).initialState(0).fromStream("user-123")
                .whenAny { n, _, _ in n + 1 }
            let runner = Task { try await live.run(keepRunning: true) }
            try await eventually("the runner caught up") { try await manager.state(of: "renewed") == .number("3") }
            let first = try #require(try await manager.record("renewed").lockedUntil)
            // The lease moves forward while the runner waits for events.
            try await eventually("the lease was renewed") {
                try await manager.record("renewed").lockedUntil ?? 0 > first + 1_000_000
            }
            let second = manager.createProjection("renewed", options: options).initialState(0).fromStream("user-123")
                .whenAny { n, _, _ in n + 1 }
            await expectError(.projectionRunning) { try await second.run(keepRunning: false) }
            live.stop()
            try await runner.value
        },
        ConformanceCase("projection control", "aRunnerWhoseLeaseWasTakenOverFailsWithoutWriting") { inner in
            let store = try inner.projecting()
            try await store.create("user-123", events: userEvents(1...3))
            let manager = ProjectionManager(store: store)
            let options = ProjectionOptions(lockTimeout: .milliseconds(300), idleCheckInterval: .milliseconds(100))
            let (slowInHandler, fastFinished) = (Calls(), Calls())
            let slow = manager.createProjection("contested", options: options).initialState(0).fromStream("user-123")
                .whenAny { n, _, _ in
                    // Held here until the fast runner has taken over and finished: awake, this one renews its
                    // lease (by time, after each event). A fixed sleep (3 s) was not always long enough on a
                    // busy machine, and the lease could be seen expired before this runner even got here.
                    slowInHandler.bump()
                    try await eventually("the fast runner finished") { fastFinished.count > 0 }
                    return n + 100
                }
            let runner = Task { try await slow.run(keepRunning: false) }
            try await eventually("the slow runner waits in its handler and its lease expired") {
                guard slowInHandler.count > 0, let record = try await store.projectionRecord(named: "contested"),
                    let until = record.lockedUntil
                else { return false }
                return until < Timestamp.microseconds(Date())
            }
            let fast = manager.createProjection("contested", options: options).initialState(0).fromStream("user-123")
                .whenAny { n, _, _ in n + 1 }
            defer { fastFinished.bump() }
            try await fast.run(keepRunning: false)
            fastFinished.bump()
            await expectError(.projectionLeaseLost) { try await runner.value }
            #expect(try await manager.state(of: "contested") == .number("3"))
        },
    ]

    static let readModelCases: [ConformanceCase] = [
        ConformanceCase("read models", "handlersStackOperationsThatArePersistedAndResetClears") { inner in
            let store = try inner.projecting()
            try await store.create("user-123", events: [userEvent(1, name: "Alex"), userEvent(2, name: "Sascha"), userEvent(3, name: "Oliver")])
            let manager = ProjectionManager(store: store)
            let readModel = UsersReadModel()
            let projection = manager.createReadModelProjection("users", readModel: readModel)
                .fromStream("user-123")
                .when([
                    .on("UserCreated") { state, event, context in
                        context.readModel.stack(.insert(id: "123", name: event.payload.jsonText))
                        return state
                    },
                    .on("UsernameChanged") { state, event, context in
                        let name = try event.payload.value()["name"]
                        guard case let .string(name) = name else { return state }
                        context.readModel.stack(.update(id: "123", name: name))
                        if name == "Sascha" { context.stop() }
                        return state
                    },
                ])
            #expect(projection.name == "users")
            try await projection.run(keepRunning: true)
            #expect(try await readModel.isInitialized())
            #expect(readModel.users == ["123": "Sascha"])
            #expect(try await manager.streamPositions(of: "users") == ["user-123": 2])
            try await projection.run(keepRunning: false)
            #expect(readModel.users == ["123": "Oliver"])
            try await manager.resetProjection("users")
            #expect(readModel.users.isEmpty)
            #expect(try await manager.record("users").pendingReadModelAction == nil)
            // From the start again: the handler stops at "Sascha" once more.
            try await projection.run(keepRunning: false)
            #expect(readModel.users == ["123": "Sascha"])
        },
        ConformanceCase("read models", "initialStateMayStackAndResetAlwaysResetsTheReadModel") { inner in
            let store = try inner.projecting()
            try await store.create("user-123", events: [userEvent(1, name: "Alex"), userEvent(2, name: "Sascha")])
            let manager = ProjectionManager(store: store)
            let readModel = UsersReadModel()
            let projection = manager.createReadModelProjection("users", readModel: readModel)
                .initialState { context in
                    context.readModel.stack(.insert(id: "1", name: nil))
                    return 7
                }
                .fromStream("user-123")
                .whenAny { n, event, context in
                    if case let .string(name)? = try event.payload.value()["name"] {
                        context.readModel.stack(.update(id: "1", name: name))
                    }
                    return n + 1
                }
            try await projection.run(keepRunning: false)
            #expect(readModel.users == ["1": "Sascha"])
            #expect(projection.state == 9)
            let resetsBefore = readModel.tables.withLock { $0.resets }
            try await manager.resetProjection("users")
            #expect(readModel.tables.withLock { $0.resets } == resetsBefore + 1)
        },
        ConformanceCase("read models", "deleteWithEmittedEventsDeletesTheReadModel") { inner in
            let store = try inner.projecting()
            try await store.create("user-123", events: userEvents(1...3))
            let manager = ProjectionManager(store: store)
            let readModel = UsersReadModel()
            let projection = manager.createReadModelProjection("users", readModel: readModel).fromStream("user-123")
                .whenAny { state, event, context in
                    context.readModel.stack(.insert(id: "\(event.position)", name: nil))
                    return state
                }
            try await projection.run(keepRunning: false)
            #expect(readModel.users.count == 3)
            try await manager.deleteProjection("users", deleteEmittedEvents: false)
            #expect(readModel.users.count == 3)
            try await projection.run(keepRunning: false)
            try await manager.deleteProjection("users", deleteEmittedEvents: true)
            #expect(try await !readModel.isInitialized())
            #expect(readModel.users.isEmpty)
            #expect(try await manager.projectionNames().isEmpty)
            #expect(try await store.projectionRecord(named: "users") == nil)
        },
        ConformanceCase("read models", "aManagerWithoutTheReadModelLeavesItsResetAndDeleteToTheNextRunner") { inner in
            let store = try inner.projecting()
            try await store.create("user-123", events: userEvents(1...3))
            let readModel = UsersReadModel()
            let projection = ProjectionManager(store: store).createReadModelProjection("users", readModel: readModel)
                .fromStream("user-123")
                .whenAny { state, event, context in
                    context.readModel.stack(.insert(id: "\(event.position)", name: nil))
                    return state
                }
            try await projection.run(keepRunning: false)
            // Another process's manager (the command line, the HTTP API) cannot reach the read model.
            let remote = ProjectionManager(store: store)
            try await remote.resetProjection("users")
            #expect(readModel.users.count == 3)
            #expect(try await remote.record("users").pendingReadModelAction == .reset)
            try await store.append(userEvents(4...4), to: "user-123")
            try await projection.run(keepRunning: false)
            #expect(readModel.tables.withLock { $0.resets } == 1)
            #expect(readModel.users.count == 4)
            try await remote.deleteProjection("users", deleteEmittedEvents: true)
            #expect(try await remote.projectionNames().isEmpty)
            await expectError(.projectionNotFound) { try await remote.status(of: "users") }
            #expect(readModel.users.count == 4)
            try await projection.run(keepRunning: false)
            #expect(readModel.tables.withLock { $0.deletes } == 1)
            #expect(readModel.users.count == 4)
            #expect(try await remote.record("users").pendingReadModelAction == nil)
        },
        ConformanceCase("read models", "aSecondRunnerInstanceContinuesFromTheSavedPosition") { inner in
            let store = try inner.projecting()
            try await store.create("user-123", events: userEvents(1...100))
            let manager = ProjectionManager(store: store)
            let readModel = UsersReadModel()
            func define() -> ReadModelProjection<UsersReadModel, Int> {
                manager.createReadModelProjection("users", readModel: readModel).initialState(0).fromStream("user-123")
                    .whenAny { n, event, context in
                        context.readModel.stack(.update(id: "1", name: "v\(event.position)"))
                        if event.position == 50 { context.stop() }
                        return n + 1
                    }
            }
            try await define().run()
            #expect(readModel.users == ["1": "v50"])
            let second = define()
            try await second.run(keepRunning: false)
            #expect(second.state == 100)
            #expect(readModel.users == ["1": "v100"])
        },
    ]

    static let managerCases: [ConformanceCase] = [
        ConformanceCase("projection manager", "listsNamesSortedWithFilterRegexLimitAndOffset") { inner in
            let store = try inner.projecting()
            let manager = ProjectionManager(store: store)
            let names = (1...50).map { "user-\($0)" } + (1...20).map { "rand-\($0)" }
            for name in names {
                try await manager.createProjection(name).fromAll().whenAny { s, _, _ in s }.run(keepRunning: false)
            }
            #expect(try await manager.projectionNames().count == 20)
            #expect(try await manager.projectionNames(limit: 200).count == 70)
            #expect(try await manager.projectionNames(limit: 20, offset: 100).isEmpty)
            #expect(try await manager.projectionNames(limit: 10, offset: 10).count == 10)
            #expect(try await manager.projectionNames(limit: 10, offset: 65).count == 5)
            #expect(try await manager.projectionNames().allSatisfy { $0.hasPrefix("rand-") })
            #expect(try await manager.projectionNames(limit: 3) == ["rand-1", "rand-10", "rand-11"])
            #expect(try await manager.projectionNames(.exact("user-1")) == ["user-1"])
            #expect(try await manager.projectionNames(.exact("foo")).isEmpty)
            #expect(try await manager.projectionNames(.exact("user-1"), limit: 10, offset: 100).isEmpty)
            #expect(try await manager.projectionNames(.regex("ser-"), limit: 30).count == 30)
            #expect(try await manager.projectionNames(.regex("n-")).isEmpty)
            #expect(try await manager.projectionNames(.regex("^user-1"), limit: 100).count == 11)
            #expect(try await manager.projectionNames(.regex("rand"), limit: 100, offset: 15).count == 5)
            await expectError(.invalidArgument) { try await manager.projectionNames(limit: 0) }
            await expectError(.invalidArgument) { try await manager.projectionNames(offset: -1) }
            await expectError(.invalidArgument) { try await manager.projectionNames(.regex("user"), limit: -1) }
            await expectError(.invalidArgument) { try await manager.projectionNames(.regex("invalid)")) }
        },
        ConformanceCase("projection manager", "unknownProjectionsAreNotFoundAndAFreshOneReportsEmptyState") { inner in
            let store = try inner.projecting()
            let manager = ProjectionManager(store: store)
            for operation in [
                { _ = try await manager.status(of: "unknown") },
                { _ = try await manager.streamPositions(of: "unknown") },
                { _ = try await manager.state(of: "unknown") },
                { try await manager.deleteProjection("unknown", deleteEmittedEvents: false) },
                { try await manager.resetProjection("unknown") },
                { try await manager.stopProjection("unknown") },
            ] as [@Sendable () async throws -> Void] {
                let error = await expectError(.projectionNotFound) { try await operation() }
                #expect(error?.projectionName == "unknown")
            }
            let projection = manager.createProjection("fresh").fromAll().whenAny { s, _, _ in s }
            #expect(projection.state == EmptyState())
            try await projection.run(keepRunning: false)
            #expect(try await manager.status(of: "fresh") == .idle)
            #expect(try await manager.streamPositions(of: "fresh").isEmpty)
            #expect(try await manager.state(of: "fresh") == .object([]))
        },
    ]
}
