import ArgumentParser
import EventStore

extension SubscriptionTarget {
    /// The target of `--stream`, `--category` or `--all` (the default).
    /// - Throws: bad input for more than one of them.
    init(stream: String?, category: String?, all: Bool) throws {
        switch (stream, category, all) {
        case let (name?, nil, false): self = .stream(try StreamName(name))
        case let (nil, name?, false): self = .category(name)
        case (nil, nil, _): self = .all
        default: throw CommandFailure.badInput("give one of --stream, --category or --all")
        }
    }
}

struct Subscribe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print events as they arrive, one JSON object per line, until interrupted.",
        discussion: """
            Catches up from the stored events first (from the beginning, or after --from), then follows new \
            appends live. Each line is the shape of `eventstore read` plus "stream" and "global_position"; on a \
            partitioned store also "member" and "composite_position", which --from takes.
            """)

    @Option(help: "Follow one stream.") var stream: String?
    @Option(help: "Follow every stream of a category.") var category: String?
    @Flag(help: "Follow every stream but internal ($…) ones (the default).") var all = false
    @Option(help: "Start after this global position (as printed in global_position; composite_position on a partitioned store).") var from: String?
    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await reportingFailures {
            let target = try SubscriptionTarget(stream: stream, category: category, all: all)
            try await options.withStore { store in
                if let partitioned = store as? PartitionedEventStore {
                    // A partitioned store's order is its members' merged: --from takes a composite position.
                    let start = try from.map { text in
                        guard let position = CompositePosition(text) else {
                            throw CommandFailure.badInput("--from takes a composite position such as a=42,b=7:42, not \"\(text)\"")
                        }
                        return PartitionedSubscriptionStart.after(position)
                    }
                    for try await event in try await partitioned.subscribe(to: target, from: start ?? .start) {
                        emit(EventJSON.line(for: event))
                    }
                    return
                }
                guard let followable = store as? any GlobalOrderEventStore else { throw CommandFailure.badInput("this store cannot be followed") }
                let start = try from.map { text in
                    guard let position = GlobalPosition(text) else {
                        throw CommandFailure.badInput("--from takes a global position such as 42 or 7:42, not \"\(text)\"")
                    }
                    return SubscriptionStart.after(position)
                }
                for try await event in try await followable.subscribe(to: target, from: start ?? .start) {
                    emit(EventJSON.line(for: event, includeStream: true))
                }
            }
        }
    }
}
