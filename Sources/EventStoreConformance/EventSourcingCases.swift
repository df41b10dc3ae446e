@_spi(Backend) import EventSourcing
import EventStore
import Foundation
import Testing

struct AccountWasOpened: DomainEvent {
    static let messageName = "AccountWasOpened"
    var owner: String
}

struct MoneyWasDeposited: DomainEvent {
    static let messageName = "MoneyWasDeposited"
    var amount: Int
}

struct AccountWasFrozen: DomainEvent {
    static let messageName = "AccountWasFrozen"
}

struct Account: AggregateRoot, Equatable {
    static let aggregateType = "account"
    static let eventTypes: [any DomainEvent.Type] = [AccountWasOpened.self, MoneyWasDeposited.self]
    let id: String
    var owner = ""
    var balance = 0
    var deposits = 0

    init(id: String) { self.id = id }

    mutating func apply(_ event: any DomainEvent) throws {
        switch event {
        case let opened as AccountWasOpened: owner = opened.owner
        case let deposited as MoneyWasDeposited:
            balance += deposited.amount
            deposits += 1
        default: throw AggregateError.unknownEvent(event)
        }
    }
}

extension EventStore {
    func snapshots(sourceLocation: SourceLocation = #_sourceLocation) throws -> any SnapshotStore {
        try #require(self as? any SnapshotStore, "the store keeps no snapshots", sourceLocation: sourceLocation)
    }
}

