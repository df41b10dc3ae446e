import EventStore
import EventStoreConformance
import EventStoreTestSupport
import Testing

@Suite("In-memory store conformance", .watchdog())
struct InMemoryConformanceTests {
    /// At most 8 cases of the two in-memory suites at once. Swift Testing starts all 378 together, and at the
    /// start of a full run, beside every other suite, the consumer-group cases that time their consumers were
    /// starved for half a minute on two cores (each failed once in CI). A case's watchdog clock stops while
    /// it waits for its turn.
    static let limit = ConcurrencyLimit(8)

    @Test(arguments: EventStoreConformance.cases)
    func conformance(_ testCase: ConformanceCase) async throws {
        try await Self.limit.run {
            Watchdog.step("case \(testCase)")
            try await testCase.run { settings, body in
                try await body(InMemoryEventStore(readBatchSize: settings.readBatchSize))
            }
        }
    }
}

/// The decorator without listeners must be invisible: every case passes through it too.
@Suite("Action-event decorator conformance", .watchdog())
struct DecoratorConformanceTests {
    @Test(arguments: EventStoreConformance.cases)
    func conformance(_ testCase: ConformanceCase) async throws {
        try await InMemoryConformanceTests.limit.run {
            Watchdog.step("case \(testCase)")
            try await testCase.run { settings, body in
                try await body(ActionEventEmitterEventStore(InMemoryEventStore(readBatchSize: settings.readBatchSize)))
            }
        }
    }
}

@Suite("In-memory global order", .watchdog())
struct InMemoryGlobalOrderTests {
    @Test func tailingReadersSeeEveryCommittedEventOnceAndNoRolledBackOne() async throws {
        try await GlobalOrderStress.run(InMemoryEventStore(), readers: 3)
    }
}
