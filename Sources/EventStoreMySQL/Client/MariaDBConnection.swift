#if MySQL
import CMariaDB
import EventStore
import EventStoreSQL
import Synchronization

/// A MySQL or MariaDB error, recognised by its number (never by its text).
struct MariaDBError: Error, Sendable, CustomStringConvertible {
    let number: UInt32
    let message: String
    /// Set when the connection broke while the server ran a `COMMIT`: it may or may not have committed.
    var duringCommit = false

    /// ER_DUP_ENTRY: a unique key already has the value.
    var isDuplicateEntry: Bool { number == 1062 }
    /// ER_LOCK_WAIT_TIMEOUT and ER_LOCK_DEADLOCK.
    var isBusy: Bool { number == 1205 || number == 1213 }
    /// Client errors (2000–2999): the connection is gone or could not be made.
    var isConnectionError: Bool { (2000..<3000).contains(number) }

    /// ER_REGEXP_ERROR: a `REGEXP` reached PCRE2's recursion or match limit (MariaDB only warns with it; the
    /// connection raises it).
    var isRegexLimit: Bool { number == 1139 }

    var description: String { "MySQL error \(number): \(message)" }

    var storeError: EventStoreError {
        if duringCommit, isConnectionError {
            return .backend(
                "the connection to MySQL/MariaDB broke or timed out (query_timeout) while it committed a write, which may or "
                    + "may not have committed (outcome unknown: read before retrying; an append may be sent again with the "
                    + "same event ids)", underlying: self)
        }
        if isRegexLimit {
            return .invalidArgument(
                "MariaDB could not finish this regular expression within its limits (\(message)): simplify it, or filter a shorter text")
        }
        if isBusy {
            return EventStoreError(
                code: .busy, reason: "MySQL/MariaDB gave up waiting for a lock held by another writer", underlying: self)
        }
        return .backend("MySQL/MariaDB failed", underlying: self)
    }
}

/// One connection through libmariadb, with its prepared statements.
///
/// - Important: not thread-safe, and every call blocks: each connection is used by one worker, which runs
///   its calls on a dispatch queue of its own, never on Swift's cooperative pool.
final class MariaDBConnection: SQLCommandConnection {
    struct Settings: Sendable {
        var host: String
        var port: Int
        var username: String
        var password: String?
        var database: String?
        var connectTimeoutSeconds: UInt32
        /// How long one read from, or write to, the server may wait.
        var queryTimeoutSeconds: UInt32 = 30

        /// A timeout as the client takes it: whole seconds, rounded up, at least 1.
        static func wholeSeconds(_ duration: Duration) -> UInt32 {
            let (seconds, attoseconds) = duration.components
            return UInt32(clamping: max(1, seconds + (attoseconds > 0 ? 1 : 0)))
        }
    }

    private let handle: UnsafeMutablePointer<MYSQL>
    /// Ends a call in flight from another thread (`mariadb_cancel`), while the handle lives.
    private let interrupter: BlockingInterrupter?
    private var statements = StatementCache<UnsafeMutablePointer<MYSQL_STMT>> { mysql_stmt_close($0) }
    /// Set when a call failed because the connection is gone; the worker opens a new one.
    private(set) var isBroken = false
    /// This connection among every one this process opened: a store transaction checks it is still on the
    /// connection it began on (an address could be reused by the connection that replaced it).
    let serial = MariaDBConnection.serials.add(1, ordering: .relaxed).newValue
    private static let serials = Atomic<UInt64>(0)

    /// Whether a transaction is open on this connection, as the server's last reply said.
    var isInTransaction: Bool {
        var status: UInt32 = 0
        if mariadb_get_info(handle, MARIADB_CONNECTION_SERVER_STATUS, &status) != 0 { return true }
        return status & UInt32(SERVER_STATUS_IN_TRANS) != 0
    }

