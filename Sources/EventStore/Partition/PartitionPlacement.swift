/// Which text of a stream's name decides where the stream lives in a ``PartitionedEventStore``: streams
/// whose keys are equal live on the same member, so that a transaction over them stays on one.
public struct PartitionKey: Sendable {
    /// A short name for the rule, as a partitioned store's file spells it (`stream`, `category`, `id`,
    /// `prefix:<separator>`), or `custom`.
    public let name: String
    private let key: @Sendable (StreamName) -> String

    /// A rule of your own: streams whose keys are equal live together.
    public static func custom(_ key: @escaping @Sendable (StreamName) -> String) -> PartitionKey {
        PartitionKey(name: "custom", key: key)
    }

    /// The whole stream name (the default): streams are spread one by one.
    public static let stream = PartitionKey(name: "stream") { $0.rawValue }
    /// The category (the part before the first `-`; the whole name without one): a category lives on one
    /// member.
    public static let category = PartitionKey(name: "category") { $0.category ?? $0.rawValue }
    /// The part after the first `-` (the whole name without one): an aggregate's streams of several
    /// categories (`order-7`, `payment-7`) live together.
    public static let aggregateID = PartitionKey(name: "id") { name in
        guard let dash = name.rawValue.firstIndex(of: "-") else { return name.rawValue }
        return String(name.rawValue[name.rawValue.index(after: dash)...])
    }

    /// The part before the first `separator` (the whole name without one): a tenant's streams
    /// (`acme/order-7`, `acme/user-3`) live together.
    public static func prefix(separator: Character) -> PartitionKey {
        PartitionKey(name: "prefix:\(separator)") { name in
            guard let end = name.rawValue.firstIndex(of: separator) else { return name.rawValue }
            return String(name.rawValue[..<end])
        }
    }

    /// Reads a rule by its ``name``: `stream`, `category`, `id` or `prefix:<one character>`.
    /// - Throws: `invalidArgument` for any other text.
    public init(named text: String) throws(EventStoreError) {
        switch text {
        case "stream": self = .stream
        case "category": self = .category
        case "id": self = .aggregateID
        default:
            if text.hasPrefix("prefix:"), text.count == "prefix:".count + 1, let separator = text.last {
                self = .prefix(separator: separator)
                return
            }
            throw .invalidArgument("a partition key is stream, category, id or prefix:<one character>, not \(JSONValue.string(text).jsonText)")
        }
    }

    private init(name: String, key: @escaping @Sendable (StreamName) -> String) {
        self.name = name
        self.key = key
    }

    /// The routing key of `stream`.
    public func key(of stream: StreamName) -> String { key(stream) }

    /// The bucket of a routing key among `count`: FNV-1a (64 bits) over its UTF-8 bytes, mixed by
    /// SplitMix64's finaliser, modulo `count`. Stored placements depend on it: it never changes.
    public static func bucket(of key: String, count: Int) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        hash = (hash ^ (hash >> 30)) &* 0xbf58_476d_1ce4_e5b9
        hash = (hash ^ (hash >> 27)) &* 0x94d0_49bb_1331_11eb
        hash ^= hash >> 31
        return Int(hash % UInt64(count))
    }
}

/// Which member of a ``PartitionedEventStore`` owns each bucket, and the map's version. Every member stores
/// it, and checks each write against it: a write routed by an older map fails (`wrongPartition`) instead of
/// landing on a member that no longer owns its bucket.
public struct PlacementMap: Sendable, Hashable {
    /// Grows by one with each change.
    public let version: Int64
    /// The members' names, in the order the store was given them.
    public let members: [String]
    /// The index in ``members`` of each bucket's owner.
    public let owners: [Int]
    /// The buckets' moves, in the order they happened: where each moved bucket's copies and earlier events
    /// lie in its members' orders (a merged reader skips the copies, and delivers a moved stream's later
    /// events only after its earlier ones).
    public let arrivals: [BucketArrival]

    /// The number of buckets of a new map: a power of two well above any member count, so that buckets can
    /// be moved a few at a time.
    public static let defaultBucketCount = 1024

    /// The number of buckets (the length of ``owners``); every later version of the map keeps it.
    public var bucketCount: Int { owners.count }

    /// A first map (version 1): `members` own contiguous, nearly equal ranges of `bucketCount` buckets.
    /// - Throws: `invalidArgument` for no member, a name used twice, or fewer buckets than members.
    public static func initial(members: [String], bucketCount: Int = defaultBucketCount) throws(EventStoreError) -> PlacementMap {
        let map = PlacementMap(version: 1, members: members, owners: (0..<max(bucketCount, 0)).map { $0 * max(members.count, 1) / max(bucketCount, 1) })
        try map.validate()
        return map
    }

