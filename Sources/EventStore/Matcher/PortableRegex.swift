/// The regular expressions of matchers and listings: one syntax that means the same on every backend.
///
/// Each backend has its own engine (ICU in memory and on SQLite, PCRE2 on MariaDB, POSIX advanced
/// expressions on PostgreSQL), and they disagree on `.` and newlines, `$` before a final newline, `\b`,
/// `\d` and `\w` beyond ASCII, and much else. A pattern is therefore parsed here, refused when it uses
/// anything outside the shared syntax, and written out for each engine in a form with one meaning:
///
/// - literal characters, and `\` before any of `\ ^ $ . | ? * + ( ) [ ] { } - /`; `\n`, `\r`, `\t`, `\f`
/// - `.`: any character but a line feed (U+000A), whatever else it is (CR and U+2028 included)
/// - `^` and `$`: the start and the very end of the text (never before a final newline)
/// - `[abc]`, `[a-z]`, `[^…]` (a negated class matches line feeds), with escapes as above
/// - `\d` `[0-9]`, `\w` `[A-Za-z0-9_]`, `\s` space, tab, LF, CR, FF and VT, and `\D` `\W` `\S` (outside classes)
/// - groups `( … )` and `(?: … )`, alternation `|`, quantifiers `*` `+` `?` `{n}` `{n,}` `{n,m}` (counts up
///   to 255, PostgreSQL's limit), each optionally lazy (`*?`)
///
/// Matching is case-sensitive and searches anywhere in the text unless anchored. Patterns are at most
/// ``maxLength`` characters and ``maxProgramSize`` steps once their counts are written out (`a{200}` is 200),
/// and a repeated group may not repeat inside (`(a+)+`, `(a*b)*`): such patterns can take exponential time in
/// the backtracking engines (ICU, PCRE2).
///
/// In this process (the in-memory store, SQLite's `es_regexp`) a pattern runs on ``RegexProgram``, whose time
/// is linear in the text whatever the pattern. PostgreSQL's engine does not backtrack on this syntax. MariaDB's
/// PCRE2 does, within its own recursion and match limits: a search that reaches them fails with
/// `invalidArgument` (MariaDB itself only warns and answers "no match").
@_spi(Backend) public struct PortableRegex: Sendable, Hashable {
    /// The engines a pattern is written out for.
    public enum Flavor: Sendable {
        /// ICU (`NSRegularExpression`): memory, SQLite's `es_regexp`, MySQL 8.
        case icu
        /// PCRE2: MariaDB's `REGEXP`.
        case pcre
        /// POSIX advanced regular expressions: PostgreSQL's `~`.
        case postgres
    }

    /// The longest pattern, in characters.
    public static let maxLength = 1000
    /// The largest count of a `{n,m}` quantifier.
    public static let maxCount = 255
    /// The most steps of a pattern's program (``RegexProgram``): what bounds its work per character of text.
    public static let maxProgramSize = 10_000

    /// The pattern as written.
    public let pattern: String
    private let nodes: [Node]
    /// The pattern as a program that runs in linear time.
    public let program: RegexProgram

    /// Parses a pattern. - Throws: `invalidArgument`, naming what is outside the shared syntax.
    public init(_ pattern: String) throws(EventStoreError) {
        if pattern.isEmpty { throw .invalidArgument("the regular expression must not be empty") }
        if pattern.unicodeScalars.count > Self.maxLength {
            throw .invalidArgument("the regular expression is longer than \(Self.maxLength) characters")
        }
        if pattern.utf8.contains(0) { throw .invalidArgument("the regular expression must not hold U+0000") }
        var parser = Parser(Array(pattern.unicodeScalars))
        var compiler = Compiler()
        do throws(EventStoreError) {
            nodes = try parser.alternation()
            if parser.index < parser.scalars.count { throw parser.failure("an unmatched ')'") }
            try compiler.compile(nodes)
        } catch {
            throw .invalidArgument("invalid regular expression \"\(pattern)\": \(error.reason)")
        }
        compiler.code.append(.match)
        self.program = RegexProgram(instructions: compiler.code)
        self.pattern = pattern
    }