    /// Connects. - Parameter interrupter: armed with `mariadb_cancel` from the start, so that a cancelled
    ///   caller ends the connecting too.
    init(_ settings: Settings, interrupter: BlockingInterrupter? = nil) throws(MariaDBError) {
        guard let handle = mysql_init(nil) else { throw MariaDBError(number: 2008, message: "out of memory") }
        self.handle = handle
        self.interrupter = interrupter
        let cancellable = CancellableHandle(handle: handle)
        // Shuts the socket down: the call blocked on it fails at once with a lost connection (2013).
        interrupter?.arm { _ = mariadb_cancel(cancellable.handle) }
        var timeout = settings.connectTimeoutSeconds
        mysql_options(handle, MYSQL_OPT_CONNECT_TIMEOUT, &timeout)
        var queryTimeout = settings.queryTimeoutSeconds
        mysql_options(handle, MYSQL_OPT_READ_TIMEOUT, &queryTimeout)
        mysql_options(handle, MYSQL_OPT_WRITE_TIMEOUT, &queryTimeout)
        mysql_options(handle, MYSQL_SET_CHARSET_NAME, "utf8mb4")
        let connected = mysql_real_connect(
            handle, settings.host, settings.username, settings.password, settings.database, UInt32(settings.port), nil, 0)
        // Every stored property is set by now: when init throws, deinit runs and closes the handle (closing
        // it here as well freed it twice, a crash when a connection was refused).
        guard connected != nil else {
            throw MariaDBError(number: mysql_errno(handle), message: String(cString: mysql_error(handle)))
        }
        try execute("SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ENGINE_SUBSTITUTION,ANSI_QUOTES'")
        try execute("SET SESSION time_zone = '+00:00'")
        try execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
        // A wait for a row or table lock ends on the server, as a clear lock-wait error, before the read
        // timeout would end the connection (the server's defaults are 50 s and a year).
        let lockWait = max(1, Int(settings.queryTimeoutSeconds) - 1)
        try execute("SET SESSION innodb_lock_wait_timeout = \(lockWait), lock_wait_timeout = \(lockWait)")
    }

    deinit {
        interrupter?.disarm()
        statements.removeAll()
        mysql_close(handle)
    }

    private func connectionError() -> MariaDBError {
        let error = MariaDBError(number: mysql_errno(handle), message: String(cString: mysql_error(handle)))
        if error.isConnectionError { isBroken = true }
        return error
    }

    private func statementError(_ statement: UnsafeMutablePointer<MYSQL_STMT>) -> MariaDBError {
        let error = MariaDBError(number: mysql_stmt_errno(statement), message: String(cString: mysql_stmt_error(statement)))
        if error.isConnectionError { isBroken = true }
        return error
    }

    /// Runs SQL text the program wrote itself, without parameters (schema, transaction control).
    func execute(_ sql: String) throws(MariaDBError) {
        if mysql_real_query(handle, sql, UInt(sql.utf8.count)) != 0 { throw connectionError() }
        // Drain any result set so the connection is ready for the next command.
        if let result = mysql_store_result(handle) { mysql_free_result(result) }
    }

    /// Runs one statement with bound values, calling `row` for each result row (columns as text or nil).
    /// - Returns: the rows it changed and the id of the first row it inserted.
    @discardableResult
    func query(_ query: SQLQuery, row: ([String?]) throws -> Void = { _ in }) throws -> (affected: UInt64, insertID: UInt64) {
        try self.query(query.renderedWithQuestionMarks(), row: row)
    }

