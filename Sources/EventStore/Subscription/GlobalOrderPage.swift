/// One page of the global order, and how far the read looked.
public struct GlobalOrderPage: Sendable {
    /// The events of the target, in global order.
    public var events: [RecordedEvent]
    /// Every event of the target after the position read from and up to this one is in ``events``: the next
    /// read may start after it. At least the position read from, and the last event's.
    ///
    /// A full page looks no further than its last event; a shorter one as far as the store could read (its
    /// readable head then), so that a reader of a quiet target does not read again, at each poll, every
    /// event of other targets stored since its own last one.
    public var readThrough: GlobalPosition

    /// A page of at most `limit` `events` read after `position`. `readable` is a position up to which the
    /// read saw every event committed (`nil` where the store cannot tell): how far a short page looked.
    public init(events: [RecordedEvent], after position: GlobalPosition, limit: Int, readable: GlobalPosition?) {
        self.events = events
        let last = events.last?.globalPosition ?? position
        readThrough = Swift.max(position, last, events.count < limit ? readable ?? .start : .start)
    }
}
