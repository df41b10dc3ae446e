import EventStore
import Foundation
import Testing

/// A property-based check of a store against the in-memory store as the reference: seeded random
/// sequences of operations (create, append with every kind of expected version, deletes in each mode,
/// metadata updates, transactions committed or rolled back, loads forward and backward with random matchers, listings), run
/// on both, every result and every error compared.
///
/// A backend's tests run it on one store of theirs; each sequence works in streams of its own (named after
/// its seed) against a fresh reference, so sequences need no fresh tables. A failure names its seed, and
/// ``run(on:seeds:operations:sourceLocation:)`` with that one seed replays it.
public enum ModelCheck {
    /// How many sequences a test runs: `EVENTSTORE_MODEL_SEQUENCES`, or 300.
    public static var sequences: Int {
        ProcessInfo.processInfo.environment["EVENTSTORE_MODEL_SEQUENCES"].flatMap(Int.init) ?? 300
    }

    /// The first seed: `EVENTSTORE_MODEL_SEED`, or 1 (so that a run is the same each time).
    public static var firstSeed: UInt64 {
        ProcessInfo.processInfo.environment["EVENTSTORE_MODEL_SEED"].flatMap(UInt64.init) ?? 1
    }

    /// Runs one sequence per seed on `store`, each of up to `operations` operations, and records an issue
    /// for the first difference of each sequence (with the seed and the operations up to it).
    public static func run(
        on store: any EventStore, seeds: Range<UInt64>, operations: Int = 30, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        for seed in seeds {
            var sequence = try Sequence(seed: seed, operations: operations)
            if let difference = try await sequence.run(store) {
                Issue.record(
                    "model check, seed \(seed) (replay: EVENTSTORE_MODEL_SEED=\(seed) EVENTSTORE_MODEL_SEQUENCES=1): \(difference)",
                    sourceLocation: sourceLocation)
            }
        }
    }

    // MARK: Operations

    indirect enum Operation: Sendable, CustomStringConvertible {
        case create(StreamName, Metadata, [EventMessage])
        case append(StreamName, [EventMessage], ExpectedVersion)
        case delete(StreamName, DeleteMode)
        case updateMetadata(StreamName, Metadata)
        case load(StreamName, from: Int, count: Int?, MetadataMatcher?)
        case loadReverse(StreamName, from: Int?, count: Int?, MetadataMatcher?)
        case hasStream(StreamName)
        case streamMetadata(StreamName)
        case streamNames(namespace: String, MetadataMatcher?, limit: Int, offset: Int)
        case transaction([Operation], rollBack: Bool)

        var description: String {
            switch self {
            case let .create(s, m, e): "create(\(s), \(m), \(Self.describe(e)))"
            case let .append(s, e, v): "append(\(Self.describe(e)), to: \(s), \(v))"
            case let .delete(s, mode): "delete(\(s), mode: .\(mode))"
            case let .updateMetadata(s, m): "updateMetadata(\(m), of: \(s))"
            case let .load(s, from, count, m): "load(\(s), from: \(from), count: \(String(describing: count)), \(Self.describe(m)))"
            case let .loadReverse(s, from, count, m):
                "loadReverse(\(s), from: \(String(describing: from)), count: \(String(describing: count)), \(Self.describe(m)))"
            case let .hasStream(s): "hasStream(\(s))"
            case let .streamMetadata(s): "streamMetadata(\(s))"
            case let .streamNames(ns, m, limit, offset): "streamNames(^\(ns), \(Self.describe(m)), limit: \(limit), offset: \(offset))"
            case let .transaction(ops, rollBack): "transaction(\(ops), rollBack: \(rollBack))"
            }
        }

        static func describe(_ events: [EventMessage]) -> String {
            "[" + events.map { "\($0.messageName) \($0.uuid.uuidString.prefix(8)) \($0.metadata)" }.joined(separator: ", ") + "]"
        }

        static func describe(_ matcher: MetadataMatcher?) -> String {
            matcher.map { "where \($0.conditions.map { "\($0.field) \($0.op.rawValue) \($0.value)" }.joined(separator: " and "))" }
                ?? "all"
        }
    }

