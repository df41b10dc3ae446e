import CLibPQ
import EventStore
import Foundation

/// libpq called straight, for the PostgreSQL baseline's reads when the store reads through libpq: the
/// fastest client this machine has, so the store's read ratios say how close it comes to it. Queries are
/// unnamed statements (as the store's reader sends them), results come in binary, and each row's values are taken out (integers decoded, texts made
/// Swift strings), as a driver hands rows over; one blocking connection on a dispatch queue of its own.
final class LibPQRaw: @unchecked Sendable {
    private let queue = DispatchQueue(label: "eventstore.bench.libpq")
    private let connection: OpaquePointer

    /// Connects with `conninfo`, or returns nil when libpq cannot be loaded.
    init?(conninfo: String) throws {
        guard eslpq_load() == 1 else { return nil }
        guard let connection = eslpq_connect(conninfo) else { throw BenchFailure("libpq could not allocate a connection") }
        guard eslpq_is_ok(connection) == 1 else {
            defer { eslpq_finish(connection) }
            throw BenchFailure("libpq could not connect: \(String(cString: eslpq_error_message(connection)))")
        }
        self.connection = connection
    }

    deinit { eslpq_finish(connection) }

    /// Runs `sql` with text `parameters` of the given type OIDs (20 int8, 25 text). - Returns: how many rows,
    /// the first column of the last row (an int8), and a sum over the values taken (so that no optimiser
    /// leaves them out).
    func rows(_ sql: String, _ parameters: [(type: UInt32, value: String)]) async throws -> RawRows {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try self.run(sql, parameters) })
            }
        }
    }

    private func run(_ sql: String, _ parameters: [(type: UInt32, value: String)]) throws -> RawRows {
        let copies = parameters.map { strdup($0.value) }
        defer { copies.forEach { free($0) } }
        let values = copies.map { UnsafePointer($0) }
        let types = parameters.map(\.type)
        guard let result = eslpq_exec_params(connection, sql, Int32(values.count), types, values, 1) else {
            throw BenchFailure("libpq: \(String(cString: eslpq_error_message(connection)))")
        }
        defer { eslpq_clear(result) }
        guard eslpq_result_is_ok(result) == 1 else { throw BenchFailure("libpq: \(String(cString: eslpq_result_error(result)))") }
        let (rows, columns) = (eslpq_rows(result), eslpq_columns(result))
        var taken = RawRows(count: Int(rows), last: 0, sum: 0)
        for row in 0..<rows {
            for column in 0..<columns { Self.take(result, row, column, into: &taken) }
        }
        return taken
    }

    /// Takes one value out of a row: 8-byte values (int8, timestamptz) as integers, 16-byte ones (uuid) as
    /// bytes, the others (text) as strings. The first column's integer is kept as `last`.
    private static func take(_ result: OpaquePointer, _ row: Int32, _ column: Int32, into taken: inout RawRows) {
        let length = Int(eslpq_length(result, row, column))
        guard length > 0, let start = eslpq_value(result, row, column) else { return }
        start.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
            let buffer = UnsafeBufferPointer(start: bytes, count: length)
            switch (length, column) {
            case (8, 0), (8, 1), (8, 6):
                let value = Int64(bitPattern: buffer.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
                if column == 0 { taken.last = value }
                taken.sum &+= Int(truncatingIfNeeded: value)
            case (16, 2):
                taken.sum &+= UUID(uuid: (buffer[0], buffer[1], buffer[2], buffer[3], buffer[4], buffer[5], buffer[6], buffer[7],
                    buffer[8], buffer[9], buffer[10], buffer[11], buffer[12], buffer[13], buffer[14], buffer[15])).hashValue
            default:
                taken.sum &+= String(decoding: buffer, as: UTF8.self).utf8.count
            }
        }
    }
}

/// What ``LibPQRaw/rows(_:_:)`` read.
struct RawRows: Sendable {
    var count: Int
    var last: Int64
    var sum: Int
}