extension EventStoreConformance {
    static let eventSourcingCases: [ConformanceCase] = [
        ConformanceCase("event sourcing", "recordingAssignsVersionsAndPendingEventsAreTakenOnce") { _ in
            var account = Aggregate<Account>(id: "a1")
            try account.record(AccountWasOpened(owner: "Ada"))
            try account.record(MoneyWasDeposited(amount: 5))
            #expect(account.version == 2)
            #expect(account.root.balance == 5)
            let taken = account.takePendingEvents()
            #expect(taken.map(\.version) == [1, 2])
            #expect(account.takePendingEvents().isEmpty)
            #expect(throws: AggregateError.self) { try account.record(AccountWasFrozen()) }
            #expect(account.version == 2)
        },
        ConformanceCase("event sourcing", "aSavedAggregateReloadsWithTheSameState") { store in
            let repository = AggregateRepository<Account>(store: store, streamMetadata: ["kind": "account"])
            #expect(try await repository.load("a1") == nil)
            var account = Aggregate<Account>(id: "a1")
            try account.record(AccountWasOpened(owner: "Ada"))
            try account.record(MoneyWasDeposited(amount: 10))
            try await repository.save(&account)
            #expect(account.pendingEvents.isEmpty)
            try account.record(MoneyWasDeposited(amount: 5))
            try await repository.save(&account)
            let loaded = try #require(try await repository.load("a1"))
            #expect(loaded.root == account.root)
            #expect(loaded.version == 3)
            let stored = try await store.all("account-a1")
            #expect(stored.map { $0.metadata["_aggregate_version"] } == [1, 2, 3])
            #expect(stored.allSatisfy { $0.metadata["_aggregate_type"] == "account" && $0.metadata["_aggregate_id"] == "a1" })
            #expect(try await store.streamMetadata(of: "account-a1") == ["kind": "account"])
            var unchanged = loaded
            try await repository.save(&unchanged)
            #expect(try await store.all("account-a1").count == 3)
        },
        ConformanceCase("event sourcing", "aggregatesCanShareOneStreamPerType") { store in
            let repository = AggregateRepository<Account>(store: store, layout: .streamPerAggregateType("accounts"))
            try await repository.update("x") { try $0.record(AccountWasOpened(owner: "X")) }
            try await repository.update("y") { try $0.record(AccountWasOpened(owner: "Y")) }
            try await repository.update("x") { try $0.record(MoneyWasDeposited(amount: 7)) }
            #expect(try await repository.load("x")?.root.balance == 7)
            #expect(try await repository.load("x")?.version == 2)
            #expect(try await repository.load("y")?.root.owner == "Y")
            #expect(try await store.all("accounts").count == 3)
            let custom = AggregateRepository<Account>(store: store, layout: .custom { try StreamName("bank-account-\($0)") })
            try await custom.update("z") { try $0.record(AccountWasOpened(owner: "Z")) }
            #expect(try await store.hasStream("bank-account-z"))
        },
        ConformanceCase("event sourcing", "twoWritersOfTheSameVersionNeverBothSucceed") { store in
            for layout in [AggregateRepository<Account>.StreamLayout.streamPerAggregate, .streamPerAggregateType("shared-accounts")] {
                let repository = AggregateRepository<Account>(store: store, layout: layout)
                try await repository.update("race") { try $0.record(AccountWasOpened(owner: "R")) }
                var first = try #require(try await repository.load("race"))
                var second = try #require(try await repository.load("race"))
                try first.record(MoneyWasDeposited(amount: 1))
                try second.record(MoneyWasDeposited(amount: 2))
                try await repository.save(&first)
                do {
                    try await repository.save(&second)
                    Issue.record("the second writer of version 2 succeeded")
                } catch let error as EventStoreError {
                    #expect(error.code.isConflict, "\(error)")
                }
                #expect(second.pendingEvents.count == 1)
                #expect(try await repository.load("race")?.root.balance == 1)
            }
        },
        ConformanceCase("event sourcing", "theRetryHelperResolvesARace") { store in
            let repository = AggregateRepository<Account>(store: store)
            try await repository.update("retry") { try $0.record(AccountWasOpened(owner: "R")) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for amount in 1...4 {
                    group.addTask {
                        try await repository.update("retry", maxAttempts: 10) { try $0.record(MoneyWasDeposited(amount: amount)) }
                    }
                }
                try await group.waitForAll()
            }
            let account = try #require(try await repository.load("retry"))
            #expect(account.root.balance == 10)
            #expect(account.version == 5)
            await #expect(throws: EventStoreError.self) {
                try await repository.update("nobody", createIfMissing: false) { try $0.record(MoneyWasDeposited(amount: 1)) }
            }
        },
        ConformanceCase("event sourcing", "snapshotPlusTailReplaysToTheSameStateAsFullReplay", settings: StoreSettings(readBatchSize: 500)) {
            store in
            let snapshots = try store.snapshots()
            let withSnapshots = AggregateRepository<Account>(store: store, snapshotStore: snapshots, snapshotEvery: 1_000)
            let plain = AggregateRepository<Account>(store: store)
            var account = Aggregate<Account>(id: "big")
            try account.record(AccountWasOpened(owner: "B"))
            for batch in 0..<10 {
                for i in 0..<(batch == 0 ? 999 : 1_000) { try account.record(MoneyWasDeposited(amount: i % 7)) }
                try await withSnapshots.save(&account)
            }
            try account.record(MoneyWasDeposited(amount: 3))
            try await withSnapshots.save(&account)
            #expect(account.version == 10_001)
            let snapshot = try #require(try await snapshots.snapshot(ofType: "account", id: "big"))
            #expect(snapshot.lastVersion == 10_000)
            let fromSnapshot = try #require(try await withSnapshots.load("big"))
            let fromEvents = try #require(try await plain.load("big"))
            #expect(fromSnapshot.root == fromEvents.root)
            #expect(fromSnapshot.version == fromEvents.version)
        },
        ConformanceCase("event sourcing", "aDeletedAggregateIsNeverLoadedFromItsSnapshot") { store in
            let snapshots = try store.snapshots()
            for layout in [AggregateRepository<Account>.StreamLayout.streamPerAggregate, .streamPerAggregateType("accounts-all")] {
                let repository = AggregateRepository<Account>(store: store, layout: layout, snapshotStore: snapshots, snapshotEvery: 2)
                try await repository.update("gone") { try $0.record(AccountWasOpened(owner: "G")) }
                try await repository.update("gone") { try $0.record(MoneyWasDeposited(amount: 1)) }
                try await repository.update("gone") { try $0.record(MoneyWasDeposited(amount: 2)) }
                #expect(try await snapshots.snapshot(ofType: "account", id: "gone")?.lastVersion == 2)
                try await store.delete(try repository.streamName(for: "gone"))
                #expect(try await repository.load("gone") == nil, "\(layout)")
                try await snapshots.removeAll(ofType: "account")
            }
        },
        ConformanceCase("event sourcing", "aStreamWrittenAgainAfterADeleteIsNotReadFromTheOldSnapshot") { store in
            let snapshots = try store.snapshots()
            for layout in [AggregateRepository<Account>.StreamLayout.streamPerAggregate, .streamPerAggregateType("accounts-all")] {
                let repository = AggregateRepository<Account>(store: store, layout: layout, snapshotStore: snapshots, snapshotEvery: 2)
                let plain = AggregateRepository<Account>(store: store, layout: layout)
                try await repository.update("again") { try $0.record(AccountWasOpened(owner: "First")) }
                try await repository.update("again") { try $0.record(MoneyWasDeposited(amount: 100)) }
                #expect(try await snapshots.snapshot(ofType: "account", id: "again")?.lastVersion == 2)
                try await store.delete(try repository.streamName(for: "again"))
                // The new life of the aggregate, written past the old snapshot's version.
                try await plain.update("again") {
                    try $0.record(AccountWasOpened(owner: "Second"))
                    try $0.record(MoneyWasDeposited(amount: 1))
                    try $0.record(MoneyWasDeposited(amount: 2))
                }
                let loaded = try #require(try await repository.load("again"))
                #expect(loaded.root.owner == "Second", "\(layout)")
                #expect(loaded.root.balance == 3)
                #expect(loaded.version == 3)
                // Saving from it works (it expects version 3, not the old snapshot's 2).
                var next = loaded
                try next.record(MoneyWasDeposited(amount: 4))
                try await repository.save(&next)
                #expect(try await plain.load("again")?.root.balance == 7)
                try await store.delete(try repository.streamName(for: "again"))
                try await snapshots.removeAll(ofType: "account")
            }
        },
        ConformanceCase("event sourcing", "aSnapshotThatNoLongerDecodesIsIgnored") { store in
            let snapshots = try store.snapshots()
            let repository = AggregateRepository<Account>(store: store, snapshotStore: snapshots, snapshotEvery: 1)
            try await repository.update("old") { try $0.record(AccountWasOpened(owner: "O")) }
            try await repository.update("old") { try $0.record(MoneyWasDeposited(amount: 4)) }
            try await snapshots.save([try Snapshot(aggregateType: "account", aggregateID: "old", lastVersion: 2, state: ["format": "v0"])])
            let loaded = try #require(try await repository.load("old"))
            #expect(loaded.root.balance == 4)
            #expect(loaded.version == 2)
        },
        ConformanceCase("snapshots", "theLatestSnapshotPerAggregateIsKept") { store in
            let snapshots = try store.snapshots()
            #expect(try await snapshots.snapshot(ofType: "account", id: "s1") == nil)
            let first = try Snapshot(aggregateType: "account", aggregateID: "s1", lastVersion: 3, state: ["balance": 3])
            let other = try Snapshot(aggregateType: "account", aggregateID: "s2", lastVersion: 1, state: ["balance": 1.0])
            let user = try Snapshot(aggregateType: "user", aggregateID: "s1", lastVersion: 9, state: [:])
            try await snapshots.save([first, other, user])
            #expect(try await snapshots.snapshot(ofType: "account", id: "s1") == first)
            let second = try Snapshot(aggregateType: "account", aggregateID: "s1", lastVersion: 7, state: ["balance": 7])
            try await snapshots.save([second])
            #expect(try await snapshots.snapshot(ofType: "account", id: "s1") == second)
            #expect(try await snapshots.snapshot(ofType: "account", id: "s2")?.state.jsonText == "{\"balance\":1.0}")
            try await snapshots.removeAll(ofType: "account")
            #expect(try await snapshots.snapshot(ofType: "account", id: "s1") == nil)
            #expect(try await snapshots.snapshot(ofType: "user", id: "s1") == user)
            #expect(throws: EventStoreError.self) { try Snapshot(aggregateType: "", aggregateID: "x", lastVersion: 1, state: [:]) }
            #expect(throws: EventStoreError.self) { try Snapshot(aggregateType: "a", aggregateID: "x", lastVersion: 0, state: [:]) }
        },
    ]
}
