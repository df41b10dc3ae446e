import EventStore
import Foundation

/// One row of the benchmark's results.
struct BenchResult: Sendable {
    var workload: String
    var backend: String
    var eventsPerSecond: Double?
    var baselineEventsPerSecond: Double?
    var p50Milliseconds: Double?
    var p99Milliseconds: Double?
    var peakMemoryBytes: Int?
    /// The machine's CPU time (every process: the benchmark and the database servers) per event of the
    /// store's part, in microseconds; for the workloads that measure it (single appends, catch-up reads).
    var cpuMicrosecondsPerEvent: Double?

    var ratio: Double? {
        guard let eventsPerSecond, let baselineEventsPerSecond, baselineEventsPerSecond > 0 else { return nil }
        return eventsPerSecond / baselineEventsPerSecond
    }

    /// The JSON object `--json` writes.
    var json: JSONValue {
        func number(_ value: Double?, digits: Int) -> JSONValue {
            guard let value, value.isFinite else { return .null }
            return .number(String(format: "%.\(digits)f", value))
        }
        return .object([
            (key: "workload", value: .string(workload)),
            (key: "backend", value: .string(backend)),
            (key: "events_per_second", value: number(eventsPerSecond, digits: 1)),
            (key: "baseline_events_per_second", value: number(baselineEventsPerSecond, digits: 1)),
            (key: "ratio", value: number(ratio, digits: 3)),
            (key: "p50_ms", value: number(p50Milliseconds, digits: 3)),
            (key: "p99_ms", value: number(p99Milliseconds, digits: 3)),
            (key: "peak_memory_bytes", value: peakMemoryBytes.map { .number(String($0)) } ?? .null),
            (key: "cpu_us_per_event", value: number(cpuMicrosecondsPerEvent, digits: 1)),
        ])
    }
}

/// Wall-clock timing and latency percentiles.
enum Measure {
    /// Seconds `body` took.
    static func seconds(_ body: () async throws -> Void) async rethrows -> Double {
        let start = ContinuousClock.now
        try await body()
        return (ContinuousClock.now - start).seconds
    }

    /// Runs `store` and `baseline` one after the other `rounds` times and keeps each one's best time, so that
    /// a moment of interference on a shared machine does not decide a ratio. The peak memory is the first
    /// store round's (`store` gets the round, from 0).
    static func alternating(
        rounds: Int, _ store: (Int) async throws -> Void, baseline: () async throws -> Void
    ) async throws -> (seconds: Double, baselineSeconds: Double, peak: Int?) {
        var best = Double.infinity
        var bestBaseline = Double.infinity
        var peak: Int?
        for round in 0..<max(1, rounds) {
            let memoryStart = round == 0 ? resetPeakMemory() : nil
            best = min(best, try await seconds { try await store(round) })
            if round == 0 { peak = peakMemory(since: memoryStart) }
            bestBaseline = min(bestBaseline, try await seconds { try await baseline() })
        }
        return (best, bestBaseline, peak)
    }

    /// The CPU time every process of the machine has used since boot, in seconds (Linux: `/proc/stat`, busy
    /// states only); `nil` where it cannot be read. Its difference over a workload is the workload's cost with
    /// its database servers, which share the machine here.
    static func machineCPUSeconds() -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = stat.split(separator: "\n").first, line.hasPrefix("cpu ")
        else { return nil }
        let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard fields.count >= 8 else { return nil }
        // user, nice, system, (idle, iowait), irq, softirq, steal
        let busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]
        return busy / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The machine's CPU seconds that `body` took (``machineCPUSeconds()``), beside its result.
    static func cpu<T>(_ body: () async throws -> T) async rethrows -> (T, cpuSeconds: Double?) {
        let start = machineCPUSeconds()
        let result = try await body()
        guard let start, let end = machineCPUSeconds() else { return (result, nil) }
        return (result, end - start)
    }

    /// The `fraction` percentile (0…1) of latencies, in milliseconds.
    static func percentile(_ latencies: [Double], _ fraction: Double) -> Double? {
        guard !latencies.isEmpty else { return nil }
        let sorted = latencies.sorted()
        let index = min(sorted.count - 1, max(0, Int((Double(sorted.count) * fraction).rounded(.up)) - 1))
        return sorted[index] * 1000
    }

    /// Starts a new peak-memory window: gives freed heap back to the system, resets the peak resident size
    /// (Linux: `5` in `clear_refs`) and returns the resident size it starts from.
    @discardableResult
    static func resetPeakMemory() -> Int? {
        #if os(Linux)
        _ = glibcMallocTrim(0)
        #endif
        let descriptor = open("/proc/self/clear_refs", O_WRONLY)
        if descriptor >= 0 {
            _ = write(descriptor, "5", 1)
            close(descriptor)
        }
        return status("VmRSS:")
    }

    /// How far the resident size rose above `start` at its peak since ``resetPeakMemory()``: the memory the
    /// workload itself needed. `nil` where it cannot be read (not Linux).
    static func peakMemory(since start: Int?) -> Int? {
        guard let start, let peak = status("VmHWM:") else { return nil }
        return max(0, peak - start)
    }

    private static func status(_ field: String) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix(field) {
            return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }.map { $0 * 1024 }
        }
        return nil
    }
}

/// The events the workloads write: about 200 bytes of JSON payload and the aggregate triple.
enum BenchEvents {
    static let filler = String(repeating: "x", count: 120)

    static func event(aggregate: Int, version: Int) -> EventMessage {
        EventMessage(
            messageName: version == 1 ? "UserRegistered" : "UserRenamed",
            payload: [
                "user_id": .string("user-\(aggregate)"), "name": .string("Name \(aggregate) v\(version)"),
                "email": .string("user\(aggregate)@example.com"), "filler": .string(filler),
            ],
            metadata: [
                "_aggregate_type": "user", "_aggregate_id": .string("agg-\(aggregate % 100)"),
                "_aggregate_version": .int(version),
            ])
    }

    /// The event as the HTTP API takes it.
    static func json(_ event: EventMessage) -> String {
        "{\"message_name\":\(JSONValue.string(event.messageName).jsonText),\"uuid\":\"\(event.uuid.lowercased)\","
            + "\"payload\":\(event.payload.jsonText),\"metadata\":\(event.metadata.jsonText)}"
    }

    /// Events `first…first+count-1` of one stream.
    static func batch(aggregate: Int, first: Int, count: Int) -> [EventMessage] {
        (first..<(first + count)).map { event(aggregate: aggregate, version: $0) }
    }
}

#if os(Linux)
/// glibc's `malloc_trim`, which its Swift module does not export: gives freed heap back to the system.
@_silgen_name("malloc_trim")
private func glibcMallocTrim(_ pad: Int) -> Int32
#endif