    /// A map as given, not checked (``validate()`` checks it).
    /// - Parameters:
    ///   - version: The map's version, 1 or more.
    ///   - members: The members' names, in the store's order.
    ///   - owners: The index in `members` of each bucket's owner, one per bucket.
    ///   - arrivals: The buckets' moves, in the order they happened; none by default.
    public init(version: Int64, members: [String], owners: [Int], arrivals: [BucketArrival] = []) {
        self.version = version
        self.members = members
        self.owners = owners
        self.arrivals = arrivals
    }

    /// The move that brought `bucket` to the member at `member` (an index in ``members``), `nil` when none did.
    public func arrival(of bucket: Int, on member: Int) -> BucketArrival? {
        arrivals.last { $0.bucket == bucket && $0.member == member }
    }

    /// The member (an index) that owned `bucket` before any move.
    public func firstOwner(of bucket: Int) -> Int {
        arrivals.first { $0.bucket == bucket }?.from ?? owners[bucket]
    }

    /// Whether the member at `member` has ever owned `bucket` (it holds the bucket's streams, as they were
    /// when it gave the bucket up, or as they are).
    public func hasHeld(_ bucket: Int, member: Int) -> Bool {
        firstOwner(of: bucket) == member || arrival(of: bucket, on: member) != nil
    }

    /// This map with `name` as a new member that owns no bucket, one version later.
    /// - Throws: `invalidArgument` for a name taken or not valid.
    public func adding(member name: String) throws(EventStoreError) -> PlacementMap {
        let map = PlacementMap(version: version + 1, members: members + [name], owners: owners, arrivals: arrivals)
        try map.validate()
        return map
    }

    /// Checks the map's shape.
    /// - Throws: `invalidArgument` naming what is wrong.
    public func validate() throws(EventStoreError) {
        if members.isEmpty { throw .invalidArgument("a placement map names one member or more") }
        if Set(members).count != members.count { throw .invalidArgument("a placement map names each member once") }
        if let bad = members.first(where: { !Self.isValid(memberName: $0) }) {
            throw .invalidArgument("a member's name has 1 to 64 ASCII letters, digits, _, - and ., not \(JSONValue.string(bad).jsonText)")
        }
        if owners.count < members.count { throw .invalidArgument("a placement map has at least a bucket per member") }
        if owners.contains(where: { !members.indices.contains($0) }) { throw .invalidArgument("a bucket's owner is not a member") }
        if version < 1 { throw .invalidArgument("a placement map's version is 1 or more") }
        for arrival in arrivals {
            guard owners.indices.contains(arrival.bucket), members.indices.contains(arrival.member), members.indices.contains(arrival.from),
                arrival.member != arrival.from
            else { throw .invalidArgument("a bucket's move names no bucket, or no member, or the same member twice") }
        }
    }

    /// Whether `name` can name a member: 1 to 64 ASCII letters, digits, `_`, `-` and `.` (it stands in
    /// ``CompositePosition``'s text).
    public static func isValid(memberName name: String) -> Bool {
        (1...64).contains(name.utf8.count)
            && name.utf8.allSatisfy { $0 < 128 && (Character(Unicode.Scalar($0)).isLetter || Character(Unicode.Scalar($0)).isNumber || "_-.".utf8.contains($0)) }
    }

    /// The buckets `member` owns.
    public func buckets(of member: String) -> [Int] {
        guard let index = members.firstIndex(of: member) else { return [] }
        return owners.indices.filter { owners[$0] == index }
    }

    /// This map with `bucket` owned by `member`, one version later, the move recorded when its positions are
    /// given (a ``PartitionedEventStore`` move always gives them).
    /// - Parameters:
    ///   - bucket: the bucket that moves.
    ///   - member: the member that owns it in the new map.
    ///   - copiedThrough: the new owner's position at or after the last copy of the bucket's streams.
    ///   - sourceThrough: the former owner's position at or after the bucket's last event there.
    public func moving(_ bucket: Int, to member: String, copiedThrough: GlobalPosition? = nil, sourceThrough: GlobalPosition? = nil)
        throws(EventStoreError) -> PlacementMap
    {
        guard owners.indices.contains(bucket) else { throw .invalidArgument("there is no bucket \(bucket) (0 to \(owners.count - 1))") }
        guard let index = members.firstIndex(of: member) else { throw .invalidArgument("no member is named \(member)") }
        var moved = owners
        moved[bucket] = index
        var arrivals = arrivals
        if let copiedThrough, let sourceThrough, owners[bucket] != index {
            arrivals.append(
                BucketArrival(bucket: bucket, member: index, from: owners[bucket], copiedThrough: copiedThrough, sourceThrough: sourceThrough))
        }
        return PlacementMap(version: version + 1, members: members, owners: moved, arrivals: arrivals)
    }