    /// Runs a statement already rendered, as the query above.
    @discardableResult
    func query(_ rendered: RenderedSQL, row: ([String?]) throws -> Void = { _ in }) throws -> (affected: UInt64, insertID: UInt64) {
        let (sql, binds) = (rendered.sql, rendered.binds)
        let statement = try prepared(sql)
        defer {
            mysql_stmt_free_result(statement)
            mysql_stmt_reset(statement)
        }
        let parameters = ParameterBuffers(binds)
        defer { parameters.deallocate() }
        if !binds.isEmpty, mysql_stmt_bind_param(statement, parameters.binds) != 0 { throw statementError(statement) }
        if mysql_stmt_execute(statement) != 0 { throw statementError(statement) }
        let affected = mysql_stmt_affected_rows(statement)
        let insertID = mysql_stmt_insert_id(statement)
        let columns = Int(mysql_stmt_field_count(statement))
        guard columns > 0 else { return (affected, insertID) }
        let results = ResultBuffers(columns: columns)
        defer { results.deallocate() }
        if mysql_stmt_bind_result(statement, results.binds) != 0 { throw statementError(statement) }
        while true {
            let rc = mysql_stmt_fetch(statement)
            if rc == 1 { throw statementError(statement) }
            if rc == MYSQL_NO_DATA { break }
            var values: [String?] = []
            values.reserveCapacity(columns)
            for column in 0..<columns {
                values.append(try results.value(column, statement: statement))
            }
            try row(values)
        }
        // A CALL answers its result set and then its own status: read them all, or the connection is out
        // of step with the server.
        while mysql_stmt_more_results(statement) != 0 {
            let next = mysql_stmt_next_result(statement)
            if next > 0 { throw statementError(statement) }
            if next < 0 { break }
            mysql_stmt_free_result(statement)
        }
        // The warning count of a prepared statement's result does not reach the client here: ask.
        if sql.contains(" REGEXP ") { try failOnRegexLimit() }
        return (affected, UInt64(insertID))
    }

    /// MariaDB answers a `REGEXP` that reached PCRE2's recursion or match limit with "no match" and the warning
    /// 1139: a wrong answer, so here it is an error.
    private func failOnRegexLimit() throws(MariaDBError) {
        let sql = "SHOW WARNINGS"
        if mysql_real_query(handle, sql, UInt(sql.utf8.count)) != 0 { throw connectionError() }
        guard let result = mysql_store_result(handle) else { return }
        defer { mysql_free_result(result) }
        // Level, Code, Message.
        while let row = mysql_fetch_row(result) {
            guard let code = row[1], String(cString: code) == "1139" else { continue }
            throw MariaDBError(number: 1139, message: row[2].map { String(cString: $0) } ?? "regular expression error")
        }
    }

    private func prepared(_ sql: String) throws(MariaDBError) -> UnsafeMutablePointer<MYSQL_STMT> {
        try statements.statement(for: sql) { () throws(MariaDBError) in
            guard let statement = mysql_stmt_init(handle) else { throw connectionError() }
            if mysql_stmt_prepare(statement, sql, UInt(sql.utf8.count)) != 0 {
                let error = statementError(statement)
                mysql_stmt_close(statement)
                throw error
            }
            return statement
        }
    }

    /// Runs `body` in a transaction, committing when it returns and rolling back when it throws.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("START TRANSACTION")
        let result: T
        do {
            result = try body()
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
        try commit()
        return result
    }

    /// Commits the open transaction. - Throws: a ``MariaDBError`` marked ``MariaDBError/duringCommit``.
    func commit() throws(MariaDBError) {
        do throws(MariaDBError) {
            try execute("COMMIT")
        } catch {
            var lost = error
            lost.duringCommit = true
            throw lost
        }
    }
}

/// The handle `mariadb_cancel` takes from another thread: the interrupter calls it only while the connection
/// lives, under its lock.
private struct CancellableHandle: @unchecked Sendable {
    let handle: UnsafeMutablePointer<MYSQL>
}

/// The input buffers of one execution, kept alive until it ends.
private struct ParameterBuffers {
    let binds: UnsafeMutablePointer<MYSQL_BIND>
    private var storage: [UnsafeMutableRawPointer] = []
    private let lengths: UnsafeMutablePointer<UInt>
    private let count: Int

