@testable import EventStore
import Testing

@Suite struct JSONReaderTests {
    @Test func parsesEscapesAndSurrogatePairs() throws {
        let value = try JSONValue(parsing: #"{"s":"a\"b\\c\/d\n\u00e9\ud83d\ude00","lone":"\ud800x"}"#)
        #expect(value["s"] == .string("a\"b\\c/d\né😀"))
        #expect(value["lone"] == .string("\u{FFFD}x"))
    }

    @Test(arguments: [
        "{}", " { } ", #"{"a":1,"b":-2.5,"c":true,"d":false,"e":"x\"y\u00e9\ud83d\ude00"}"#,
        #"{ "_aggregate_version" : 12 , "big" : 9223372036854775807, "exp": 1e3 }"#, #"{"dup":1,"dup":"two"}"#,
    ])
    func storedMetadataReadsAsTheGeneralPathDoes(_ text: String) throws {
        #expect(try Metadata(storedJSON: text) == (try Metadata(json: text)))
    }

    @Test(arguments: ["[]", "{\"a\":null}", "{\"a\":[1]}", "{\"a\":{}}", "{\"a\":1", "{\"a\":1}x", "{\"a\":9223372036854775808}", "{a:1}"])
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
}