    /// The map as members store it: compact JSON.
    public var jsonText: String {
        var out = "{\"version\":\(version),\"members\":["
        for (index, member) in members.enumerated() {
            if index > 0 { out += "," }
            JSONValue.appendString(member, to: &out)
        }
        out += "],\"owners\":["
        out += owners.map(String.init).joined(separator: ",")
        out += "]"
        if !arrivals.isEmpty {
            out += ",\"arrivals\":["
            out += arrivals.map { "[\($0.bucket),\($0.member),\($0.from),\"\($0.copiedThrough)\",\"\($0.sourceThrough)\"]" }
                .joined(separator: ",")
            out += "]"
        }
        return out + "}"
    }

    /// Reads ``jsonText``.
    /// - Throws: `corrupt` for text that is not a valid map.
    public init(jsonText text: String) throws(EventStoreError) {
        guard let value = try? JSONValue(parsing: text), let version = value["version"]?.wholeNumber,
            case let .array(names)? = value["members"], case let .array(owners)? = value["owners"]
        else { throw .corrupt("a stored placement map cannot be read") }
        var members: [String] = []
        for name in names {
            guard case let .string(text) = name else { throw .corrupt("a stored placement map names a member with no string") }
            members.append(text)
        }
        var indices: [Int] = []
        indices.reserveCapacity(owners.count)
        for owner in owners {
            guard let index = owner.wholeNumber else { throw .corrupt("a stored placement map has an owner that is no index") }
            indices.append(index)
        }
        var arrivals: [BucketArrival] = []
        if case let .array(rows)? = value["arrivals"] {
            for row in rows {
                guard case let .array(cells) = row, cells.count == 5, let bucket = cells[0].wholeNumber, let member = cells[1].wholeNumber,
                    let from = cells[2].wholeNumber, case let .string(copied) = cells[3], case let .string(source) = cells[4],
                    let copiedThrough = GlobalPosition(copied), let sourceThrough = GlobalPosition(source)
                else { throw .corrupt("a stored placement map has a move that cannot be read") }
                arrivals.append(
                    BucketArrival(bucket: bucket, member: member, from: from, copiedThrough: copiedThrough, sourceThrough: sourceThrough))
            }
        } else if value["arrivals"] != nil {
            throw .corrupt("a stored placement map's moves are no list")
        }
        self.init(version: Int64(version), members: members, owners: indices, arrivals: arrivals)
        do {
            try validate()
        } catch {
            throw .corrupt("a stored placement map is not valid: \(error.reason)")
        }
    }
}

/// A bucket's move to a member, as the placement map records it: the new owner's copies of the bucket's
/// streams lie at or before `copiedThrough` in its order, and the bucket's events on the former owner at or
/// before `sourceThrough` in that one's.
public struct BucketArrival: Sendable, Hashable {
    /// The bucket moved: a number from 0 to below ``PlacementMap/bucketCount``.
    public let bucket: Int
    /// The new owner, an index in ``PlacementMap/members``.
    public let member: Int
    /// The former owner, an index in ``PlacementMap/members``.
    public let from: Int
    /// The new owner's head position once the bucket's streams were copied: its events of the bucket at or
    /// before this one are copies, which merged readers skip.
    public let copiedThrough: GlobalPosition
    /// The former owner's head position once the bucket's writes were fenced: merged readers deliver the
    /// bucket's events on the new owner only after they have read the former owner up to here.
    public let sourceThrough: GlobalPosition

    /// A move as a map records it (``PlacementMap/moving(_:to:copiedThrough:sourceThrough:)`` makes it).
    /// - Parameters:
    ///   - bucket: the bucket moved.
    ///   - member: the new owner, an index in ``PlacementMap/members``.
    ///   - from: the former owner, an index in ``PlacementMap/members``.
    ///   - copiedThrough: the new owner's position at or after the last copy of the bucket's streams.
    ///   - sourceThrough: the former owner's position at or after the bucket's last event there.
    public init(bucket: Int, member: Int, from: Int, copiedThrough: GlobalPosition, sourceThrough: GlobalPosition) {
        (self.bucket, self.member, self.from) = (bucket, member, from)
        (self.copiedThrough, self.sourceThrough) = (copiedThrough, sourceThrough)
    }
}

/// What a member says of a bucket under a map version.
public enum BucketState: String, Sendable, Hashable {
    /// The member owns the bucket under that version: it takes writes.
    case owned
    /// The member owns it, but a move has stopped its writes for a moment.
    case fenced
    /// Another member owns it, or the version is not the member's.
    case foreign
}

