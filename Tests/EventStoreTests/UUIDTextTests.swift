@_spi(Backend) import EventStore
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

@Suite("Timestamp text", .watchdog())
struct TimestampTextTests {
    /// Every append writes one timestamp per event, from one buffer: the text reads back as the same
    /// microseconds, in the fixed shape, across the years the store keeps.
    @Test func timestampsReadBackExactlyInTheirFixedShape() {
        #expect(Timestamp.format(microseconds: 1_500_000) == "1970-01-01T00:00:01.500000")
        #expect(Timestamp.format(microseconds: -1) == "1969-12-31T23:59:59.999999")
        #expect(Timestamp.format(microseconds: -62_135_596_800_000_000) == "0001-01-01T00:00:00.000000")
        #expect(Timestamp.format(microseconds: 253_402_300_799_999_999) == "9999-12-31T23:59:59.999999")
        for _ in 0..<2000 {
            let micros = Int64.random(in: -62_135_596_800_000_000...253_402_300_799_999_999)
            let text = Timestamp.format(microseconds: micros)
            #expect(text.utf8.count == 26, "\(text)")
            #expect(Timestamp.parseMicroseconds(text) == micros, "\(text)")
        }
    }

    /// MySQL's `DATETIME` text differs only in the separator.
    @Test func theSeparatorIsTheOnlyDifferenceOfTheDateTimeText() {
        for _ in 0..<200 {
            let micros = Int64.random(in: -62_135_596_800_000_000...253_402_300_799_999_999)
            let text = Timestamp.format(microseconds: micros)
            #expect(Timestamp.format(microseconds: micros, dateTimeSeparator: " ") == text.replacingOccurrences(of: "T", with: " "))
        }
        #expect(Timestamp.format(microseconds: 253_402_300_800_000_000, dateTimeSeparator: " ") == "10000-01-01 00:00:00.000000")
    }
}

@Suite("Control characters", .watchdog())
struct ControlCharacterTests {
    /// Names are checked for control characters by value on every append: the same scalars as Unicode's
    /// general category Cc, over every scalar there is. (It yields now and then: a million property lookups
    /// in a debug build held a thread of the cooperative pool for 45 s on a busy machine, and other suites'
    /// timed waits failed.)
    @Test func theValueCheckIsUnicodesControlCategory() async {
        var differing: [UInt32] = []
        for value in UInt32(0)...0x10FFFF {
            if value % 8192 == 0 { await Task.yield() }
            guard let scalar = Unicode.Scalar(value) else { continue }
            if scalar.isControlCharacter != (scalar.properties.generalCategory == .control) { differing.append(value) }
        }
        #expect(differing.isEmpty, "\(differing.prefix(10))")
    }
}
