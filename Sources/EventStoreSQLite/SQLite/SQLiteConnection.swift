import CSQLite
@_spi(Backend) import EventStore
import EventStoreSQL
import Foundation

/// One SQLite connection and its prepared statements.
///
/// - Important: not thread-safe. Each connection is used by one ``SQLiteWorker`` only, which runs its
///   jobs serially on a thread of its own, off Swift's cooperative pool.
final class SQLiteConnection: SQLCommandConnection {
    private let handle: OpaquePointer
    private var statements = StatementCache<OpaquePointer> { sqlite3_finalize($0) }
    private let regexCache: Unmanaged<RegexCache>

    /// Opens (and creates, unless `readOnly`) the database file.
    init(path: String, readOnly: Bool, busyTimeoutMilliseconds: Int32) throws(EventStoreError) {
        var db: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close_v2(db) }
            throw EventStoreError.backend(
                "could not open the SQLite database at \(path)", underlying: SQLiteError(code: rc, message: message))
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
        regexCache = Unmanaged.passRetained(RegexCache())
        let registered = sqlite3_create_function_v2(
            db, "es_regexp", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, regexCache.toOpaque(), esRegexpFunction, nil, nil, nil)
        guard registered == SQLITE_OK else {
            let error = SQLiteError(code: registered, message: String(cString: sqlite3_errmsg(db)))
            sqlite3_close_v2(db)
            regexCache.release()
            throw error.storeError
        }
    }

    deinit {
        statements.removeAll()
        sqlite3_close_v2(handle)
        regexCache.release()
    }

    private func error(_ rc: Int32) -> SQLiteError {
        SQLiteError(code: sqlite3_extended_errcode(handle), message: String(cString: sqlite3_errmsg(handle)))
    }

    /// Runs SQL text without parameters (several statements allowed): schema and pragmas.
    func execute(_ sql: String) throws(SQLiteError) {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? "unknown error"
            sqlite3_free(message)
            throw SQLiteError(code: sqlite3_extended_errcode(handle), message: text)
        }
    }

    /// Runs one statement, calling `row` for each result row.
    func query(_ query: SQLQuery, row: (SQLiteRow) throws -> Void = { _ in }) throws {
        try self.query(query.renderedWithQuestionMarks(), row: row)
    }

    /// Runs a statement already rendered, calling `row` for each result row.
    func query(_ rendered: RenderedSQL, row: (SQLiteRow) throws -> Void = { _ in }) throws {
        let (sql, binds) = (rendered.sql, rendered.binds)
        let statement = try prepared(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (index, value) in binds.enumerated() {
            let position = Int32(index + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(statement, position)
            case let .int(i): rc = sqlite3_bind_int64(statement, position, i)
            case let .double(d): rc = sqlite3_bind_double(statement, position, d)
            case let .text(s):
                // With its length: a C string would end the text at its first U+0000.
                var text = s
                rc = text.withUTF8 { bytes in
                    bytes.withMemoryRebound(to: CChar.self) { chars in
                        // A nil pointer would bind NULL, not the empty text.
                        guard let start = chars.baseAddress, !chars.isEmpty else {
                            return sqlite3_bind_text(statement, position, "", 0, sqliteTransient)
                        }
                        return sqlite3_bind_text(statement, position, start, Int32(chars.count), sqliteTransient)
                    }
                }
            }
            if rc != SQLITE_OK { throw error(rc) }
        }
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_ROW {
                try row(SQLiteRow(statement: statement))
            } else if rc == SQLITE_DONE {
                return
            } else {
                throw error(rc)
            }
        }
    }

    /// The rowid of the last row inserted on this connection.
    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    private func prepared(_ sql: String) throws(SQLiteError) -> OpaquePointer {
        try statements.statement(for: sql) { () throws(SQLiteError) in
            var statement: OpaquePointer?
            let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
            guard rc == SQLITE_OK, let statement else { throw error(rc) }
            return statement
        }
    }

    /// Runs `body` in a transaction (`BEGIN IMMEDIATE`, so that the write lock is taken at once and a busy
    /// database is waited for up front), committing when it returns and rolling back when it throws.
    func immediateTransaction<T>(_ body: () throws -> T) throws -> T {
        try transaction(begin: "BEGIN IMMEDIATE", body)
    }
}

/// The current row of a statement, valid only inside the row callback.
struct SQLiteRow {
    let statement: OpaquePointer

    func int(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }

    func text(_ column: Int32) -> String { bytes(column) { String(decoding: $0, as: UTF8.self) } }

    /// The column's text as UTF-8 bytes, valid only inside `body`.
    func bytes<T>(_ column: Int32, _ body: (UnsafeBufferPointer<UInt8>) -> T) -> T {
        guard let bytes = sqlite3_column_text(statement, column) else { return body(UnsafeBufferPointer(start: nil, count: 0)) }
        return body(UnsafeBufferPointer(start: bytes, count: Int(sqlite3_column_bytes(statement, column))))
    }
}

/// Compiled patterns of `es_regexp`, per connection (used on its worker's thread only).
private final class RegexCache {
    var patterns: [String: CompiledRegex?] = [:]

    func regex(_ pattern: String) -> CompiledRegex? {
        if let cached = patterns[pattern] { return cached }
        let compiled = try? RegexPattern.compile(pattern)
        if patterns.count > 256 { patterns.removeAll() }
        patterns[pattern] = compiled
        return compiled
    }
}

/// `es_regexp(pattern, text)`: 1 when the ICU pattern finds a match in the text, 0 otherwise, NULL for NULL.
private func esRegexpFunction(
    _ context: OpaquePointer?, _ count: Int32, _ arguments: UnsafeMutablePointer<OpaquePointer?>?
) {
    guard let context, let arguments, count == 2, let patternValue = arguments[0], let textValue = arguments[1],
        sqlite3_value_type(patternValue) != SQLITE_NULL, sqlite3_value_type(textValue) != SQLITE_NULL,
        let patternBytes = sqlite3_value_text(patternValue), let textBytes = sqlite3_value_text(textValue),
        let userData = sqlite3_user_data(context)
    else {
        sqlite3_result_null(context)
        return
    }
    let cache = Unmanaged<RegexCache>.fromOpaque(userData).takeUnretainedValue()
    // By their lengths, as they were bound (a C string ends at U+0000).
    let pattern = String(decoding: UnsafeBufferPointer(start: patternBytes, count: Int(sqlite3_value_bytes(patternValue))), as: UTF8.self)
    let text = String(decoding: UnsafeBufferPointer(start: textBytes, count: Int(sqlite3_value_bytes(textValue))), as: UTF8.self)
    sqlite3_result_int(context, cache.regex(pattern)?.matches(text) == true ? 1 : 0)
}
