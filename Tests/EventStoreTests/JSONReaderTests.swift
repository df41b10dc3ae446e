@_spi(Backend) @testable import EventStore
import EventStoreTestSupport
import Foundation
import Testing

@Suite(.watchdog()) struct JSONReaderTests {
    @Test func parsesEscapesAndSurrogatePairs() throws {
        let value = try JSONValue(parsing: #"{"s":"a\"b\\c\/d\n\u00e9\ud83d\ude00","lone":"\ud800x"}"#)
        #expect(value["s"] == .string("a\"b\\c/d\né😀"))
        #expect(value["lone"] == .string("\u{FFFD}x"))
    }

    /// Metadata written with a key twice is refused (which value wins would be the parser's choice); stored
    /// text with a key twice, which no store writes, reads its last value, as PostgreSQL's `jsonb` keeps it.
    @Test func aKeyTwiceIsRefusedOnInputAndStoredTextKeepsTheLast() throws {
        for text in [#"{"dup":1,"dup":"two"}"#, #"{"dup":1,"x":true,"dup":false}"#] {
            #expect(throws: EventStoreError.self) { try Metadata(json: text) }
        }
        #expect(try Metadata(storedJSON: #"{"dup":1,"dup":"two"}"#) == ["dup": "two"])
        #expect(try Metadata(storedJSON: #"{"dup":1,"x":true,"dup":false}"#) == ["dup": false, "x": true])
    }

    @Test(arguments: [
        "{}", " { } ", #"{"a":1,"b":-2.5,"c":true,"d":false,"e":"x\"y\u00e9\ud83d\ude00"}"#,
        #"{ "_aggregate_version" : 12 , "big" : 9223372036854775807, "exp": 1e3 }"#,
    ])
    func storedMetadataReadsAsTheGeneralPathDoes(_ text: String) throws {
        #expect(try Metadata(storedJSON: text) == (try Metadata(json: text)))
    }

    @Test(arguments: [
        "{}", #"{"b":2,"a":"1","_position":7}"#, #"{"k\u00e9y":"v","plain":"x\ny","z":true}"#,
        #"{"min":-9223372036854775808,"zero":-0,"d":-1.5e-3,"one":1,"two":false}"#, #"{"aa":1,"a":2,"é":3,"Z":4}"#,
    ])
    func storedMetadataIsReadInPlaceAsDecodedMetadataIs(_ text: String) throws {
        let stored = try Metadata(storedJSON: text)
        let decoded = try Metadata(json: text)
        for key in decoded.keys + ["missing", "_position", "", "kéy", "a"] { #expect(stored[key] == decoded[key]) }
        #expect(stored.keys == decoded.keys)
        #expect(stored.keys == decoded.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        #expect(stored.jsonText == decoded.jsonText)
        #expect(stored.hashValue == decoded.hashValue)
        #expect(stored.count == decoded.count)

        var storedWithPosition = stored
        storedWithPosition.addIfAbsent(MetadataKey.position, 3)
        var decodedWithPosition = decoded
        decodedWithPosition.addIfAbsent(MetadataKey.position, 3)
        #expect(storedWithPosition == decodedWithPosition)
        #expect(storedWithPosition[MetadataKey.position] == decoded[MetadataKey.position] ?? 3)
        #expect(storedWithPosition.jsonText == decodedWithPosition.jsonText)
        // Written as stored, with `_position` spliced in: the same pairs, and for text in the order this store
        // writes (its own jsonText) the same text.
        var asStored = JSONBytes()
        storedWithPosition.writeAsStored(into: &asStored)
        let asStoredText = String(decoding: asStored.bytes, as: UTF8.self)
        #expect(try Metadata(json: asStoredText) == decodedWithPosition, "\(asStoredText)")
        let canonical = try Metadata(storedJSON: decoded.jsonText)
        var canonicalWithPosition = canonical
        canonicalWithPosition.addIfAbsent(MetadataKey.position, 3)
        var canonicalAsStored = JSONBytes()
        canonicalWithPosition.writeAsStored(into: &canonicalAsStored)
        #expect(String(decoding: canonicalAsStored.bytes, as: UTF8.self) == decodedWithPosition.jsonText)
        #expect(storedWithPosition.adding("new", "v")["new"] == "v")
        var removed = storedWithPosition
        removed["b"] = nil
        #expect(removed["b"] == nil)
        #expect(removed.count == storedWithPosition.count - (decoded["b"] == nil ? 0 : 1))
    }

    @Test(arguments: [
        "[]", "{\"a\":null}", "{\"a\":[1]}", "{\"a\":{}}", "{\"a\":1", "{\"a\":1}x", "{\"a\":9223372036854775808}", "{a:1}",
        "{\"a\":-9223372036854775809}", "{\"a\":1e400}", #"{"a":"\x"}"#, #"{"a":"\u12"}"#, "{\"a\":\"\u{1}\"}", "{\"a\":01}",
        "{\"a\":tru}", "{\"a\":1,}", "",
    ])
    func storedMetadataRejectsWhatIsNotAnObjectOfScalars(_ text: String) {
        #expect(throws: EventStoreError.self) { try Metadata(storedJSON: text) }
        #expect(throws: EventStoreError.self) { try Metadata(json: text) }
    }

    @Test func keepsNumbersAsTheirText() throws {
        let value = try JSONValue(parsing: "[1.0, -0.0, 12345678901234567890123, 1e400]")
        #expect(value == .array([.number("1.0"), .number("-0.0"), .number("12345678901234567890123"), .number("1e400")]))
    }

    @Test(arguments: ["01", "1.", ".5", "-", "1e", "+1", "tru", "nul", "\"a", "\"\u{1}\"", "[1,]", "{\"a\" 1}", "\"\\x\""])
    func rejectsInvalidJSON(_ text: String) {
        #expect(throws: EventStoreError.self) { try JSONValue(parsing: text) }
    }

    @Test func splitsAnArrayOfObjectsIntoRawMembers() throws {
        let text = #"[ {"payload": {"x": 1.0 , "y":[1]}, "n": "a"} , {} ]"#
        let elements = try JSONReader.arrayElements(Array(text.utf8))
        #expect(elements.count == 2)
        let members = try JSONReader.objectMembers(Array(elements[0]))
        #expect(members.map(\.key) == ["payload", "n"])
        #expect(String(decoding: members[0].raw, as: UTF8.self) == #"{"x": 1.0 , "y":[1]}"#)
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: EventStoreError.self) { try JSONReader.parse([0x22, 0xFF, 0x22]) }
    }

    @Test func writesEscapesExactlyAndLeavesEverythingElseAlone() throws {
        #expect(JSONValue.string("a\"\u{301}b\\\r\n\u{1}\u{8}\u{C}\té😀").jsonText == #""a\"\#u{301}b\\\r\n\u0001\b\f\té😀""#)
        #expect(JSONValue.string("").jsonText == #""""#)
        #expect(JSONValue.string("plain").jsonText == #""plain""#)
    }

    @Test func writesStringsThatReadBack() throws {
        let text = "quote\" backslash\\ newline\n tab\t control\u{1} unicode é😀"
        let json = JSONValue.string(text).jsonText
        #expect(try JSONValue(parsing: json) == .string(text))
    }

    @Test func readsUUIDTextInPlace() {
        func parse(_ text: String) -> UUID? {
            var text = text
            return text.withUTF8 { UUIDText.parse($0) }
        }
        let uuid = UUID()
        #expect(parse(uuid.uuidString) == uuid)
        #expect(parse(uuid.uuidString.lowercased()) == uuid)
        for bad in ["", String(uuid.uuidString.dropLast()), uuid.uuidString + "0", "G" + uuid.uuidString.dropFirst(),
            uuid.uuidString.replacingOccurrences(of: "-", with: "0"), "{" + uuid.uuidString.dropFirst(2) + "}"]
        {
            #expect(parse(bad) == nil, "\(bad)")
        }
    }

    @Test func readsTimestampsFromBytesAsFromText() {
        for text in ["2026-11-27T13:40:06.123456", "2026-11-27 13:40:06", "1970-01-01T00:00:00Z", "2024-02-29T23:59:59.9+01:30"] {
            var bytes = text
            #expect(bytes.withUTF8 { Timestamp.parseMicroseconds(utf8: $0) } == Timestamp.parseMicroseconds(text))
            #expect(Timestamp.parseMicroseconds(text) != nil)
        }
        #expect(Timestamp.parseMicroseconds("2023-02-29T00:00:00") == nil)
        #expect(Timestamp.parseMicroseconds("2026-11-27X13:40:06") == nil)
        #expect(Timestamp.parseMicroseconds("1970-01-01T00:00:01.5") == 1_500_000)
    }
}