    /// What an operation returned, rendered so that backends compare equal when they behave alike (global
    /// positions, which differ by design, are left out).
    enum Outcome: Sendable, Equatable, CustomStringConvertible {
        case value(String)
        case failure(EventStoreError.Code)

        var description: String {
            switch self {
            case let .value(text): text
            case let .failure(code): "error \(code)"
            }
        }
    }

    struct RolledBack: Error {}

    // MARK: A sequence

    struct Sequence {
        let seed: UInt64
        let operations: Int
        var random: SeededGenerator
        let namespace: String
        let streams: [StreamName]
        var usedUUIDs: [UUID] = []
        var uuidCount: UInt64 = 0

        init(seed: UInt64, operations: Int) throws(EventStoreError) {
            self.seed = seed
            self.operations = operations
            random = SeededGenerator(seed: seed)
            let namespace = "mc\(seed)x\(UInt32.random(in: 0...UInt32.max))"
            self.namespace = namespace
            streams = try ["a", "b", "c"].map { suffix throws(EventStoreError) in try StreamName("\(namespace)-\(suffix)") }
        }

        mutating func run(_ store: any EventStore) async throws -> String? {
            let reference = InMemoryEventStore()
            var done: [Operation] = []
            let count = Int.random(in: 1...operations, using: &random)
            for _ in 0..<count {
                let operation = makeOperation(depth: 0)
                done.append(operation)
                let expected = await Self.perform(operation, on: reference)
                let actual = await Self.perform(operation, on: store)
                if expected != actual {
                    return "after \(done.count) operations \(done.map(\.description)): the reference gave \(expected), the store \(actual)"
                }
            }
            // The end state, stream by stream, forward.
            for stream in streams {
                let expected = await Self.perform(.load(stream, from: 1, count: nil, nil), on: reference)
                let actual = await Self.perform(.load(stream, from: 1, count: nil, nil), on: store)
                if expected != actual {
                    return "at the end of \(done.map(\.description)), \(stream): the reference holds \(expected), the store \(actual)"
                }
            }
            return nil
        }

        static func perform(_ operation: Operation, on store: any EventStore) async -> Outcome {
            do {
                return .value(try await outcome(operation, on: store))
            } catch let error as EventStoreError {
                return .failure(error.code)
            } catch {
                return .value("a \(type(of: error)): \(error)")
            }
        }

        static func outcome(_ operation: Operation, on store: any EventStore) async throws -> String {
            switch operation {
            case let .create(stream, metadata, events):
                return "version \(try await store.create(stream, metadata: metadata, events: events).streamVersion)"
            case let .append(stream, events, expected):
                return "version \(try await store.append(events, to: stream, expectedVersion: expected).streamVersion)"
            case let .delete(stream, mode):
                try await store.delete(stream, mode: mode)
                return "deleted"
            case let .updateMetadata(stream, metadata):
                try await store.updateStreamMetadata(metadata, of: stream)
                return "updated"
            case let .load(stream, from, count, matcher):
                return render(try await store.load(stream, from: from, count: count, matching: matcher).collect())
            case let .loadReverse(stream, from, count, matcher):
                return render(try await store.loadReverse(stream, from: from, count: count, matching: matcher).collect())
            case let .hasStream(stream):
                return "\(try await store.hasStream(stream))"
            case let .streamMetadata(stream):
                return render(try await store.streamMetadata(of: stream))
            case let .streamNames(namespace, matcher, limit, offset):
                let names = try await store.streamNames(.regex("^\(namespace)-"), matching: matcher, limit: limit, offset: offset)
                return names.map(\.rawValue).joined(separator: ",")
            case let .transaction(operations, rollBack):
                let results = Results()
                do {
                    try await store.transaction { tx in
                        for operation in operations { results.append(await perform(operation, on: tx)) }
                        if rollBack { throw RolledBack() }
                    }
                } catch is RolledBack {
                    return "rolled back after \(results.all)"
                }
                return "committed after \(results.all)"
            }
        }

