import EventStore
import EventStoreConformance
import EventStoreTestSupport
import Synchronization
import Testing

/// The model check finds a store that differs from the reference: without this it could pass by comparing
/// nothing.
@Suite("Model check", .watchdog())
struct ModelCheckTests {
    /// The in-memory store, but a delete of a stream with events keeps them: a store with a defect.
    struct ForgetfulStore: EventStore {
        let base = InMemoryEventStore()

        func load(_ stream: StreamName, from: Int, count: Int?, matching: MetadataMatcher?) async throws -> RecordedEventSequence {
            try await base.load(stream, from: from, count: count, matching: matching)
        }
        func loadReverse(_ stream: StreamName, from: Int?, count: Int?, matching: MetadataMatcher?) async throws
            -> RecordedEventSequence
        {
            try await base.loadReverse(stream, from: from, count: count, matching: matching)
        }
        func hasStream(_ stream: StreamName) async throws -> Bool { try await base.hasStream(stream) }
        func streamMetadata(of stream: StreamName) async throws -> Metadata { try await base.streamMetadata(of: stream) }
        func streamNames(_ filter: NameFilter, matching: MetadataMatcher?, limit: Int, offset: Int) async throws -> [StreamName] {
            try await base.streamNames(filter, matching: matching, limit: limit, offset: offset)
        }
        func categoryNames(_ filter: NameFilter, limit: Int, offset: Int) async throws -> [String] {
            try await base.categoryNames(filter, limit: limit, offset: offset)
        }
        func create(_ stream: StreamName, metadata: Metadata, events: [EventMessage]) async throws -> AppendResult {
            try await base.create(stream, metadata: metadata, events: events)
        }
        func append(_ events: [EventMessage], to stream: StreamName, expectedVersion: ExpectedVersion) async throws -> AppendResult {
            try await base.append(events, to: stream, expectedVersion: expectedVersion)
        }
        func delete(_ stream: StreamName) async throws {
            if try await base.load(stream, from: 1, count: 1, matching: nil).collect().isEmpty { try await base.delete(stream) }
        }
        func updateStreamMetadata(_ metadata: Metadata, of stream: StreamName) async throws {
            try await base.updateStreamMetadata(metadata, of: stream)
        }
        func transaction<T: Sendable>(_ body: @Sendable (any EventStore) async throws -> T) async throws -> T {
            try await base.transaction(body)
        }
    }

    @Test func aStoreThatDiffersFromTheReferenceIsReportedWithItsSeed() async throws {
        let reported = Mutex<[String]>([])
        try await withKnownIssue {
            try await ModelCheck.run(on: ForgetfulStore(), seeds: 1..<40)
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
