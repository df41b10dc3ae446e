import EventStore
import Foundation
import Testing

struct AccountOpened: DomainEvent, Equatable {
    static let messageName = "AccountOpened"
    var owner: String
    var limit: Decimal
    var openedAt: Date
    var tags: [String]
}

struct AccountClosed: DomainEvent {
    static let messageName = "AccountClosed"
    var reason: String
}

extension EventStoreConformance {
    static let typedEventCases: [ConformanceCase] = [
        ConformanceCase("typed events", "aCodableEventRoundTripsThroughTheStore") { store in
            let opened = AccountOpened(
                owner: "Alice", limit: Decimal(string: "1000.50") ?? 0,
                openedAt: Date(timeIntervalSince1970: 1_800_000_000.25), tags: ["gold", "ü"])
            let message = try EventMessage(opened, metadata: ["_aggregate_id": "acc-1"])
            #expect(message.messageName == "AccountOpened")
            try await store.create("account-1", events: [message])
            let read = try #require(try await store.all("account-1").first)
            #expect(try read.decode(AccountOpened.self) == opened)
            #expect(read.metadata["_aggregate_id"] == "acc-1")
        },
        ConformanceCase("typed events", "decodingAsTheWrongTypeIsADecodingError") { store in
            try await store.create("account-2", events: [try EventMessage(AccountClosed(reason: "done"))])
            let read = try #require(try await store.all("account-2").first)
            await expectError(.decodingFailed) { try read.decode(AccountOpened.self) }
            let renamed = EventMessage(messageName: AccountOpened.messageName, payload: ["owner": 1])
            await expectError(.decodingFailed) { try renamed.decode(AccountOpened.self) }
        },
    ]
}