    /// The pattern written for `flavor`.
    public func translated(for flavor: Flavor) -> String {
        var out = ""
        Self.write(nodes, flavor, into: &out)
        return out
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.pattern == rhs.pattern }
    public func hash(into hasher: inout Hasher) { hasher.combine(pattern) }

    // MARK: Syntax tree

    /// One alternative is a list of items; a node list with several alternatives is `.alternatives`.
    fileprivate indirect enum Node: Sendable {
        case literal(Unicode.Scalar)
        case anyButNewline
        case start
        case end
        /// A bracket expression: its items (single scalars or ranges) and whether it is negated.
        case set([SetItem], negated: Bool)
        case group([Node])
        case alternatives([[Node]])
        case repeated(Node, min: Int, max: Int?, lazy: Bool)

        /// Whether a quantifier is in this node.
        var repeats: Bool {
            switch self {
            case .repeated: return true
            case let .group(nodes): return nodes.contains(where: \.repeats)
            case let .alternatives(alternatives): return alternatives.contains { $0.contains(where: \.repeats) }
            default: return false
            }
        }
    }

    fileprivate enum SetItem: Sendable {
        case scalar(Unicode.Scalar)
        case range(Unicode.Scalar, Unicode.Scalar)
    }

    fileprivate static let digits: [SetItem] = [.range("0", "9")]
    fileprivate static let word: [SetItem] = [.range("A", "Z"), .range("a", "z"), .range("0", "9"), .scalar("_")]
    fileprivate static let space: [SetItem] = ([" ", "\t", "\n", "\r", "\u{0C}", "\u{0B}"] as [Unicode.Scalar]).map { SetItem.scalar($0) }

    // MARK: Parsing

    private struct Parser {
        let scalars: [Unicode.Scalar]
        var index = 0

        init(_ scalars: [Unicode.Scalar]) { self.scalars = scalars }

        var peek: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

        func failure(_ what: String) -> EventStoreError { .invalidArgument("\(what) at character \(index + 1)") }

        mutating func alternation() throws(EventStoreError) -> [Node] {
            var alternatives: [[Node]] = [try sequence()]
            while peek == "|" {
                index += 1
                alternatives.append(try sequence())
            }
            return alternatives.count == 1 ? alternatives[0] : [.alternatives(alternatives)]
        }

        mutating func sequence() throws(EventStoreError) -> [Node] {
            var nodes: [Node] = []
            while let scalar = peek, scalar != "|", scalar != ")" {
                let atom = try self.atom()
                nodes.append(try quantified(atom))
            }
            return nodes
        }

        mutating func atom() throws(EventStoreError) -> Node {
            guard let scalar = peek else { throw failure("an unexpected end") }
            index += 1
            switch scalar {
            case "(":
                if peek == "?" {
                    guard index + 1 < scalars.count, scalars[index + 1] == ":" else {
                        throw failure("only (?: … ) groups are shared by every backend (no lookaround, names or flags)")
                    }
                    index += 2
                }
                let inner = try alternation()
                guard peek == ")" else { throw failure("a '(' without its ')'") }
                index += 1
                return .group(inner)
            case "[": return try bracket()
            case ".": return .anyButNewline
            case "^": return .start
            case "$": return .end
            case "\\": return try escape(inSet: false)
            case "*", "+", "?", "{": throw failure("a quantifier with nothing before it")
            case "]", "}": throw failure("an unescaped '\(scalar)'")
            default: return .literal(scalar)
            }
        }

