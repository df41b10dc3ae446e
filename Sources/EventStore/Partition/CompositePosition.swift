/// A position in a ``PartitionedEventStore``'s order: one global position per member, each in that member's
/// own order. It is ordered only partially (there is no order across members), so it is no
/// ``GlobalPosition``: a reader of the whole store keeps one, and reads each member after its part.
///
/// Its text (``description``) lists each member's part as `name=position`, in name order, joined by `,`:
/// `a=1042,b=7:15,c=0`; a member it does not name is at its start.
public struct CompositePosition: Sendable, Hashable, CustomStringConvertible, LosslessStringConvertible {
    /// Each member's part, by member name; a member missing here is at ``GlobalPosition/start``.
    public private(set) var parts: [String: GlobalPosition]

    /// Before every event of every member.
    public static let start = CompositePosition(parts: [:])

    /// A position made of each member's part; parts at ``GlobalPosition/start`` are left out.
    /// - Parameter parts: each member's global position, by member name.
    public init(parts: [String: GlobalPosition]) {
        self.parts = parts.filter { $0.value != .start }
    }

    /// The member's part.
    public subscript(member: String) -> GlobalPosition {
        get { parts[member] ?? .start }
        set { parts[member] = newValue == .start ? nil : newValue }
    }

    /// `true` when every member's part is at or after `other`'s: a reader at this position has seen every
    /// event one at `other` has.
    public func isAtOrAfter(_ other: CompositePosition) -> Bool {
        other.parts.allSatisfy { self[$0.key] >= $0.value }
    }

    /// Each member's part as `name=position`, in name order, joined by `,` (`a=1042,b=7:15`); the empty text
    /// for ``start``.
    public var description: String {
        parts.keys.sorted().map { "\($0)=\(parts[$0]!)" }.joined(separator: ",")
    }

    /// Reads ``description``; the empty text is ``start``. `nil` for anything else.
    public init?(_ text: String) {
        var parts: [String: GlobalPosition] = [:]
        for part in text.split(separator: ",", omittingEmptySubsequences: false) where !text.isEmpty {
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pieces.count == 2, PlacementMap.isValid(memberName: String(pieces[0])), parts[String(pieces[0])] == nil,
                let position = GlobalPosition(String(pieces[1]))
            else { return nil }
            parts[String(pieces[0])] = position
        }
        self.init(parts: parts)
    }
}

/// An event of a ``PartitionedEventStore``'s merged order: the event, its member, and the composite
/// position just after it (where a reader that handled it resumes).
public struct PartitionedEvent: Sendable, Hashable {
    /// The event as its member stored it: its `globalPosition` is in that member's own order.
    public let event: RecordedEvent
    /// The name of the member it was read from (``PartitionedEventStore/Member/name``).
    public let member: String
    /// The composite position just after the event: where a reader that handled it resumes.
    public let position: CompositePosition
}

/// A page of a ``PartitionedEventStore``'s merged order.
public struct PartitionedPage: Sendable {
    /// The events, merged by `createdAt` (the earliest first), each member's kept in its own order.
    public let events: [PartitionedEvent]
    /// Where the next page starts: after the last event, or further when members were read to their
    /// readable end (a short page skips what no reader can see anyway, as ``GlobalOrderPage`` does).
    public let position: CompositePosition
    /// The members that could not be read, with their failures: their parts of ``position`` stayed.
    public let unavailable: [String: EventStoreError]

    /// A page of merged events.
    /// - Parameters:
    ///   - events: The events, in merged order.
    ///   - position: Where the next page starts.
    ///   - unavailable: The members that could not be read, by name, with their failures; none by default.
    public init(events: [PartitionedEvent], position: CompositePosition, unavailable: [String: EventStoreError] = [:]) {
        (self.events, self.position, self.unavailable) = (events, position, unavailable)
    }
}
