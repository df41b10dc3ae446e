@_spi(Backend) import EventStore
import EventStoreBackends
import Foundation
import Logging

/// The partitioned store's rows (issue 25), for `--database partitioned:FILE`: `append-batch`,
/// `append-single-8w` and `merged-catch-up` through a partitioned store over the file's first 1, 2, …
/// members (backends `partitioned-1`, `partitioned-2`, …), each beside the raw baseline on the first
/// member's database: the same baseline as the single store's there. Every row reports the machine's CPU
/// time per event (the database servers' included): with every member on one machine they share its
/// cores and disk, and the CPU time is what separate machines would each spend on their share.
struct PartitionedBench: Sendable {
    static let backendPrefix = "partitioned-"

    let file: PartitionedStoreFile
    let scale: BenchScale
    let workloads: [BenchWorkload]
    let run = String(UUID().uuidString.prefix(6)).lowercased()

    /// The rows for the chosen workloads that have a partitioned form, for 1 to all members.
    func results(print: (String) -> Void) async throws -> [BenchResult] {
        var results: [BenchResult] = []
        for count in 1...file.members.count {
            for workload in workloads {
                let rows: [BenchResult]
                switch workload {
                case .appendBatch: rows = [try await appendBatch(members: count)]
                case .appendSingle: rows = [try await appendSingle(members: count)]
                case .subscriptionCatchUp: rows = [try await mergedCatchUp(members: count)]
                default: rows = []
                }
                for row in rows { print(BenchTable.line(row)) }
                results += rows
            }
        }
        return results
    }

    /// Runs `body` with a partitioned store over the first `count` members, on tables of a fresh prefix, and
    /// the first member's raw baseline; every member's tables are dropped afterwards.
    private func withStore<T: Sendable>(
        members count: Int, _ label: String, _ body: @Sendable (PartitionedEventStore, any RawBaseline) async throws -> T
    ) async throws -> T {
        let prefix = "p\(run)_\(label)\(count)_"
        var raws: [any RawBaseline] = []
        for member in file.members.prefix(count) {
            guard let backend = try StoreBackends.backend(for: member.database) as? any BenchmarkBackend else {
                throw BenchFailure("the benchmark has no raw baseline for member \(member.name)")
            }
            raws.append(try await backend.rawBaseline(prefix: prefix, logger: BenchTarget.logger))
        }
        let baselines = raws
        return try await withCleanup {
            try await file.withMembers(count, tablePrefix: prefix, logger: BenchTarget.logger) { members in
                let store = try await PartitionedEventStore.open(members: members)
                return try await body(store, baselines[0])
            }
        } cleanup: {
            for raw in baselines { try await raw.close() }
        }
    }

    private func row(
        _ workload: String, members: Int, rate: Double, baseline: Double, latencies: [Double] = [], cpuSeconds: Double?, events: Double
    ) -> BenchResult {
        BenchResult(
            workload: workload, backend: "\(Self.backendPrefix)\(members)", eventsPerSecond: rate, baselineEventsPerSecond: baseline,
            p50Milliseconds: Measure.percentile(latencies, 0.5), p99Milliseconds: Measure.percentile(latencies, 0.99),
            peakMemoryBytes: nil, cpuMicrosecondsPerEvent: cpuSeconds.map { $0 / events * 1_000_000 })
    }

    /// `append-batch`: streams of 100 events, each appended in one call by one writer.
    private func appendBatch(members count: Int) async throws -> BenchResult {
        let streams = scale.batchStreams
        let batches = (0..<streams).map { BenchEvents.batch(aggregate: $0, first: 1, count: 100) }
        return try await withStore(members: count, "ab") { store, raw in
            let (measured, cpu) = try await Measure.cpu {
                try await BenchRunner.concurrently(writers: 1, perWriter: streams) { _, number in
                    try await store.append(batches[number - 1], to: try StreamName("batch-\(number - 1)"), expectedVersion: .noStream)
                }
            }
            let baseline = try await BenchRunner.concurrently(writers: 1, perWriter: streams) { _, number in
                try await raw.append(batches[number - 1], to: "batch-\(number - 1)")
            }
            let events = Double(streams * 100)
            return row(
                "append-batch", members: count, rate: events / measured.seconds, baseline: events / baseline.seconds,
                latencies: measured.latencies, cpuSeconds: cpu, events: events)
        }
    }

    /// `append-single-8w`: 8 writers, each appending single events to its own stream (the streams spread over
    /// the members by their hash).
    private func appendSingle(members count: Int) async throws -> BenchResult {
        let (writers, perWriter) = (8, scale.writerEvents)
        return try await withStore(members: count, "as") { store, raw in
            let (measured, cpu) = try await Measure.cpu {
                try await BenchRunner.concurrently(writers: writers, perWriter: perWriter) { writer, version in
                    try await store.append(
                        [BenchEvents.event(aggregate: writer, version: version)], to: try StreamName("single-\(writer)"),
                        expectedVersion: version == 1 ? .noStream : .exact(version - 1))
                }
            }
            let baseline = try await BenchRunner.concurrently(writers: writers, perWriter: perWriter) { writer, version in
                try await raw.append([BenchEvents.event(aggregate: writer, version: version)], to: "single-\(writer)")
            }
            let events = Double(writers * perWriter)
            return row(
                "append-single-8w", members: count, rate: events / measured.seconds, baseline: events / baseline.seconds,
                latencies: measured.latencies, cpuSeconds: cpu, events: events)
        }
    }

    /// `merged-catch-up`: a merged reader (``PartitionedEventStore/follow(_:after:pageSize:)``) reads every
    /// event of 100 streams spread over the members; baseline: the raw read of the same events in one
    /// database's global order.
    private func mergedCatchUp(members count: Int) async throws -> BenchResult {
        let perStream = scale.streamEvents / 100
        return try await withStore(members: count, "mc") { store, raw in
            for index in 0..<100 {
                let events = (1...perStream).map { BenchEvents.event(aggregate: index, version: $0) }
                let stream = try StreamName("catch-\(index)")
                try await store.append(events, to: stream, expectedVersion: .noStream)
                try await raw.append(events, to: stream.rawValue)
            }
            let total = perStream * 100
            var best = Double.infinity
            var bestCPU: Double?
            for _ in 0..<scale.readRounds {
                let (seconds, cpu) = try await Measure.cpu {
                    try await Measure.seconds {
                        var read = 0
                        for try await _ in store.follow(pageSize: 1000) {
                            read += 1
                            if read == total { break }
                        }
                    }
                }
                if seconds < best { (best, bestCPU) = (seconds, cpu) }
            }
            var rawBest = Double.infinity
            for _ in 0..<scale.readRounds {
                rawBest = min(rawBest, try await Measure.seconds { guard try await raw.readAll() == total else { throw BenchFailure("raw read") } })
            }
            return row(
                "merged-catch-up", members: count, rate: Double(total) / best, baseline: Double(total) / rawBest, cpuSeconds: bestCPU,
                events: Double(total))
        }
    }
}
