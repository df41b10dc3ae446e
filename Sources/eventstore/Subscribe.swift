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
            appends live. Each line is the shape of `eventstore read` plus "stream" and "global_position".
            """)

    @Option(help: "Follow one stream.") var stream: String?
    @Option(help: "Follow every stream of a category.") var category: String?
    @Flag(help: "Follow every stream but internal ($…) ones (the default).") var all = false
    @Option(help: "Start after this global position (as printed in global_position).") var from: String?
    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await reportingFailures {
            let target = try SubscriptionTarget(stream: stream, category: category, all: all)
            let start: SubscriptionStart
            if let from {
                guard let position = GlobalPosition(from) else {
                    throw CommandFailure.badInput("--from takes a global position such as 42 or 7:42, not \"\(from)\"")
                }
                start = .after(position)
            } else {
                start = .start
            }
            try await options.withStore { store in
                for try await event in try await store.subscribe(to: target, from: start) {
                    emit(EventJSON.line(for: event, includeStream: true))
                }
            }
        }
    }
}
