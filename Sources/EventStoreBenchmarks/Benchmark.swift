import EventStore
import EventStoreBackends
import Foundation

/// `eventstore bench`: every workload on every given backend, each beside a raw baseline measured in the
/// same run (see `Benchmarks/README.md`).
package enum Benchmark {
    /// The workloads' names, in the order they run.
    package static var workloadNames: [String] { BenchWorkload.allCases.map(\.rawValue) }

    /// Runs the benchmark and prints as it goes: a line per result, then the table and the targets.
    /// - Parameters:
    ///   - urls: the backends; without any, `memory:` and a temporary SQLite file.
    ///   - workloads: names of the workloads to run; all of them when empty.
    ///   - quick: small sizes (a smoke run) instead of the full ones.
    ///   - json: a file to write the results to as JSON, if any.
    ///   - print: where each line of output goes.
    /// - Throws: `invalidArgument` for an unknown workload or URL; whatever a backend throws.
    package static func run(
        urls: [String], workloads: [String], quick: Bool, json: String?, print: (String) -> Void
    ) async throws {
        let chosen = try workloads.map { name in
            guard let workload = BenchWorkload(rawValue: name) else {
                throw EventStoreError.invalidArgument(
                    "unknown workload \"\(name)\" (known: \(workloadNames.joined(separator: ", ")))")
            }
            return workload
        }
        let temporary = FileManager.default.temporaryDirectory
            .appendingPathComponent("eventstore-bench-\(UUID().uuidString).sqlite")
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: temporary.path + suffix) }
        }
        let all = urls.isEmpty ? ["memory:", "sqlite:" + temporary.path] : urls
        let targets = try all.filter { !PartitionedStoreFile.names($0) }.map(BenchTarget.init(url:))
        let partitioned = try all.filter(PartitionedStoreFile.names).map(PartitionedStoreFile.init(url:))
        let runner = BenchRunner(scale: quick ? .quick : .full, workloads: chosen.isEmpty ? BenchWorkload.allCases : chosen)
        var results: [BenchResult] = []
        for target in targets {
            print("# \(target.name) (\(quick ? "quick" : "full") sizes)")
            for result in try await runner.run(on: target) {
                print(BenchTable.line(result))
                results.append(result)
            }
        }
        for file in partitioned {
            print("# partitioned over \(file.members.map(\.name).joined(separator: ", ")) (\(quick ? "quick" : "full") sizes)")
            results += try await PartitionedBench(file: file, scale: runner.scale, workloads: runner.workloads).results(print: print)
        }
        print("")
        print(BenchTable.render(results))
        for line in BenchTable.targets(results) { print(line) }
        if let json {
            let document = JSONValue.array(results.map(\.json))
            try Data((document.jsonText + "\n").utf8).write(to: URL(fileURLWithPath: json))
        }
    }
}
