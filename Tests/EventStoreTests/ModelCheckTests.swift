import EventStore
import EventStoreConformance
import EventStoreTestSupport
import Synchronization
import Testing

/// The model check finds a store that differs from the reference: without this it could pass by comparing
/// nothing.
@Suite("Model check", .watchdog())
struct ModelCheckTests {
    @Test func aStoreThatDiffersFromTheReferenceIsReportedWithItsSeed() async throws {
        let reported = Mutex<[String]>([])
        try await withKnownIssue {
            // A store with a defect: a plugin stops every delete before it runs, so deleted streams stay.
            let forgetful = ActionEventEmitterEventStore(InMemoryEventStore())
            forgetful.attach(.delete, priority: 1000) { $0.stopPropagation() }
            try await ModelCheck.run(on: forgetful, seeds: 1..<40)
        } matching: { issue in
            reported.withLock { $0.append("\(issue)") }
            return true
        }
        let messages = reported.withLock { $0 }
        #expect(!messages.isEmpty)
        #expect(messages.allSatisfy { $0.contains("EVENTSTORE_MODEL_SEED=") && $0.contains("delete(") }, "\(messages)")
    }

    @Test func theInMemoryStoreBehavesAsItsOwnReference() async throws {
        try await ModelCheck.run(on: InMemoryEventStore(), seeds: 1..<100)
    }
}
