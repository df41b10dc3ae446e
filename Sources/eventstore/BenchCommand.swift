import ArgumentParser
import EventStoreBenchmarks

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure every workload on every given backend beside a raw baseline measured in the same run.",
        discussion: """
            Build with -c release for numbers that mean something: swift run -c release eventstore bench. \
            Without --database, runs on memory: and on a temporary SQLite file. Every run writes to tables of its \
            own (a fresh prefix) and drops them at the end. Workloads: \(Benchmark.workloadNames.joined(separator: ", ")).
            """)

    @Option(
        name: .customLong("database"),
        help: "A backend URL (repeatable): memory:, sqlite:PATH, postgres://…, mysql://…, or partitioned:FILE (its rows with 1, 2, … of its members).")
    var databases: [String] = []
    @Option(name: .customLong("workload"), help: "Only these workloads (repeatable).") var workloads: [String] = []
    @Flag(help: "Small sizes: a smoke run of about a minute in a release build.") var quick = false
    @Option(help: "Also write the results as JSON to this file.") var json: String?

    func run() async throws {
        try await reportingFailures {
            try await Benchmark.run(urls: databases, workloads: workloads, quick: quick, json: json, print: emit)
        }
    }
}
