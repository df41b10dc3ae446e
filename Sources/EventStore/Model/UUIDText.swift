import Foundation

/// Reads a UUID's text form (`8-4-4-4-12` hex digits, either case) from UTF-8 bytes in place, for backends
/// that store UUIDs as text.
package enum UUIDText {
    /// The UUID, or `nil` when the bytes are not one.
    package static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> UUID? {
        guard bytes.count == 36, let base = bytes.baseAddress,
            base[8] == UInt8(ascii: "-"), base[13] == UInt8(ascii: "-"), base[18] == UInt8(ascii: "-"),
            base[23] == UInt8(ascii: "-")
        else { return nil }
        // 32 digits into two 64-bit halves; a non-digit sets a high bit in `invalid`.
        var invalid: UInt8 = 0
        var halves: (UInt64, UInt64) = (0, 0)
        var i = 0
        for half in 0..<2 {
            var value: UInt64 = 0
            for _ in 0..<16 {
                if i == 8 || i == 13 || i == 18 || i == 23 { i += 1 }
                let digit = nibble(base[i])
                invalid |= digit
                value = value << 4 | UInt64(digit & 0x0F)
                i += 1
            }
            if half == 0 { halves.0 = value.bigEndian } else { halves.1 = value.bigEndian }
        }
        guard invalid & 0xF0 == 0 else { return nil }
        return UUID(uuid: unsafeBitCast(halves, to: uuid_t.self))
    }

    /// A hex digit's value, or 0xFF.
    @inline(__always) private static func nibble(_ c: UInt8) -> UInt8 {
        let digit = c &- 0x30
        if digit < 10 { return digit }
        let letter = (c | 0x20) &- 0x61
        if letter < 6 { return letter + 10 }
        return 0xFF
    }
}