        mutating func quantified(_ atom: Node) throws(EventStoreError) -> Node {
            guard let scalar = peek else { return atom }
            let bounds: (min: Int, max: Int?)
            switch scalar {
            case "*": bounds = (0, nil)
            case "+": bounds = (1, nil)
            case "?": bounds = (0, 1)
            case "{": bounds = try counts()
            default: return atom
            }
            if case .start = atom { throw failure("a quantifier after '^'") }
            if case .end = atom { throw failure("a quantifier after '$'") }
            // `(a+)+` takes exponential time in a backtracking engine on a text it almost matches: one
            // request could hold a reader (or a thread of the cooperative pool) for minutes.
            if atom.repeats { throw failure("a repeated group that repeats inside (such as (a+)+), which can take exponential time") }
            if scalar != "{" { index += 1 }
            var lazy = false
            if peek == "?" {
                lazy = true
                index += 1
            }
            if let next = peek, next == "*" || next == "+" || next == "?" || next == "{" {
                throw failure("two quantifiers in a row (possessive quantifiers are not shared)")
            }
            return .repeated(atom, min: bounds.min, max: bounds.max, lazy: lazy)
        }

        /// `{n}`, `{n,}` or `{n,m}`, the index at `{`; leaves the index after `}`.
        mutating func counts() throws(EventStoreError) -> (min: Int, max: Int?) {
            index += 1
            let low = try number()
            var high: Int? = low
            if peek == "," {
                index += 1
                high = peek == "}" ? nil : try number()
            }
            guard peek == "}" else { throw failure("a '{' that is not a count such as {2}, {2,} or {2,5}") }
            index += 1
            if let high, high < low { throw failure("a count whose maximum is below its minimum") }
            return (low, high)
        }

        mutating func number() throws(EventStoreError) -> Int {
            var value = 0
            var digits = 0
            while let scalar = peek, ("0"..."9").contains(scalar) {
                value = value * 10 + Int(scalar.value - 48)
                digits += 1
                index += 1
                if value > PortableRegex.maxCount { throw failure("a count above \(PortableRegex.maxCount)") }
            }
            if digits == 0 { throw failure("a count that is not a number") }
            return value
        }

        mutating func bracket() throws(EventStoreError) -> Node {
            var negated = false
            if peek == "^" {
                negated = true
                index += 1
            }
            var items: [SetItem] = []
            while true {
                guard let scalar = peek else { throw failure("a '[' without its ']'") }
                if scalar == "]", !items.isEmpty { break }
                index += 1
                let low: Unicode.Scalar
                switch scalar {
                case "\\":
                    switch try escape(inSet: true) {
                    case let .literal(literal): low = literal
                    case let .set(shorthand, negated: false):
                        items += shorthand
                        continue
                    default: throw failure("an escape that is not shared inside brackets")
                    }
                case "[": throw failure("a '[' inside brackets (escape it; classes such as [:alpha:] are not shared)")
                case "]": throw failure("an empty bracket expression")
                default: low = scalar
                }
                if peek == "-", index + 1 < scalars.count, scalars[index + 1] != "]" {
                    index += 1
                    guard var high = peek else { throw failure("an unfinished range") }
                    index += 1
                    if high == "\\" {
                        guard case let .literal(literal) = try escape(inSet: true) else { throw failure("a range that ends in a class") }
                        high = literal
                    } else if high == "[" {
                        throw failure("a '[' inside brackets")
                    }
                    if high.value < low.value { throw failure("a range whose end comes before its start") }
                    items.append(.range(low, high))
                } else {
                    items.append(.scalar(low))
                }
            }
            index += 1
            return .set(items, negated: negated)
        }

        /// After a `\`.
        mutating func escape(inSet: Bool) throws(EventStoreError) -> Node {
            guard let scalar = peek else { throw failure("a '\\' at the end") }
            index += 1
            switch scalar {
            case "\\", "^", "$", ".", "|", "?", "*", "+", "(", ")", "[", "]", "{", "}", "-", "/": return .literal(scalar)
            case "n": return .literal("\n")
            case "r": return .literal("\r")
            case "t": return .literal("\t")
            case "f": return .literal("\u{0C}")
            case "d": return .set(PortableRegex.digits, negated: false)
            case "w": return .set(PortableRegex.word, negated: false)
            case "s": return .set(PortableRegex.space, negated: false)
            case "D", "W", "S":
                if inSet { throw failure("\\\(scalar) inside brackets") }
                let items = scalar == "D" ? PortableRegex.digits : scalar == "W" ? PortableRegex.word : PortableRegex.space
                return .set(items, negated: true)
            default:
                throw failure("\\\(scalar), which the backends read differently or not at all")
            }
        }
    }

