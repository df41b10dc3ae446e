import EventStore
import EventStoreConformance
import EventStoreTestSupport
import Testing

/// The example of the EventStoreConformance catalog's "Testing your backend" article, compiled here: the code
/// between the markers is the article's, line for line (indentation aside; `theArticleShowsThisCode` checks
/// it). Its tests are disabled: the same cases run in `InMemoryConformanceTests` and `ModelCheckTests`.
@Suite("The conformance article's example", .disabled("compiled only: InMemoryConformanceTests runs the same"), .watchdog())
struct ConformanceArticleExample {
    // Article begin
    @Test(arguments: EventStoreConformance.cases)
    func conformance(_ testCase: ConformanceCase) async throws {
        try await testCase.run { settings, body in
            try await body(InMemoryEventStore(readBatchSize: settings.readBatchSize))
        }
    }

    @Test func randomSequencesBehaveAsTheReference() async throws {
        try await ModelCheck.run(on: InMemoryEventStore(), seeds: 1..<100)
    }
    // Article end
}

@Suite("The conformance article", .watchdog())
struct ConformanceArticleTests {
    @Test func theArticleShowsThisCode() throws {
        try DocumentedCode.expectShown(
            between: "Article", in: #filePath, indentation: 4,
            in: "Sources/EventStoreConformance/EventStoreConformance.docc/TestingYourBackend.md")
    }
}