    init(_ values: [SQLValue]) {
        count = values.count
        binds = .allocate(capacity: max(1, count))
        binds.initialize(repeating: MYSQL_BIND(), count: max(1, count))
        lengths = .allocate(capacity: max(1, count))
        lengths.initialize(repeating: 0, count: max(1, count))
        for (index, value) in values.enumerated() {
            switch value {
            case .null:
                binds[index].buffer_type = MYSQL_TYPE_NULL
            case let .int(i):
                bind(i, as: MYSQL_TYPE_LONGLONG, at: index)
            case let .double(d):
                bind(d, as: MYSQL_TYPE_DOUBLE, at: index)
            case let .text(s):
                let bytes = Array(s.utf8)
                let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(1, bytes.count), alignment: 1)
                bytes.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress ?? UnsafeRawPointer(buffer), byteCount: bytes.count) }
                storage.append(buffer)
                lengths[index] = UInt(bytes.count)
                binds[index].buffer_type = MYSQL_TYPE_STRING
                binds[index].buffer = buffer
                binds[index].buffer_length = UInt(bytes.count)
                binds[index].length = lengths + index
            }
        }
    }

    /// Binds an 8-byte number in a buffer of its own.
    private mutating func bind<Number: BitwiseCopyable>(_ number: Number, as type: enum_field_types, at index: Int) {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<Number>.size, alignment: 8)
        buffer.storeBytes(of: number, as: Number.self)
        storage.append(buffer)
        binds[index].buffer_type = type
        binds[index].buffer = buffer
    }

    func deallocate() {
        for buffer in storage { buffer.deallocate() }
        binds.deallocate()
        lengths.deallocate()
    }
}

/// The output buffers of a result, every column fetched as text.
private struct ResultBuffers {
    static let initialSize = 512
    let binds: UnsafeMutablePointer<MYSQL_BIND>
    private let buffers: UnsafeMutablePointer<UInt8>
    private let lengths: UnsafeMutablePointer<UInt>
    private let nulls: UnsafeMutablePointer<CChar>
    private let columns: Int

    init(columns: Int) {
        self.columns = columns
        binds = .allocate(capacity: columns)
        binds.initialize(repeating: MYSQL_BIND(), count: columns)
        buffers = .allocate(capacity: columns * Self.initialSize)
        lengths = .allocate(capacity: columns)
        lengths.initialize(repeating: 0, count: columns)
        nulls = .allocate(capacity: columns)
        nulls.initialize(repeating: 0, count: columns)
        for column in 0..<columns {
            binds[column].buffer_type = MYSQL_TYPE_STRING
            binds[column].buffer = UnsafeMutableRawPointer(buffers + column * Self.initialSize)
            binds[column].buffer_length = UInt(Self.initialSize)
            binds[column].length = lengths + column
            binds[column].is_null = nulls + column
        }
    }

    /// The fetched value of a column, reading the rest of a long value from the server when it did not fit.
    func value(_ column: Int, statement: UnsafeMutablePointer<MYSQL_STMT>) throws(MariaDBError) -> String? {
        if nulls[column] != 0 { return nil }
        let length = Int(lengths[column])
        if length <= Self.initialSize {
            return String(decoding: UnsafeBufferPointer(start: buffers + column * Self.initialSize, count: length), as: UTF8.self)
        }
        let full = UnsafeMutablePointer<UInt8>.allocate(capacity: length)
        defer { full.deallocate() }
        var bind = MYSQL_BIND()
        var fetchedLength: UInt = 0
        bind.buffer_type = MYSQL_TYPE_STRING
        bind.buffer = UnsafeMutableRawPointer(full)
        bind.buffer_length = UInt(length)
        return try withUnsafeMutablePointer(to: &fetchedLength) { lengthPointer throws(MariaDBError) in
            bind.length = lengthPointer
            if mysql_stmt_fetch_column(statement, &bind, UInt32(column), 0) != 0 {
                throw MariaDBError(number: mysql_stmt_errno(statement), message: String(cString: mysql_stmt_error(statement)))
            }
            return String(decoding: UnsafeBufferPointer(start: full, count: Int(lengthPointer.pointee)), as: UTF8.self)
        }
    }

    func deallocate() {
        binds.deallocate()
        buffers.deallocate()
        lengths.deallocate()
        nulls.deallocate()
    }
}
#endif
