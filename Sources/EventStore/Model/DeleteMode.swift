/// How ``EventStore/delete(_:mode:)`` deletes a stream. The three modes differ in what the name allows
/// afterwards; in each, the stream's events leave every read at once (loads, the global order, and so
/// subscriptions, projections and consumer groups that have not reached them yet).
public enum DeleteMode: String, Sendable, Hashable, CaseIterable, Codable {
    /// Removes the stream and its events; the name is free, and a stream made under it again starts at
    /// position 1 (prooph's delete, and ``EventStore/delete(_:)``).
    case purge
    /// Hides the stream (KurrentDB's soft delete): it reads as missing (`streamNotFound`), and is left out of
    /// listings. `create`, or an append expecting ``ExpectedVersion/noStream``, starts it again with the
    /// metadata given, its positions going on after its last one; its earlier events stay hidden, and a
    /// scavenge removes them for good.
    case soft
    /// Removes the events and leaves a tombstone (KurrentDB's hard delete), for good: every later write,
    /// load or metadata call that names the stream fails with `streamDeleted` (HTTP 410); `hasStream` says
    /// false and listings leave it out.
    case hard
}
