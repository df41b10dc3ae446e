import Foundation

/// The data of an in-memory store and the operations on it, as a value: a transaction works on a copy
/// and the store takes the copy back on commit.
struct InMemoryState: Sendable {
    struct StoredEvent: Sendable {
        /// As written, without `_position`; `nil` once a scavenge removed it.
        var message: EventMessage?
        let position: Int
        let globalPosition: Int64
    }

    struct Stream: Sendable {
        var metadata: Metadata {
            didSet { retention = (try? StreamRetention(metadata)) ?? StreamRetention() }
        }
        var events: [StoredEvent] = []
        var uuids: Set<UUID> = []
        var aggregateKeys: Set<AggregateKey> = []
        /// What the metadata says of retention (checked when the metadata was written).
        private(set) var retention = StreamRetention()
        /// The first position of the stream's present life: a soft delete sets it past the last event, so
        /// that the events before stay hidden once the stream is started again.
        var beginsAt = 0

        init(metadata: Metadata) {
            self.metadata = metadata
            retention = (try? StreamRetention(metadata)) ?? StreamRetention()
        }

        var version: Int { events.count }

        /// The event at `index` when it is stored and within retention at `now` (microseconds since 1970).
        func visible(at index: Int, now: Int64) -> EventMessage? {
            let stored = events[index]
            guard let message = stored.message, stored.position >= beginsAt else { return nil }
            guard retention.isEmpty
                || retention.keeps(position: stored.position, createdAtMicros: message.createdAtMicros, version: version, nowMicros: now)
            else { return nil }
            return message
        }
    }

    private(set) var streams: [StreamName: Stream] = [:]
    /// Soft-deleted streams (``DeleteMode/soft``), out of `streams`: kept for their numbering, and their
    /// hidden events until a scavenge.
    private var softDeleted: [StreamName: Stream] = [:]
    /// Streams deleted for good (``DeleteMode/hard``).
    private var tombstones: Set<StreamName> = []
    private(set) var lastGlobalPosition: Int64 = 0
    /// Every event ever recorded, in global order (entries of deleted streams are skipped on read).
    private var globalLog: [(stream: StreamName, position: Int, global: Int64)] = []
    var checkpoints: [String: GlobalPosition] = [:]
    var snapshots: [String: [String: Snapshot]] = [:]
    var projections: [String: ProjectionRecord] = [:]
    var consumerGroups: [String: ConsumerGroupRecord] = [:]

    // MARK: Writes

    mutating func create(_ name: StreamName, metadata: Metadata, events: [EventMessage]) throws(EventStoreError)
        -> AppendResult
    {
        try StoreValidation.streamMetadata(metadata)
        try StoreValidation.events(events, for: name)
        if tombstones.contains(name) { throw .streamDeleted(name) }
        guard streams[name] == nil else { throw .streamExists(name) }
        var stream = restarted(name, metadata: metadata.storedForm)
        try Self.checkNoDuplicates(events, in: stream, name)
        let last = record(events, in: &stream, name: name)
        softDeleted[name] = nil
        streams[name] = stream
        return AppendResult(streamVersion: stream.version, lastGlobalPosition: last)
    }

    mutating func append(_ events: [EventMessage], to name: StreamName, expectedVersion: ExpectedVersion)
        throws(EventStoreError) -> AppendResult
    {
        try StoreValidation.events(events, for: name)
        if tombstones.contains(name) { throw .streamDeleted(name) }
        var stream: Stream
        if let version = streams[name]?.version {
            switch expectedVersion {
            case .noStream:
                throw .wrongExpectedVersion(name, expected: expectedVersion, actual: version)
            case let .exact(expected) where expected != version:
                throw .wrongExpectedVersion(name, expected: expectedVersion, actual: version)
            default:
                break
            }
            // Taken out of the dictionary, with no other copy held, the stream's arrays have one owner and grow
            // in place: a copy left in the dictionary made every append copy the whole stream.
            stream = streams.removeValue(forKey: name)!
            do {
                try Self.checkNoDuplicates(events, in: stream, name)
            } catch {
                streams[name] = stream
                throw error
            }
        } else {
            guard expectedVersion == .noStream else { throw .streamNotFound(name) }
            stream = restarted(name, metadata: [:])
            try Self.checkNoDuplicates(events, in: stream, name)
        }
        let last = record(events, in: &stream, name: name)
        softDeleted[name] = nil
        streams[name] = stream
        return AppendResult(streamVersion: stream.version, lastGlobalPosition: last)
    }

