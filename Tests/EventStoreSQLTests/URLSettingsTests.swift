import EventStore
import EventStoreSQL
import EventStoreTestSupport
import Testing

@Suite("URL settings", .watchdog())
struct URLSettingsTests {
    enum Mode: String, CaseIterable { case fast = "FAST", safe = "SAFE" }

    @Test func readsEachSettingAndItsValue() throws {
        var settings = try URLSettings([("size", "4"), ("mode", "safe"), ("name", "a b")], of: "test URL")
        #expect(try settings.integer("size", atLeast: 1) == 4)
        #expect(try settings.choice("mode", of: Mode.self) == .safe)
        #expect(settings.text("name") == "a b")
        #expect(settings.text("absent") == nil)
        try settings.finish()
    }

    @Test func badValuesAreInvalidArguments() throws {
        for (name, value) in [("size", "0"), ("size", "four"), ("size", "1.5"), ("mode", "quick")] {
            var settings = try URLSettings([(name, value)], of: "test URL")
            let error = #expect(throws: EventStoreError.self, "\(name)=\(value)") {
                _ = try settings.integer("size", atLeast: 1)
                _ = try settings.choice("mode", of: Mode.self)
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.reason.contains(value) == true, "\(error?.reason ?? "")")
        }
    }

    @Test func anUnknownSettingIsRejectedWithTheKnownOnes() throws {
        var settings = try URLSettings([("size", "2"), ("colour", "red")], of: "test URL")
        _ = try settings.integer("size", atLeast: 1)
        _ = settings.text("name")
        let error = #expect(throws: EventStoreError.self) { try settings.finish() }
        #expect(error?.reason == "unknown test URL setting \"colour\" (known: size, name)")
    }

    @Test func aSettingGivenTwiceIsRejected() {
        let error = #expect(throws: EventStoreError.self) { _ = try URLSettings([("size", "2"), ("size", "3")], of: "test URL") }
        #expect(error?.code == .invalidArgument)
    }
}
