import EventStore
import EventStoreTestSupport
import Foundation
import Testing

@Suite("UUID text", .watchdog())
struct UUIDTextTests {
    /// The store writes event ids from the bytes; the text must be Foundation's, lowercased, for every id.
    @Test func theLowercaseTextIsFoundationsTextLowercased() {
        var ids = [UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))]
        ids.append(UUID(uuid: (255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255)))
        ids += (0..<1000).map { _ in UUID() }
        for id in ids {
            #expect(id.lowercased == id.uuidString.lowercased())
        }
    }
}
