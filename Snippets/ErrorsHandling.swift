// Telling failures apart by their code, and retrying only what may pass.
import EventStore

// snippet.hide
let store = InMemoryEventStore()
try await store.create("account-1", events: [EventMessage(messageName: "AccountOpened")])
// snippet.show

// snippet.codes
do {
    try await store.append(EventMessage(messageName: "Deposited"), to: "account-1", expectedVersion: .exact(0))
    preconditionFailure("the account is at version 1")
} catch let error as EventStoreError {
    switch error.code {
    case .wrongExpectedVersion:
        precondition(error.expectedVersion == .exact(0) && error.actualVersion == 1)
    case .streamNotFound, .streamDeleted:
        preconditionFailure("the account exists")
    case let code where code.isTransient:
        preconditionFailure("the in-memory store has no database to lose")
    default:  // new codes may come: keep a default
        preconditionFailure("\(error)")
    }
    precondition(error.code.isConflict && !error.code.isTransient)
    precondition(error.code.label == "wrong_expected_version")
    precondition(error.streamName == "account-1")
}
// snippet.end

// snippet.reload
/// Appends after reading the stream's version, again after a conflict: another writer got there first.
func deposit(_ amount: Int, to account: StreamName, in store: some EventStore) async throws {
    let event = EventMessage(messageName: "Deposited", payload: ["amount": .number(String(amount))])
    while true {
        let version = try await store.loadReverse(account, count: 1).collect().first?.position ?? 0
        // ...decide from the events up to `version` whether the deposit is allowed...
        do {
            try await store.append(event, to: account, expectedVersion: .exact(version))
            return
        } catch let error as EventStoreError where error.code.isConflict {
            continue  // reload and decide again
        }
    }
}

try await withThrowingTaskGroup { group in
    for amount in 1...8 {
        group.addTask { try await deposit(amount, to: "account-1", in: store) }
    }
    try await group.waitForAll()
}
let deposits = try await store.load("account-1").collect().filter { $0.messageName == "Deposited" }
precondition(deposits.count == 8)
// snippet.end