        static func render(_ events: [RecordedEvent]) -> String {
            events.map { event in
                "\(event.position) \(event.messageName) \(event.uuid.uuidString) \(event.payload.jsonText) \(render(event.metadata))"
            }.joined(separator: " | ")
        }

        /// Metadata by its pairs and their cases, whatever text the backend stored it as.
        static func render(_ metadata: Metadata) -> String {
            metadata.map { "\($0.key)=\(caseName($0.value)):\($0.value.jsonText)" }.joined(separator: ";")
        }

        static func caseName(_ value: MetadataValue) -> String {
            switch value {
            case .string: "s"
            case .int: "i"
            case .double: "d"
            case .bool: "b"
            }
        }

        // MARK: Making operations

        mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &random)] }
        mutating func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &random) < percent }

        mutating func makeOperation(depth: Int) -> Operation {
            let stream = pick(streams)
            switch Int.random(in: 0..<(depth == 0 ? 100 : 80), using: &random) {
            case 0..<12: return .create(stream, makeMetadata(), makeEvents())
            case 12..<40:
                let expected: ExpectedVersion = pick([.any, .noStream, .exact(Int.random(in: 0...6, using: &random))])
                return .append(stream, makeEvents(), expected)
            case 40..<46:
                // Purges most, soft deletes some, and hard deletes few: a tombstone takes its name for good.
                let roll = Int.random(in: 0..<10, using: &random)
                return .delete(stream, roll < 6 ? .purge : roll < 9 ? .soft : .hard)
            case 46..<52: return .updateMetadata(stream, makeMetadata())
            case 52..<64:
                return .load(stream, from: Int.random(in: 1...4, using: &random), count: chance(50) ? nil : Int.random(in: 1...5, using: &random), makeMatcher())
            case 64..<70:
                return .loadReverse(
                    stream, from: chance(50) ? nil : Int.random(in: 1...8, using: &random),
                    count: chance(50) ? nil : Int.random(in: 1...5, using: &random), makeMatcher())
            case 70..<74: return .hasStream(stream)
            case 74..<77: return .streamMetadata(stream)
            case 77..<80:
                return .streamNames(
                    namespace: namespace, chance(50) ? nil : makeStreamMatcher(), limit: Int.random(in: 1...4, using: &random),
                    offset: Int.random(in: 0...2, using: &random))
            default:
                let count = Int.random(in: 1...4, using: &random)
                return .transaction((0..<count).map { _ in makeOperation(depth: depth + 1) }, rollBack: chance(40))
            }
        }

        mutating func makeUUID() -> UUID {
            if !usedUUIDs.isEmpty, chance(8) { return pick(usedUUIDs) }
            uuidCount += 1
            let uuid = UUID(uuidString: String(format: "%08X-0000-4000-8000-%012llX", UInt32(truncatingIfNeeded: seed), uuidCount))!
            usedUUIDs.append(uuid)
            return uuid
        }

        mutating func makeEvents() -> [EventMessage] {
            (0..<Int.random(in: 0...3, using: &random)).map { _ in
                var metadata = makeMetadata()
                if chance(25) {
                    metadata[MetadataKey.aggregateType] = "cart"
                    metadata[MetadataKey.aggregateID] = .string(pick(["1", "2"]))
                    metadata[MetadataKey.aggregateVersion] = .int(Int.random(in: 1...4, using: &random))
                }
                let payload: Payload = ["n": .number(String(Int.random(in: 0...9, using: &random)))]
                return EventMessage(
                    messageName: pick(["A", "B", "C"]), payload: payload, metadata: metadata, uuid: makeUUID(),
                    createdAt: Date(timeIntervalSince1970: 1_800_000_000 + Double(Int.random(in: 0...1000, using: &random))))
            }
        }

        mutating func makeMetadata() -> Metadata {
            var metadata: Metadata = [:]
            if chance(60) { metadata["k"] = .int(Int.random(in: -1...4, using: &random)) }
            if chance(50) { metadata["t"] = .string(pick(["x", "y", "xy", "a.c", "abc", "X", ""])) }
            if chance(40) { metadata["d"] = .double(pick([0.5, 1.0, -2.25, 3.0, 1e19, 1e-7])) }
            if chance(30) { metadata["f"] = .bool(chance(50)) }
            return metadata
        }

        mutating func makeValue(for key: String) -> MetadataValue {
            switch key {
            case "k": .int(Int.random(in: -1...4, using: &random))
            case "t": .string(pick(["x", "y", "xy", "a.c", "abc"]))
            case "d": pick([.double(0.5), .double(1.0), .int(1), .double(3.0), .int(-2)])
            default: .bool(chance(50))
            }
        }

        mutating func makeCondition(key: String) -> (MetadataMatcher.Operator, MetadataMatcher.Value) {
            if key == "t", chance(25) { return (.regex, .scalar(.string(pick(["^x", "y$", "a.c", "^x|c$", "b"])))) }
            if key == "f" { return (pick([.equals, .notEquals]), .scalar(makeValue(for: key))) }
            switch Int.random(in: 0..<8, using: &random) {
            case 0: return (.equals, .scalar(makeValue(for: key)))
            case 1: return (.notEquals, .scalar(makeValue(for: key)))
            case 2: return (.greaterThan, .scalar(makeValue(for: key)))
            case 3: return (.greaterThanOrEquals, .scalar(makeValue(for: key)))
            case 4: return (.lessThan, .scalar(makeValue(for: key)))
            case 5: return (.lessThanOrEquals, .scalar(makeValue(for: key)))
            case 6: return (.in, .list((0..<Int.random(in: 0...3, using: &random)).map { _ in makeValue(for: key) }))
            default: return (.notIn, .list((0..<Int.random(in: 1...3, using: &random)).map { _ in makeValue(for: key) }))
            }
        }

        mutating func makeStreamMatcher() -> MetadataMatcher? {
            var matcher = MetadataMatcher()
            for _ in 0..<Int.random(in: 1...2, using: &random) {
                let key = pick(["k", "t", "d", "f"])
                let (op, value) = makeCondition(key: key)
                // Valid by construction.
                matcher = (try? matcher.metadata(key, op, value)) ?? matcher
            }
            return matcher.isEmpty ? nil : matcher
        }

        mutating func makeMatcher() -> MetadataMatcher? {
            guard chance(55) else { return nil }
            var matcher = makeStreamMatcher() ?? MetadataMatcher()
            if chance(30) {
                matcher = (try? matcher.property(.position, pick([.greaterThan, .lessThanOrEquals]), .scalar(.int(Int.random(in: 0...4, using: &random)))))
                    ?? matcher
            }
            if chance(20) { matcher = (try? matcher.property(.messageName, .equals, .scalar(.string(pick(["A", "B"]))))) ?? matcher }
            return matcher.isEmpty ? nil : matcher
        }
    }

    /// The outcomes of a transaction's operations, collected from its closure.
    final class Results: @unchecked Sendable {
        // @unchecked: a transaction runs its closure's operations one after another.
        private(set) var all: [Outcome] = []
        func append(_ outcome: Outcome) { all.append(outcome) }
    }
}

/// SplitMix64: a small, fast generator whose sequence a seed fixes.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose sequence `seed` fixes: the same seed gives the same numbers.
    /// - Parameter seed: the generator's starting state; any value, 0 included.
    public init(seed: UInt64) { state = seed }

    /// The next number of the sequence: the state advances by the golden-ratio constant, and the result is
    /// the state mixed (SplitMix64).
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
