import EventStore
import EventStoreConformance
import EventStoreTestSupport
import Testing

@Suite("In-memory store conformance", .watchdog())
struct InMemoryConformanceTests {
    @Test(arguments: EventStoreConformance.cases)
    func conformance(_ testCase: ConformanceCase) async throws {
        Watchdog.step("case \(testCase)")
        try await testCase.run { settings, body in
            try await body(InMemoryEventStore(readBatchSize: settings.readBatchSize))
        }
    }
}

/// The decorator without listeners must be invisible: every case passes through it too.
@Suite("Action-event decorator conformance", .watchdog())
struct DecoratorConformanceTests {
    @Test(arguments: EventStoreConformance.cases)
    func conformance(_ testCase: ConformanceCase) async throws {
        Watchdog.step("case \(testCase)")
        try await testCase.run { settings, body in
            try await body(ActionEventEmitterEventStore(InMemoryEventStore(readBatchSize: settings.readBatchSize)))
        }
    }
}

@Suite("In-memory global order", .watchdog())
struct InMemoryGlobalOrderTests {
    @Test func tailingReadersSeeEveryCommittedEventOnceAndNoRolledBackOne() async throws {
        try await GlobalOrderStress.run(InMemoryEventStore(), readers: 3)
    }
}