    /// Refuses events whose uuid or aggregate version the stream holds (hidden ones too, until a scavenge, as
    /// the SQL backends' unique indexes do).
    private static func checkNoDuplicates(_ events: [EventMessage], in stream: Stream, _ name: StreamName) throws(EventStoreError) {
        for event in events {
            if stream.uuids.contains(event.uuid) { throw .duplicateEvent(name, "event \(event.uuid.lowercased)") }
            if let key = event.aggregateKey, stream.aggregateKeys.contains(key) { throw .duplicateEvent(name, "\(key)") }
        }
    }

    /// A stream made under `name` with `metadata`: a new one, or the soft-deleted one started again (its
    /// numbering goes on, its earlier events stay hidden).
    private func restarted(_ name: StreamName, metadata: Metadata) -> Stream {
        guard var stream = softDeleted[name] else { return Stream(metadata: metadata) }
        stream.metadata = metadata
        return stream
    }

    /// The error for a stream that is not live: deleted for good, or not found.
    private func missing(_ name: StreamName) -> EventStoreError {
        tombstones.contains(name) ? .streamDeleted(name) : .streamNotFound(name)
    }

    private mutating func record(_ events: [EventMessage], in stream: inout Stream, name: StreamName) -> GlobalPosition? {
        for event in events {
            lastGlobalPosition += 1
            var message = event
            message.metadata = event.metadata.storedForm
            stream.events.append(
                StoredEvent(message: message, position: stream.events.count + 1, globalPosition: lastGlobalPosition))
            stream.uuids.insert(event.uuid)
            if let key = event.aggregateKey { stream.aggregateKeys.insert(key) }
            globalLog.append((name, stream.events.count, lastGlobalPosition))
        }
        return events.isEmpty ? nil : GlobalPosition(sequence: lastGlobalPosition)
    }

    mutating func delete(_ name: StreamName, mode: DeleteMode) throws(EventStoreError) {
        if var stream = streams.removeValue(forKey: name) {
            switch mode {
            case .purge: break
            case .soft:
                stream.beginsAt = stream.version + 1
                softDeleted[name] = stream
            case .hard: tombstones.insert(name)
            }
        } else if softDeleted[name] != nil, mode != .soft {
            softDeleted[name] = nil
            if mode == .hard { tombstones.insert(name) }
        } else {
            throw missing(name)
        }
    }

    mutating func updateMetadata(_ metadata: Metadata, of name: StreamName) throws(EventStoreError) {
        try StoreValidation.streamMetadata(metadata)
        guard streams[name] != nil else { throw missing(name) }
        streams[name]?.metadata = metadata.storedForm
    }

    // MARK: Reads

    func metadata(of name: StreamName) throws(EventStoreError) -> Metadata {
        guard let stream = streams[name] else { throw missing(name) }
        return stream.metadata
    }

    /// A load over a snapshot of the stream: later writes do not change what it returns.
    func load(
        _ name: StreamName, direction: RecordedEventSequence.Direction, from: Int?, count: Int?,
        matching: MetadataMatcher?, readBatchSize: Int, instruments: StoreInstruments
    ) throws(EventStoreError) -> RecordedEventSequence {
        try StoreValidation.load(from: from, count: count)
        guard let stream = streams[name] else { throw missing(name) }
        let evaluator = try matching.map { matcher throws(EventStoreError) in try MatcherEvaluator(matcher) }
        let start = from ?? (direction == .forward ? 1 : Int.max)
        // Retention is judged when the load begins, as a database judges it when a statement begins.
        let now = Timestamp.microseconds(Date())
        return RecordedEventSequence(direction: direction, start: start, count: count, readBatchSize: readBatchSize) { bound, limit in
            try await instruments.measure(.load, stream: name) {
                Self.page(of: stream, name, direction, evaluator, bound: bound, limit: limit, now: now)
            }
        }
    }

    private static func page(
        of stream: Stream, _ name: StreamName, _ direction: RecordedEventSequence.Direction, _ evaluator: MatcherEvaluator?,
        bound: Int, limit: Int, now: Int64
    ) -> [RecordedEvent] {
        var page: [RecordedEvent] = []
        let events = stream.events
        var index = direction == .forward ? bound - 1 : min(bound, events.count) - 1
        let step = direction == .forward ? 1 : -1
        while index >= 0, index < events.count, page.count < limit {
            let stored = events[index]
            if let message = stream.visible(at: index, now: now), evaluator?.matches(message, position: stored.position) ?? true {
                page.append(
                    RecordedEvent(
                        streamName: name, position: stored.position,
                        globalPosition: GlobalPosition(sequence: stored.globalPosition), message: message))
            }
            index += step
        }
        return page
    }

