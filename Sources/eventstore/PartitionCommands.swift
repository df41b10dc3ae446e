import ArgumentParser
@_spi(Backend) import EventStore
import EventStoreBackends
import Foundation

/// `eventstore partitions …`: a partitioned store's placement, and moving its buckets.
struct Partitions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a partitioned store's placement map and members; move buckets between members.",
        discussion: "Takes --database partitioned:FILE, a JSON file naming the members and the routing key (the EventStore documentation, \"Partitioning\").",
        subcommands: [PartitionStatus.self, PartitionMove.self])
}

extension DatabaseOptions {
    /// Runs `body` with the partitioned store that `--database partitioned:FILE` names.
    func withPartitionedStore<T: Sendable>(_ body: @Sendable (PartitionedEventStore) async throws -> T) async throws -> T {
        guard PartitionedStoreFile.names(url) else {
            throw CommandFailure.badInput("this command takes --database \(PartitionedStoreFile.urlForm), not \(url)")
        }
        return try await PartitionedStoreFile(url: url).withStore(logger: commandLogger, body)
    }
}

/// `eventstore partitions status`.
struct PartitionStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Print the placement map and each member's buckets, head position and fenced buckets, as JSON.")

    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await reportingFailures {
            let status = try await options.withPartitionedStore { store in
                let map = try await store.reloadPlacement()
                var members: [JSONValue] = []
                for member in store.members {
                    var fields: [(key: String, value: JSONValue)] = [
                        ("name", .string(member.name)), ("buckets", .number(String(map.buckets(of: member.name).count))),
                    ]
                    do {
                        fields.append(("head", .string(try await member.store.headPosition().description)))
                        fields.append(("fenced", .array(try await member.store.fencedBuckets().map { .number(String($0)) })))
                    } catch {
                        fields.append(("error", .string(String(describing: error))))
                    }
                    members.append(.object(fields))
                }
                let moves: [JSONValue] = map.arrivals.map { arrival in
                    .object([
                        ("bucket", .number(String(arrival.bucket))), ("from", .string(map.members[arrival.from])),
                        ("to", .string(map.members[arrival.member])),
                    ])
                }
                return JSONValue.object([
                    ("version", .number(String(map.version))), ("bucketCount", .number(String(map.bucketCount))),
                    ("key", .string(store.configuration.key.name)), ("members", .array(members)), ("moves", .array(moves)),
                ])
            }
            emit(status.jsonText)
        }
    }
}

/// `eventstore partitions move`.
struct PartitionMove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "move",
        abstract: "Move buckets to a member, one after the other, printing each move as a JSON line.",
        discussion: """
            Name the buckets (--bucket, repeated), or ask for a number of them (--count): those are taken from the \
            members that own the most, the highest-numbered first. A bucket moves only to a member that never held it.
            """)

    @Option(help: "The member the buckets move to.") var to: String
    @Option(name: .customLong("bucket"), help: "A bucket to move (repeat the option for more).") var buckets: [Int] = []
    @Option(help: "How many buckets to move, from the members that own the most.") var count: Int?
    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await reportingFailures {
            if buckets.isEmpty == (count == nil) { throw CommandFailure.badInput("give --bucket (one or more) or --count") }
            if let count, count < 1 { throw CommandFailure.badInput("--count is 1 or more, not \(count)") }
            let (buckets, count, target) = (self.buckets, self.count, self.to)
            try await options.withPartitionedStore { store in
                let map = try await store.reloadPlacement()
                guard let targetIndex = map.members.firstIndex(of: target) else {
                    throw CommandFailure.badInput("no member is named \(target) (the members: \(map.members.joined(separator: ", ")))")
                }
                let chosen = try count.map { try Self.buckets($0, for: targetIndex, in: map) } ?? buckets
                for bucket in chosen {
                    let move = try await store.move(bucket: bucket, to: target)
                    let milliseconds = Double(move.fenced.components.seconds) * 1000 + Double(move.fenced.components.attoseconds) / 1e15
                    emit(
                        JSONValue.object([
                            ("bucket", .number(String(move.bucket))), ("from", .string(move.from)), ("to", .string(move.to)),
                            ("streams", .number(String(move.streams))), ("events", .number(String(move.events))),
                            ("fencedMilliseconds", .number(String(format: "%.1f", milliseconds))), ("version", .number(String(move.map.version))),
                        ]).jsonText)
                }
            }
        }
    }

    /// `count` buckets the member at `target` never held, taken one at a time from the member that owns the
    /// most then (its highest-numbered first).
    static func buckets(_ count: Int, for target: Int, in map: PlacementMap) throws -> [Int] {
        var owned = map.members.indices.map { member in map.owners.indices.filter { map.owners[$0] == member } }
        var chosen: [Int] = []
        while chosen.count < count {
            let donors = owned.indices.filter { $0 != target }.sorted { owned[$0].count > owned[$1].count }
            guard let donor = donors.first(where: { donor in owned[donor].contains { !map.hasHeld($0, member: target) } }) else { break }
            guard let bucket = owned[donor].last(where: { !map.hasHeld($0, member: target) }) else { break }
            owned[donor].removeAll { $0 == bucket }
            owned[target].append(bucket)
            chosen.append(bucket)
        }
        if chosen.count < count {
            throw CommandFailure.badInput("only \(chosen.count) buckets can move to \(map.members[target]) (a bucket moves only to a member that never held it)")
        }
        return chosen
    }
}
