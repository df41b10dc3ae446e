import EventStore
import EventStoreTestSupport
import EventStoreSQL
import Testing

@Suite("Driver values", .watchdog())
struct DriverValueTests {
    @Test func aDriversOwnValueComesBackAsItsType() throws {
        let handle: any Sendable = 42
        #expect(try driverValue(handle, as: Int.self) == 42)
    }

    @Test func anotherDriversValueIsABackendErrorNotACrash() {
        let handle: any Sendable = "a handle of another driver"
        let error = #expect(throws: EventStoreError.self) { try driverValue(handle, as: Int.self) }
        #expect(error?.code == .backend)
        #expect(error?.reason.contains("String") == true)
    }
}