    /// Events of `target` after `position` in global order.
    func readAll(after position: GlobalPosition, of target: SubscriptionTarget, limit: Int) -> [RecordedEvent] {
        var low = 0
        var high = globalLog.count
        while low < high {
            let middle = (low + high) / 2
            if globalLog[middle].global <= position.sequence { low = middle + 1 } else { high = middle }
        }
        var events: [RecordedEvent] = []
        var index = low
        let now = Timestamp.microseconds(Date())
        while index < globalLog.count, events.count < limit {
            let entry = globalLog[index]
            index += 1
            guard target.contains(entry.stream), let stream = streams[entry.stream], entry.position <= stream.events.count
            else { continue }
            let stored = stream.events[entry.position - 1]
            guard stored.globalPosition == entry.global, let message = stream.visible(at: entry.position - 1, now: now) else { continue }
            events.append(
                RecordedEvent(
                    streamName: entry.stream, position: stored.position,
                    globalPosition: GlobalPosition(sequence: stored.globalPosition), message: message))
        }
        return events
    }

    /// Removes for good the events past their stream's retention (their uuids and aggregate versions may be
    /// written again, as on the SQL backends, whose unique indexes forget them with the rows).
    /// - Returns: the streams that lost events, and how many events they lost.
    mutating func scavenge() -> ScavengeResult {
        var result = ScavengeResult()
        let now = Timestamp.microseconds(Date())
        func scavenge(_ stream: inout Stream) {
            guard !stream.retention.isEmpty || stream.beginsAt > 1 else { return }
            var removed = 0
            for index in stream.events.indices {
                guard let message = stream.events[index].message, stream.visible(at: index, now: now) == nil else { continue }
                stream.events[index].message = nil
                stream.uuids.remove(message.uuid)
                if let key = message.aggregateKey { stream.aggregateKeys.remove(key) }
                removed += 1
            }
            if removed > 0 { (result.streams, result.events) = (result.streams + 1, result.events + removed) }
        }
        for name in streams.keys { scavenge(&streams[name]!) }
        for name in softDeleted.keys { scavenge(&softDeleted[name]!) }
        return result
    }

    func streamNames(_ filter: NameFilter, matching: MetadataMatcher?, limit: Int, offset: Int) throws(EventStoreError)
        -> [StreamName]
    {
        try StoreValidation.listing(filter, matching: matching, limit: limit, offset: offset)
        let evaluator = try matching.map { matcher throws(EventStoreError) in try MatcherEvaluator(matcher) }
        let regex = try Self.regex(of: filter)
        let names = streams.keys.sorted().filter { name in
            switch filter {
            case .all: break
            case let .exact(text): guard name.rawValue.utf8.elementsEqual(text.utf8) else { return false }
            case .regex: guard regex?.matches(name.rawValue) ?? false else { return false }
            }
            guard let evaluator, let stream = streams[name] else { return true }
            return evaluator.matches(streamMetadata: stream.metadata)
        }
        return Array(names.dropFirst(offset).prefix(limit))
    }

    func categoryNames(_ filter: NameFilter, limit: Int, offset: Int) throws(EventStoreError) -> [String] {
        try StoreValidation.listing(filter, limit: limit, offset: offset)
        let regex = try Self.regex(of: filter)
        let categories = Set(streams.keys.compactMap(\.category))
            .filter { category in
                switch filter {
                case .all: return true
                case let .exact(text): return category.utf8.elementsEqual(text.utf8)
                case .regex: return regex?.matches(category) ?? false
                }
            }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return Array(categories.dropFirst(offset).prefix(limit))
    }

    func projectionNames(_ filter: NameFilter, limit: Int, offset: Int) throws(EventStoreError) -> [String] {
        let regex = try Self.regex(of: filter)
        let names = projections.values.filter { !$0.isTombstone }.map(\.name)
            .filter { name in
                switch filter {
                case .all: return true
                case let .exact(text): return name.utf8.elementsEqual(text.utf8)
                case .regex: return regex?.matches(name) ?? false
                }
            }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return Array(names.dropFirst(offset).prefix(limit))
    }

    private static func regex(of filter: NameFilter) throws(EventStoreError) -> CompiledRegex? {
        guard case let .regex(pattern) = filter else { return nil }
        return try RegexPattern.compile(pattern)
    }
}
