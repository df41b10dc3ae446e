@_spi(Backend) import EventStore
import EventStoreTestSupport
import Testing

/// The text a projection's row keeps its source in (`/metrics` counts the projection's lag there).
@Suite("Stored subscription targets", .watchdog())
struct SubscriptionTargetTextTests {
    @Test(arguments: [
        SubscriptionTarget.all, .stream("user-1"), .streams(["user-1", "odd \"name\" é"]), .streams([]),
        .category("user"), .categories(["user", "order", "é"]), .categories([]),
    ])
    func everyTargetReadsBackAsItself(_ target: SubscriptionTarget) throws {
        #expect(try SubscriptionTarget(storedText: target.storedText) == target, "\(target.storedText)")
    }

    @Test(arguments: ["", "All", "{}", #"{"stream":[]}"#, #"{"stream":["a","b"]}"#, #"{"streams":[1]}"#,
        #"{"streams":[""]}"#, #"{"category":"user"}"#, #"{"streams":["a"],"categories":["b"]}"#, #"{"other":["a"]}"#])
    func textThisBuildDoesNotWriteIsCorrupt(_ text: String) {
        let error = #expect(throws: EventStoreError.self) { try SubscriptionTarget(storedText: text) }
        #expect(error?.code == .corrupt)
    }
}