    // MARK: Compiling

    /// Writes nodes as instructions of ``RegexProgram``: a Thompson construction, counts written out.
    private struct Compiler {
        var code: [RegexProgram.Instruction] = []

        mutating func compile(_ nodes: [Node]) throws(EventStoreError) {
            for node in nodes { try compile(node) }
        }

        mutating func compile(_ node: Node) throws(EventStoreError) {
            switch node {
            case let .literal(scalar): code.append(.scalar(scalar.value))
            case .anyButNewline: code.append(.set([0x0A...0x0A], negated: true))
            case .start: code.append(.assertStart)
            case .end: code.append(.assertEnd)
            case let .set(items, negated):
                let ranges = items.map { item -> ClosedRange<UInt32> in
                    switch item {
                    case let .scalar(scalar): return scalar.value...scalar.value
                    case let .range(low, high): return low.value...high.value
                    }
                }
                code.append(.set(ranges, negated: negated))
            case let .group(inner): try compile(inner)
            case let .alternatives(alternatives):
                // split(this, next alternative) … jump(end), for every alternative but the last.
                var jumps: [Int] = []
                for alternative in alternatives.dropLast() {
                    let split = code.count
                    code.append(.split(0, 0))
                    try compile(alternative)
                    jumps.append(code.count)
                    code.append(.jump(0))
                    code[split] = .split(split + 1, code.count)
                }
                if let last = alternatives.last { try compile(last) }
                for jump in jumps { code[jump] = .jump(code.count) }
            case let .repeated(inner, min, max, _):
                // Lazy and greedy find the same matches: only whether there is one counts here.
                for _ in 0..<min { try compile(inner) }
                if let max {
                    var splits: [Int] = []
                    for _ in min..<max {
                        splits.append(code.count)
                        code.append(.split(0, 0))
                        try compile(inner)
                    }
                    for split in splits { code[split] = .split(split + 1, code.count) }
                } else {
                    let loop = code.count
                    code.append(.split(0, 0))
                    try compile(inner)
                    code.append(.jump(loop))
                    code[loop] = .split(loop + 1, code.count)
                }
            }
            if code.count > PortableRegex.maxProgramSize {
                throw .invalidArgument(
                    "more than \(PortableRegex.maxProgramSize) steps once its counts are written out (a{200} is 200 steps)")
            }
        }
    }

    // MARK: Writing

    private static func write(_ nodes: [Node], _ flavor: Flavor, into out: inout String) {
        for node in nodes { write(node, flavor, into: &out) }
    }

    private static func write(_ node: Node, _ flavor: Flavor, into out: inout String) {
        switch node {
        case let .literal(scalar): out += escaped(scalar, flavor)
        case .anyButNewline: out += "[^\\n]"
        case .start: out += flavor == .postgres ? "^" : "\\A"
        case .end: out += flavor == .postgres ? "$" : "\\z"
        case let .set(items, negated):
            out += negated ? "[^" : "["
            for item in items {
                switch item {
                case let .scalar(scalar): out += escaped(scalar, flavor)
                case let .range(low, high): out += escaped(low, flavor) + "-" + escaped(high, flavor)
                }
            }
            out += "]"
        case let .group(inner):
            out += "(?:"
            write(inner, flavor, into: &out)
            out += ")"
        case let .alternatives(alternatives):
            out += "(?:"
            for (index, alternative) in alternatives.enumerated() {
                if index > 0 { out += "|" }
                write(alternative, flavor, into: &out)
            }
            out += ")"
        case let .repeated(inner, min, max, lazy):
            // A group around what repeats, so that the quantifier binds to all of it in every engine.
            out += "(?:"
            write(inner, flavor, into: &out)
            out += ")"
            switch (min, max) {
            case (0, nil): out += "*"
            case (1, nil): out += "+"
            case (0, 1?): out += "?"
            case let (min, nil): out += "{\(min),}"
            case let (min, max?) where min == max: out += "{\(min)}"
            case let (min, max?): out += "{\(min),\(max)}"
            }
            if lazy { out += "?" }
        }
    }

