/// An event's place in the store's global order: the order in which `fromAll` readers, projections and
/// subscriptions see events.
///
/// Positions increase in that order but need not be dense. A backend that orders by committing
/// transaction and then by sequence carries both parts; the others leave ``commit`` at 0. The text form
/// is `sequence`, or `commit:sequence` when ``commit`` is not 0.
public struct GlobalPosition: Sendable, Hashable, Comparable, CustomStringConvertible, LosslessStringConvertible {
    /// The committing transaction's order, 0 for backends that have a single counter.
    public var commit: Int64
    /// The event's sequence number.
    public var sequence: Int64

    /// A position from its two parts.
    /// - Parameters:
    ///   - commit: the committing transaction's order; 0 (the default) for backends with a single counter.
    ///   - sequence: the event's sequence number.
    public init(commit: Int64 = 0, sequence: Int64) {
        self.commit = commit
        self.sequence = sequence
    }

    /// Before every event.
    public static let start = GlobalPosition(commit: 0, sequence: 0)

    /// Whether `lhs` comes before `rhs` in the global order: by ``commit``, then by ``sequence``.
    /// - Parameters:
    ///   - lhs: a position.
    ///   - rhs: the position to compare it with.
    public static func < (lhs: GlobalPosition, rhs: GlobalPosition) -> Bool {
        (lhs.commit, lhs.sequence) < (rhs.commit, rhs.sequence)
    }

    /// The text form: `sequence` when ``commit`` is 0, `commit:sequence` otherwise (`1042`, `7:15`).
    public var description: String { commit == 0 ? String(sequence) : "\(commit):\(sequence)" }

    /// Reads `sequence` or `commit:sequence` (non-negative integers).
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        func value(_ part: Substring) -> Int64? {
            guard !part.isEmpty, part.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
            return Int64(part)
        }
        switch parts.count {
        case 1:
            guard let s = value(parts[0]) else { return nil }
            self.init(sequence: s)
        case 2:
            guard let c = value(parts[0]), let s = value(parts[1]) else { return nil }
            self.init(commit: c, sequence: s)
        default:
            return nil
        }
    }
}

extension GlobalPosition: Codable {
    /// Reads a number (`sequence`) or a string (`sequence` or `commit:sequence`).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let sequence = try? container.decode(Int64.self) {
            self.init(sequence: sequence)
            return
        }
        let text = try container.decode(String.self)
        guard let position = GlobalPosition(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a global position: \(text)")
        }
        self = position
    }

    /// Writes a number when ``commit`` is 0, the text form otherwise.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if commit == 0 { try container.encode(sequence) } else { try container.encode(description) }
    }
}
