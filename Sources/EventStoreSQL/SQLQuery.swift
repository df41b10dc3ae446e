import EventStore

/// A value bound to a statement parameter: SQL is never built from user text.
package enum SQLValue: Sendable, Hashable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)

    /// The bind for a metadata value of the same kind (booleans as 0 and 1).
    package init(_ value: MetadataValue) {
        switch value {
        case let .string(s): self = .text(s)
        case let .int(i): self = .int(Int64(i))
        case let .double(d): self = .double(d)
        case let .bool(b): self = .int(b ? 1 : 0)
        }
    }
}

/// A validated, quoted SQL identifier (a table or index name).
///
/// Names are restricted to ASCII letters, digits and `_`, start with a letter or `_`, and are at most 63
/// bytes; they are always written quoted.
package struct SQLIdentifier: Sendable, Hashable, CustomStringConvertible {
    package let name: String

    /// - Throws: ``EventStoreError`` `invalidArgument` when the name is not a plain identifier.
    package init(_ name: String) throws(EventStoreError) {
        guard Self.isValid(name) else {
            throw .invalidArgument(
                "\"\(name)\" is not a valid table name: use ASCII letters, digits and _ (at most 63, not starting with a digit)")
        }
        self.name = name
    }

    /// `true` for a name made of ASCII letters, digits and `_`, not starting with a digit, 1 to 63 bytes.
    package static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= 63 else { return false }
        func letter(_ b: UInt8) -> Bool { (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 95 }
        func digit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }
        return letter(bytes[0]) && bytes.allSatisfy { letter($0) || digit($0) }
    }

    /// The quoted form, `"name"` (valid in SQLite, PostgreSQL and MySQL in ANSI_QUOTES mode).
    package var quoted: String { "\"\(name)\"" }

    /// The quoted form with backticks, for MySQL's default mode.
    package var backtickQuoted: String { "`\(name)`" }

    package var description: String { quoted }
}

/// SQL text with its bound values, built so that the safe path is the easy one.
///
/// Interpolated values become parameters; identifiers are quoted; other fragments keep their own binds.
/// Raw text can only be added with ``init(unsafeSQL:)`` or ``SQLQuery/StringInterpolation/appendInterpolation(unsafeSQL:)``,
/// and is meant for text the program itself wrote, never for input.
///
/// ```swift
/// let query: SQLQuery = "SELECT id FROM \(table) WHERE name = \(bind: name.rawValue)"
/// ```
package struct SQLQuery: Sendable, Hashable, ExpressibleByStringInterpolation {
    package enum Part: Sendable, Hashable {
        case sql(String)
        case bind(SQLValue)
    }

    package private(set) var parts: [Part]

    /// Text the program wrote itself. Never pass input here.
    package init(unsafeSQL sql: String) { parts = [.sql(sql)] }

    package init(stringLiteral value: String) { parts = [.sql(value)] }

    /// The query of these parts (a statement built in a loop, as ``EventInsert`` builds its rows).
    package init(parts: [Part]) { self.parts = parts }

    package init(stringInterpolation: StringInterpolation) { parts = stringInterpolation.parts }

    package struct StringInterpolation: StringInterpolationProtocol {
        var parts: [Part] = []

        package init(literalCapacity: Int, interpolationCount: Int) {}

        package mutating func appendLiteral(_ literal: String) { parts.append(.sql(literal)) }

        /// A bound parameter.
        package mutating func appendInterpolation(bind value: SQLValue) { parts.append(.bind(value)) }
        /// A bound text parameter.
        package mutating func appendInterpolation(bind value: String) { parts.append(.bind(.text(value))) }
        /// A bound integer parameter.
        package mutating func appendInterpolation(bind value: Int) { parts.append(.bind(.int(Int64(value)))) }
        /// A bound integer parameter.
        package mutating func appendInterpolation(bind value: Int64) { parts.append(.bind(.int(value))) }
        /// A quoted identifier.
        package mutating func appendInterpolation(_ identifier: SQLIdentifier) { parts.append(.sql(identifier.quoted)) }
        /// Another query, with its binds.
        package mutating func appendInterpolation(_ query: SQLQuery) { parts += query.parts }
        /// Text the program wrote itself. Never pass input here.
        package mutating func appendInterpolation(unsafeSQL sql: String) { parts.append(.sql(sql)) }
    }

    /// Appends another query.
    package static func + (lhs: SQLQuery, rhs: SQLQuery) -> SQLQuery {
        var result = lhs
        result.parts += rhs.parts
        return result
    }

    /// Appends another query.
    package static func += (lhs: inout SQLQuery, rhs: SQLQuery) { lhs.parts += rhs.parts }

    /// Queries joined by a separator.
    package static func joined(_ queries: [SQLQuery], separator: String) -> SQLQuery {
        var result = SQLQuery(unsafeSQL: "")
        for (i, query) in queries.enumerated() {
            if i > 0 { result.parts.append(.sql(separator)) }
            result.parts += query.parts
        }
        return result
    }

    /// The text with `?` placeholders and the values in their order, as SQLite and MariaDB take them.
    package func renderedWithQuestionMarks() -> RenderedSQL {
        let (sql, binds) = render()
        return RenderedSQL(sql: sql, binds: binds)
    }

    /// The text with placeholders, and the values in placeholder order.
    /// - Parameter placeholder: the placeholder for the n-th bind, counted from 1 (`?` for SQLite and MySQL,
    ///   `$n` for PostgreSQL).
    package func render(placeholder: (Int) -> String = { _ in "?" }) -> (sql: String, binds: [SQLValue]) {
        var sql = ""
        var binds: [SQLValue] = []
        for part in parts {
            switch part {
            case let .sql(text): sql += text
            case let .bind(value):
                binds.append(value)
                sql += placeholder(binds.count)
            }
        }
        return (sql, binds)
    }
}

/// A statement as SQLite and MariaDB take it: text with a `?` per value, and the values in order. Built
/// straight where a statement has many values (``EventInsert``), without a list of parts to render.
package struct RenderedSQL: Sendable {
    package let sql: String
    package let binds: [SQLValue]
}
