import Foundation

/// Microsecond UTC timestamps: the precision every backend stores, and their one text form
/// `yyyy-MM-ddTHH:mm:ss.ffffff` (prooph's `Y-m-d\TH:i:s.u`), which sorts in time order.
public enum Timestamp {
    /// 0001-01-01T00:00:00.000000
    static let minMicroseconds: Int64 = -62_135_596_800_000_000
    /// 9999-12-31T23:59:59.999999
    static let maxMicroseconds: Int64 = 253_402_300_799_999_999

    /// Microseconds since 1970 for a date, rounded to the nearest microsecond and clamped to the years 1–9999.
    public static func microseconds(_ date: Date) -> Int64 {
        let value = (date.timeIntervalSince1970 * 1_000_000).rounded()
        guard value.isFinite else { return 0 }
        if value <= Double(minMicroseconds) { return minMicroseconds }
        if value >= Double(maxMicroseconds) { return maxMicroseconds }
        return Int64(value)
    }

    /// The date at microseconds since 1970.
    public static func date(microseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(microseconds) / 1_000_000)
    }

    /// `yyyy-MM-ddTHH:mm:ss.ffffff`, in UTC.
    /// - Parameters:
    ///   - microseconds: microseconds since 1970, in UTC.
    ///   - dateTimeSeparator: between date and time: `T`, or a space for MySQL's `DATETIME` text.
    public static func format(microseconds: Int64, dateTimeSeparator: Unicode.Scalar = "T") -> String {
        let (days, microOfDay) = floorDivide(microseconds, 86_400_000_000)
        let (year, month, day) = civil(fromDays: days)
        let seconds = microOfDay / 1_000_000
        let fraction = microOfDay % 1_000_000
        guard (0...9999).contains(year) else {
            return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + String(dateTimeSeparator) + pad(seconds / 3600, 2) + ":"
                + pad(seconds / 60 % 60, 2) + ":" + pad(seconds % 60, 2) + "." + pad(fraction, 6)
        }
        // The common case written into one buffer: every append writes one per event.
        return String(unsafeUninitializedCapacity: 26) { text in
            write(year: year, month: month, day: day, microOfDay: microOfDay, separator: dateTimeSeparator, into: text)
        }
    }

    /// Writes `yyyy-MM-ddTHH:mm:ss.ffffff` into `text` (26 bytes) and returns 26; `nil`, with nothing written,
    /// for a year outside 0–9999 (``format(microseconds:dateTimeSeparator:)`` writes those).
    package static func write(microseconds: Int64, into text: UnsafeMutableBufferPointer<UInt8>) -> Int? {
        let (days, microOfDay) = floorDivide(microseconds, 86_400_000_000)
        let (year, month, day) = civil(fromDays: days)
        guard (0...9999).contains(year) else { return nil }
        return write(year: year, month: month, day: day, microOfDay: microOfDay, separator: "T", into: text)
    }

    private static func write(
        year: Int64, month: Int64, day: Int64, microOfDay: Int64, separator dateTimeSeparator: Unicode.Scalar,
        into text: UnsafeMutableBufferPointer<UInt8>
    ) -> Int {
        let seconds = microOfDay / 1_000_000
        let fraction = microOfDay % 1_000_000
        var at = 0
        func put(_ value: Int64, _ width: Int) {
            var rest = value
            for index in stride(from: at + width - 1, through: at, by: -1) {
                text[index] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            }
            at += width
        }
        func put(_ separator: Unicode.Scalar) {
            text[at] = UInt8(ascii: separator)
            at += 1
        }
        put(year, 4)
        put("-")
        put(month, 2)
        put("-")
        put(day, 2)
        put(dateTimeSeparator)
        put(seconds / 3600, 2)
        put(":")
        put(seconds / 60 % 60, 2)
        put(":")
        put(seconds % 60, 2)
        put(".")
        put(fraction, 6)
        return at
    }

    /// `yyyy-MM-ddTHH:mm:ss.ffffff`, in UTC.
    public static func format(_ date: Date) -> String { format(microseconds: microseconds(date)) }

    /// Reads `yyyy-MM-dd[T| ]HH:mm:ss[.f{1,9}][Z|±HH:MM]`; without a zone the time is UTC.
    /// - Returns: microseconds since 1970, or `nil` when the text is not such a timestamp.
    public static func parseMicroseconds(_ text: String) -> Int64? {
        var text = text
        return text.withUTF8 { parseMicroseconds(utf8: $0) }
    }

    /// ``parseMicroseconds(_:)`` over UTF-8 bytes, for backends that read a column in place.
    @_spi(Backend) public static func parseMicroseconds(utf8 b: UnsafeBufferPointer<UInt8>) -> Int64? {
        var i = 0
        func number(_ digits: Int) -> Int64? {
            guard i + digits <= b.count else { return nil }
            var value: Int64 = 0
            for _ in 0..<digits {
                let c = b[i]
                guard c >= 48, c <= 57 else { return nil }
                value = value * 10 + Int64(c - 48)
                i += 1
            }
            return value
        }
        func expect(_ char: UInt8, or other: UInt8? = nil, or third: UInt8? = nil) -> Bool {
            guard i < b.count, b[i] == char || b[i] == other || b[i] == third else { return false }
            i += 1
            return true
        }
        guard let year = number(4), expect(45), let month = number(2), expect(45), let day = number(2),
            expect(84, or: 116, or: 32), let hour = number(2), expect(58), let minute = number(2), expect(58),
            let second = number(2)
        else { return nil }
        guard (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day), hour < 24,
            minute < 60, second < 60, year >= 1
        else { return nil }
        var micros: Int64 = 0
        if i < b.count, b[i] == 46 {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                if digits < 6 { micros = micros * 10 + Int64(b[i] - 48) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 6) { micros *= 10 }
        }
        var offsetSeconds: Int64 = 0
        if i < b.count {
            if b[i] == 90 || b[i] == 122 {
                i += 1
            } else if b[i] == 43 || b[i] == 45 {
                let sign: Int64 = b[i] == 45 ? -1 : 1
                i += 1
                guard let oh = number(2) else { return nil }
                _ = expect(58)
                guard let om = number(2), oh < 24, om < 60 else { return nil }
                offsetSeconds = sign * (oh * 3600 + om * 60)
            }
        }
        guard i == b.count else { return nil }
        let days = self.days(fromCivil: year, month, day)
        let total = (days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds) * 1_000_000 + micros
        return min(max(total, minMicroseconds), maxMicroseconds)
    }

    // MARK: Calendar arithmetic (proleptic Gregorian, H. Hinnant's algorithms)

    private static func floorDivide(_ a: Int64, _ b: Int64) -> (Int64, Int64) {
        let q = a / b
        let r = a % b
        return r < 0 ? (q - 1, r + b) : (q, r)
    }

    private static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    private static func days(fromCivil y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}
