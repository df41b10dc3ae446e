@_spi(Backend) import EventStore
import EventStoreTestSupport
import Testing

/// How the shared regular-expression syntax is written out for each engine.
@Suite("Portable regular expressions", .watchdog())
struct PortableRegexTests {
    @Test(arguments: [
        ("^a.b$", #"\Aa[^\n]b\z"#, #"^a[^\n]b$"#),
        ("x|y", "(?:x|y)", "(?:x|y)"),
        (#"\d+\w*"#, "(?:[0-9])+(?:[A-Za-z0-9_])*", "(?:[0-9])+(?:[A-Za-z0-9_])*"),
        (#"[^a-z\]]"#, #"[^a-z\]]"#, #"[^a-z\]]"#),
        ("(ab){2,3}?", "(?:(?:ab)){2,3}?", "(?:(?:ab)){2,3}?"),
        ("tab\tvt\u{0B}a", #"tab\tvt\x{B}a"#, #"tab\tvt\u000Ba"#),
        (#"a\.b\-c/"#, #"a\.b\-c/"#, #"a\.b\-c/"#),
        ("é+", "(?:é)+", "(?:é)+"),
    ])
    func patternsAreWrittenForEachEngine(_ pattern: String, _ icu: String, _ postgres: String) throws {
        let regex = try PortableRegex(pattern)
        #expect(regex.translated(for: .icu) == icu)
        #expect(regex.translated(for: .pcre) == icu)
        #expect(regex.translated(for: .postgres) == postgres)
    }

    @Test(arguments: [
        #"\bword\b"#, #"\p{L}"#, "(?<name>a)", "(?i)a", "(?=a)", "(?!a)", #"(a)\1"#, "a++", "a{256}", "a{3,2}", "[z-a]",
        "[[:alpha:]]", "(a", "a)", "^(a+)+$", "(a*b)*", "(x|a{2})+", "*a", "a{x}", "", "[]", "[a", #"\"#, "^*", String(repeating: "a", count: 1001), "a\u{0}",
        String(repeating: "(abcdefghij){255}", count: 4),
    ])
    func whatTheEnginesReadDifferentlyIsRefused(_ pattern: String) {
        #expect(throws: EventStoreError.self) { try PortableRegex(pattern) }
        #expect(RegexPattern.problem(with: pattern) != nil)
    }

    @Test func theCompiledFormMatchesAsDocumented() throws {
        #expect(try RegexPattern.compile("^a.b$").matches("a\rb"))
        #expect(try !RegexPattern.compile("^a.b$").matches("a\nb"))
        #expect(try !RegexPattern.compile("^line$").matches("line\n"))
        #expect(try RegexPattern.compile("^[^a]$").matches("\n"))
        #expect(try !RegexPattern.compile(#"\d"#).matches("٣"))
        #expect(try RegexPattern.compile("^a|b$").matches("xb"))
        #expect(try !RegexPattern.compile("^A$").matches("a"))
        #expect(try RegexPattern.compile("b{2,3}c").matches("abbbc"))
        #expect(try !RegexPattern.compile("^ab{2,3}c$").matches("abbbbc"))
        #expect(try RegexPattern.compile("^(?:ab|cd){0}x$").matches("x"))
        #expect(try RegexPattern.compile("^(?:foo|bar)+$").matches("foobarfoo"))
        #expect(try !RegexPattern.compile("^(?:foo|bar)+$").matches("foobaz"))
        #expect(try RegexPattern.compile("^$").matches(""))
        #expect(try RegexPattern.compile("a*").matches(""))
        #expect(try !RegexPattern.compile("^[a-c]+$").matches("abcd"))
        #expect(try RegexPattern.compile("[^\\d]").matches("12a"))
    }

    /// Patterns that take a backtracking engine exponential or high polynomial time finish at once: the program
    /// runs every path together, in time linear in the text (before: ICU ran `(a|aa)*c` on these a's for hours).
    @Test func patternsThatBacktrackingEnginesCannotFinishRunInLinearTime() throws {
        let run = String(repeating: "a", count: 10_000)
        #expect(try !RegexPattern.compile("(a|aa)*c").matches(run))
        #expect(try !RegexPattern.compile("^(?:a|a)*b$").matches(run))
        #expect(try !RegexPattern.compile(".*.*.*.*.*.*=").matches(run))
        #expect(try RegexPattern.compile("^(a|aa)*$").matches(run))
        #expect(try RegexPattern.compile("^(a|aa)*$|x").matches(run + "bx"))
        #expect(try RegexPattern.compile("^(ab|cd)*$").matches(String(repeating: "ab", count: 50_000)))
    }
}
