import EventStore
import EventStoreConformance
import EventStoreTestSupport
import Foundation
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
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let article = try String(
            contentsOf: root.appendingPathComponent("Sources/EventStoreConformance/EventStoreConformance.docc/TestingYourBackend.md"),
            encoding: .utf8)
        let lines = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8).components(separatedBy: "\n")
        let begin = try #require(lines.firstIndex { $0.hasSuffix("// Article begin") })
        let end = try #require(lines.firstIndex { $0.hasSuffix("// Article end") })
        let code = lines[(begin + 1)..<end].map { String($0.dropFirst(4)) }.joined(separator: "\n")
        #expect(article.contains(code), "the article's example is not this file's code:\n\(code)")
    }
}
