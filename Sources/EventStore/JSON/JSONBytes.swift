import Foundation

/// JSON written as UTF-8 bytes: what the HTTP API sends, a page of events into one buffer, with no Swift
/// string made and appended per part (a string's append checks and updates its own state each time).
package struct JSONBytes {
    package var bytes: [UInt8] = []

    package init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    /// Text written as it is (JSON already, or a literal part of it).
    package mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Text written as it is (JSON already).
    package mutating func append(raw text: String) {
        var text = text
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// Text written as a JSON string, escaped as ``JSONWriter/writeString(_:into:)`` escapes it.
    package mutating func appendQuoted(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            bytes.append(UInt8(ascii: "\""))
            // Every byte to escape is ASCII; the bytes of multi-byte sequences are 0x80 or more and pass.
            var plainStart = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[plainStart..<index]))
                switch byte {
                case UInt8(ascii: "\""): append("\\\"")
                case UInt8(ascii: "\\"): append("\\\\")
                case UInt8(ascii: "\n"): append("\\n")
                case UInt8(ascii: "\r"): append("\\r")
                case UInt8(ascii: "\t"): append("\\t")
                case 0x08: append("\\b")
                case 0x0C: append("\\f")
                default:
                    let hex: StaticString = "0123456789abcdef"
                    append("\\u00")
                    hex.withUTF8Buffer { digits in
                        bytes.append(digits[Int(byte >> 4)])
                        bytes.append(digits[Int(byte & 0x0F)])
                    }
                }
                plainStart = index + 1
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[plainStart...]))
            bytes.append(UInt8(ascii: "\""))
        }
    }

    package mutating func append<Number: BinaryInteger>(_ number: Number) {
        append(raw: String(number))
    }

    /// A uuid in its lowercase text form, written in place.
    package mutating func append(uuid: UUID) {
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: 36))
        _ = bytes.withUnsafeMutableBufferPointer { uuid.write(into: UnsafeMutableBufferPointer(rebasing: $0[start...])) }
    }

    /// A time as `yyyy-MM-ddTHH:mm:ss.ffffff` (``Timestamp/format(microseconds:dateTimeSeparator:)``), written in place.
    package mutating func append(timestampMicroseconds microseconds: Int64) {
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: 26))
        let written = bytes.withUnsafeMutableBufferPointer {
            Timestamp.write(microseconds: microseconds, into: UnsafeMutableBufferPointer(rebasing: $0[start...]))
        }
        if written == nil {
            bytes.removeLast(26)
            append(raw: Timestamp.format(microseconds: microseconds))
        }
    }
}
