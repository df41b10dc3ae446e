import ArgumentParser
import EventStore
import Foundation

/// `eventstore groups …`: consumer groups, made, listed, inspected and deleted, and their parked events.
struct Groups: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list, inspect and delete consumer groups; list and replay their parked events.",
        subcommands: [GroupCreate.self, GroupList.self, GroupInfo.self, GroupDelete.self, GroupParked.self, GroupReplayParked.self])
}

extension DatabaseOptions {
    /// Runs `body` with the store as one that keeps consumer groups (every backend does).
    func withGroups<T: Sendable>(_ body: @Sendable (any ConsumerGroupStore) async throws -> T) async throws -> T {
        try await withStore { store in
            guard let groups = store as? any ConsumerGroupStore else { throw CommandFailure.badInput("this store keeps no consumer groups") }
            return try await body(groups)
        }
    }
}

/// `eventstore groups create NAME`.
struct GroupCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Make a consumer group of a stream, a category or every stream, and print it as JSON.")

    @Argument(help: "The group's name.") var name: String
    @Option(help: "Share one stream's events.") var stream: String?
    @Option(help: "Share the events of every stream of a category.") var category: String?
    @Flag(help: "Share the events of every stream but internal ($…) ones (the default).") var all = false
    @Option(help: "start (the default), end, or a position to start after (global, or composite on a partitioned store).") var from = "start"
    @Option(help: "Hand-outs after the first before an event is parked.") var maxRetries = 10
    @Option(help: "Seconds a consumer has to acknowledge an event.") var messageTimeout = 30.0
    @Option(help: "Unacknowledged events one consumer holds at most.") var maxInFlight = 10
    @Flag(help: "Give a stream to one consumer at a time, in order (else round robin).") var pinned = false
    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await reportingFailures {
            let target = try SubscriptionTarget(stream: stream, category: category, all: all)
            guard messageTimeout.isFinite, messageTimeout > 0, messageTimeout <= 86_400 else {
                throw CommandFailure.badInput("--message-timeout is a number of seconds up to 86400, not \(messageTimeout)")
            }
            let start: ConsumerGroupStart
            switch from {
            case "start": start = .start
            case "end": start = .end
            default:
                guard !from.isEmpty, let position = ProjectionPosition(from) else {
                    throw CommandFailure.badInput(
                        "--from takes start, end, a global position such as 42 or 7:42, or a partitioned store's composite position such as a=42,b=7:15, not \"\(from)\"")
                }
                start = .after(position)
            }
            let group = ConsumerGroup(
                name: name, target: target,
                settings: ConsumerGroupSettings(
                    maxRetries: maxRetries, messageTimeout: .milliseconds(Int64(messageTimeout * 1000)), maxInFlightPerConsumer: maxInFlight,
                    strategy: pinned ? .pinnedByStream : .roundRobin))
            let info = try await options.withGroups { store in
                try await store.createConsumerGroup(group, from: start)
                return try await store.consumerGroup(named: group.name)
            }
            emit(info.json.jsonText)
        }
    }
}

/// `eventstore groups list`.
struct GroupList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Print consumer group names in byte order, one per line.")

    @Option(help: "At most this many names.") var limit = 1000
    @Option(help: "Skip this many names first.") var offset = 0
    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await reportingFailures {
            let (limit, offset) = (self.limit, self.offset)
            for name in try await options.withGroups({ try await $0.consumerGroupNames(limit: limit, offset: offset) }) { emit(name) }
        }
    }
}

/// `eventstore groups info NAME`.
struct GroupInfo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Print a consumer group as JSON: settings, checkpoint, consumers, counters and lag.")

    @Argument(help: "The group's name.") var name: String
    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await reportingFailures {
            let name = self.name
            emit(try await options.withGroups { try await $0.consumerGroup(named: name) }.json.jsonText)
        }
    }
}

/// `eventstore groups delete NAME`.
struct GroupDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a consumer group and its parked events.")

    @Argument(help: "The group's name.") var name: String
    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await reportingFailures {
            let name = self.name
            try await options.withGroups { try await $0.deleteConsumerGroup(named: name) }
        }
    }
}

/// `eventstore groups parked NAME`.
struct GroupParked: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parked", abstract: "Print a consumer group's parked events, one JSON object per line: reason, deliveries and event.")

    @Argument(help: "The group's name.") var name: String
    @Option(help: "At most this many.") var limit = 100
    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await reportingFailures {
            let (name, limit) = (self.name, self.limit)
            for parked in try await options.withGroups({ try await $0.parkedEvents(in: name, limit: limit) }) { emit(parked.jsonLine) }
        }
    }
}

/// `eventstore groups replay-parked NAME`.
struct GroupReplayParked: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay-parked", abstract: "Hand a consumer group's parked events out again; print how many.")

    @Argument(help: "The group's name.") var name: String
    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await reportingFailures {
            let name = self.name
            emit(String(try await options.withGroups { try await $0.replayParkedEvents(in: name) }))
        }
    }
}

/// `eventstore consume GROUP`.
struct Consume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Consume a consumer group: print each delivery as a JSON line, then acknowledge it.",
        discussion: """
            Runs until interrupted (or until --count deliveries). Each line is the event as `eventstore subscribe` \
            prints it, plus "delivery" (its id) and "attempt". An event is acknowledged once its line is written: \
            a consumer that dies first leaves it to time out and go to another.
            """)

    @Argument(help: "The group's name.") var group: String
    @Option(help: "This consumer's name (default: the host name and the process id).") var consumer: String?
    @Option(help: "Stop after this many deliveries.") var count: Int?
    @Option(help: "Deliveries asked for at a time.") var batchSize = 10
    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await reportingFailures {
            if let count, count < 1 { throw CommandFailure.badInput("--count is 1 or more, not \(count)") }
            let name = consumer ?? "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
            let (group, count, batchSize) = (self.group, self.count, self.batchSize)
            try await options.withGroups { store in
                let deliveries = try store.consume(group, as: name, batchSize: batchSize)
                var handled = 0
                for try await delivery in deliveries {
                    let line = EventJSON.line(for: delivery.event, includeStream: true)
                    emit(
                        "{\"delivery\":\"\(delivery.id.uuidString.lowercased())\",\"attempt\":\(delivery.attempt),"
                            + line.dropFirst())
                    try await deliveries.acknowledge(delivery)
                    handled += 1
                    if let count, handled >= count { break }
                }
                try await store.leave(group, consumer: name)
            }
        }
    }
}