    /// A scalar as the engine reads it literally: metacharacters escaped, control characters by their code
    /// (`\u000B` on PostgreSQL, whose `\x` takes every hex digit that follows; `\x{B}` elsewhere).
    private static func escaped(_ scalar: Unicode.Scalar, _ flavor: Flavor) -> String {
        switch scalar {
        case "\n": return "\\n"
        case "\r": return "\\r"
        case "\t": return "\\t"
        case "\u{0C}": return "\\f"
        case "\\", "^", "$", ".", "|", "?", "*", "+", "(", ")", "[", "]", "{", "}", "-": return "\\" + String(scalar)
        default:
            guard scalar.value < 0x20 || scalar.value == 0x7F else { return String(scalar) }
            let hex = String(scalar.value, radix: 16, uppercase: true)
            return flavor == .postgres ? "\\u" + String(repeating: "0", count: 4 - hex.count) + hex : "\\x{" + hex + "}"
        }
    }
}

/// A regular expression as a program of a Thompson automaton, run on every path at once (a Pike machine
/// without captures): its time is the text's length times at most the program's size, whatever the pattern,
/// where a backtracking engine such as ICU's can take exponential time (`(a|aa)*c` on "aaaa…").
@_spi(Backend) public struct RegexProgram: Sendable {
    enum Instruction: Sendable {
        /// Consumes this scalar.
        case scalar(UInt32)
        /// Consumes a scalar in one of the ranges (or in none, when negated).
        case set([ClosedRange<UInt32>], negated: Bool)
        /// Goes on at both.
        case split(Int, Int)
        case jump(Int)
        /// Goes on only at the start of the text.
        case assertStart
        /// Goes on only at the very end of the text.
        case assertEnd
        case match
    }

    let instructions: [Instruction]

    /// `true` when the pattern matches somewhere in `text`.
    public func matches(_ text: String) -> Bool {
        let scalars = text.unicodeScalars
        let end = scalars.count
        // A pattern that starts with `^` is tried at the start only.
        var anchored = false
        if case .assertStart? = instructions.first { anchored = true }
        // The step at which each instruction was last put on a list: each is on a step's list at most once.
        var onList = [Int](repeating: -1, count: instructions.count)
        var stack: [Int] = []
        var current: [Int] = []
        var next: [Int] = []

        /// Follows splits, jumps and assertions from `start` at text position `position`, putting the consuming
        /// instructions reached on `list`; `true` when `match` is reached.
        func add(_ start: Int, at position: Int, step: Int, to list: inout [Int]) -> Bool {
            stack.append(start)
            while let pc = stack.popLast() {
                if onList[pc] == step { continue }
                onList[pc] = step
                switch instructions[pc] {
                case let .jump(target): stack.append(target)
                case let .split(first, second):
                    stack.append(second)
                    stack.append(first)
                case .assertStart: if position == 0 { stack.append(pc + 1) }
                case .assertEnd: if position == end { stack.append(pc + 1) }
                case .match:
                    stack.removeAll()
                    return true
                case .scalar, .set: list.append(pc)
                }
            }
            return false
        }

        if add(0, at: 0, step: 0, to: &current) { return true }
        var position = 0
        for scalar in scalars {
            if current.isEmpty, anchored { return false }
            position += 1
            next.removeAll(keepingCapacity: true)
            let value = scalar.value
            for pc in current {
                let consumes: Bool
                switch instructions[pc] {
                case let .scalar(expected): consumes = value == expected
                case let .set(ranges, negated): consumes = ranges.contains(where: { $0.contains(value) }) != negated
                default: consumes = false
                }
                if consumes, add(pc + 1, at: position, step: position, to: &next) { return true }
            }
            // A search may start at every position.
            if !anchored, add(0, at: position, step: position, to: &next) { return true }
            swap(&current, &next)
        }
        return false
    }
}
