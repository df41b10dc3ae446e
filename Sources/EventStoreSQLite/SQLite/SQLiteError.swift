import CSQLite
import EventStore

/// An SQLite result code with the database's message, recognised by code (never by text).
struct SQLiteError: Error, Sendable, CustomStringConvertible {
    /// The extended result code.
    let code: Int32
    let message: String

    /// The primary result code.
    var primaryCode: Int32 { code & 0xFF }

    var isBusy: Bool { primaryCode == SQLITE_BUSY || primaryCode == SQLITE_LOCKED }
    var isUniqueViolation: Bool { code == Self.constraintUnique || code == Self.constraintPrimaryKey }

    // Extended codes are C macros built with shifts, which Swift does not import.
    /// `SQLITE_CONSTRAINT_UNIQUE`: `SQLITE_CONSTRAINT | (8 << 8)`.
    static let constraintUnique: Int32 = SQLITE_CONSTRAINT | (8 << 8)
    /// `SQLITE_CONSTRAINT_PRIMARYKEY`: `SQLITE_CONSTRAINT | (6 << 8)`.
    static let constraintPrimaryKey: Int32 = SQLITE_CONSTRAINT | (6 << 8)

    var description: String { "SQLite error \(code): \(message)" }

    /// The store's error for this failure.
    var storeError: EventStoreError {
        if isBusy {
            return EventStoreError(
                code: .busy, reason: "the SQLite database stayed locked by another writer past the busy timeout",
                underlying: self)
        }
        return .backend("SQLite failed", underlying: self)
    }
}

// SQLITE_TRANSIENT is a C macro Swift cannot import: the destructor value -1 tells SQLite to copy the bytes.
let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