/// A store that can be a member of a ``PartitionedEventStore``: it stores the placement map, and checks in
/// each write's transaction that it owns the write's bucket. Every SQL backend conforms. Backend API.
public protocol PartitionMemberStore: GlobalOrderEventStore, ProjectionStore, ConsumerGroupRecordStore {
    /// The placement map this member stores, `nil` when it stores none.
    @_spi(Backend) func storedPlacement() async throws -> PlacementMap?

    /// Stores `map` as this member's (it is the member named `member`), with each bucket's state, when the
    /// map it stores now has the version `replacing` (`nil`: none): in one transaction, which waits for the
    /// writes under the old map to end.
    /// - Returns: `false`, storing nothing, when the stored map's version is another.
    @_spi(Backend) func storePlacement(_ map: PlacementMap, as member: String, replacing version: Int64?) async throws -> Bool

    /// Inside a transaction of this store (called on the store its closure got): the bucket's state under
    /// map `version`, the bucket's row held (shared) until the transaction ends, so that a change of the
    /// map waits for it.
    @_spi(Backend) func bucketState(_ bucket: Int, mapVersion version: Int64) async throws -> BucketState

    /// Stops (`fenced`) or lets again (`false`) the writes of a bucket this member owns under map `version`,
    /// in a transaction of its own that waits for the writes in flight. - Returns: the bucket's state after.
    @_spi(Backend) func fence(_ bucket: Int, mapVersion version: Int64, _ fenced: Bool) async throws -> BucketState

    /// The buckets this member's writes are fenced for (a move holds them, or a move stopped without
    /// releasing them), in order.
    @_spi(Backend) func fencedBuckets() async throws -> [Int]

    /// The names of every stream this member stores (live, soft-deleted or tombstone) after `name`, in byte
    /// order, at most `limit`.
    @_spi(Backend) func storedStreamNames(after name: String, limit: Int) async throws -> [String]

    /// Inside a transaction: the stream as this member stores it, whatever its state, with every stored event
    /// from `position` on (those a soft delete or retention hides too); `nil` when there is no such stream.
    @_spi(Backend) func storedStream(_ stream: StreamName, from position: Int) async throws -> StoredStream?

    /// Inside a transaction: writes `stream` as it was stored on another member: its events keep their
    /// positions, uuids, times and metadata, and its row its version, state and counters.
    /// - Throws: `streamExists` when this member stores a stream of that name.
    @_spi(Backend) func insertCopy(_ stream: StoredStream) async throws

    /// Inside a transaction: removes the stream and its events whatever its state (a copy that a failed
    /// move left). Nothing happens when there is no such stream.
    @_spi(Backend) func removeCopy(of stream: StreamName) async throws
}

/// A stream as a member stores it, for its copy to another member when its bucket moves.
public struct StoredStream: Sendable, Hashable {
    /// A stream row's state.
    public enum State: Int, Sendable, Hashable {
        /// The stream's life, the number its row stores: `live` (0) reads as usual; `softDeleted` (1) was
        /// deleted with ``DeleteMode/soft`` and reads as missing; `tombstone` (2) was deleted with
        /// ``DeleteMode/hard``, for good.
        case live = 0, softDeleted = 1, tombstone = 2
    }

    /// The stream's name.
    public var name: StreamName
    /// The row's id on the member it was read from (a stream deleted and made again may get another).
    public var rowID: Int64
    /// The stream's metadata (empty unless it is live: no call reads a deleted stream's).
    public var metadata: Metadata
    /// Its last position.
    public var version: Int
    /// Whether the stream is live, soft-deleted or a tombstone.
    public var state: State
    /// The first position of its present life (past the last event once soft-deleted).
    public var beginsAt: Int
    /// How many of its events retention or deletion removed.
    public var removed: Int
    /// The stored events read, in order (those a soft delete or retention hides included).
    public var events: [RecordedEvent]

    /// A stream as a member read it.
    /// - Parameters:
    ///   - name: The stream's name.
    ///   - rowID: The row's id on the member it was read from.
    ///   - metadata: The stream's metadata (empty unless it is live).
    ///   - version: Its last position.
    ///   - state: Whether it is live, soft-deleted or a tombstone.
    ///   - beginsAt: The first position of its present life.
    ///   - removed: How many of its events retention or deletion removed.
    ///   - events: The stored events read, in order.
    public init(
        name: StreamName, rowID: Int64, metadata: Metadata, version: Int, state: State, beginsAt: Int, removed: Int,
        events: [RecordedEvent]
    ) {
        (self.name, self.rowID, self.metadata, self.version, self.state) = (name, rowID, metadata, version, state)
        (self.beginsAt, self.removed, self.events) = (beginsAt, removed, events)
    }
}
