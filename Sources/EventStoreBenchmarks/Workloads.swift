import AsyncHTTPClient
import EventStore
import EventStoreBackends
import EventStoreClient
import EventStoreHTTP
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization

enum BenchWorkload: String, CaseIterable, Sendable {
    case appendBatch = "append-batch"
    case appendSingle = "append-single"
    case loadStream = "load-stream"
    case loadAggregate = "load-aggregate"
    case matcher
    case projectionCatchUp = "projection-catch-up"
    case subscriptionCatchUp = "subscription-catch-up"
    case httpRead = "http-read"
    case httpAppend = "http-append"
    case clientRead = "client-read"
    case clientAppend = "client-append"
    case groupConsume = "group-consume"
}

/// How big each workload is.
struct BenchScale: Sendable {
    /// `append-batch` and `append-batch-8w`: streams of 100 events, appended 100 at a time (by one writer, and
    /// shared between 8).
    var batchStreams: Int
    /// `append-single-1w`: single-event appends by one writer.
    var singleEvents: Int
    /// `append-single-8w`: single-event appends by each of 8 writers.
    var writerEvents: Int
    /// `load-stream-*`, `matcher`, the catch-ups, `http-read` and `client-read`: the stream's length.
    var streamEvents: Int
    /// `load-aggregate`: events in the small store and in the large one.
    var smallStore: Int, largeStore: Int
    /// `load-aggregate`: how many 50-event streams are read.
    var aggregateLoads: Int
    /// `load-stream-1m`: the long stream whose peak memory is measured.
    var largeStream: Int
    /// `http-append` and `client-append`: single-event POSTs.
    var httpAppends: Int
    /// Read workloads run the store and the baseline alternately this many times and keep each one's best time.
    var readRounds: Int

    static let full = BenchScale(
        batchStreams: 1000, singleEvents: 2000, writerEvents: 250, streamEvents: 100_000, smallStore: 10_000,
        largeStore: 1_000_000, aggregateLoads: 500, largeStream: 1_000_000, httpAppends: 2000, readRounds: 3)
    static let quick = BenchScale(
        batchStreams: 20, singleEvents: 100, writerEvents: 20, streamEvents: 5000, smallStore: 2000, largeStore: 20_000,
        aggregateLoads: 50, largeStream: 20_000, httpAppends: 100, readRounds: 2)
}

/// Runs the workloads on one backend.
struct BenchRunner: Sendable {
    let scale: BenchScale
    let workloads: [BenchWorkload]

    func run(on target: BenchTarget) async throws -> [BenchResult] {
        var results: [BenchResult] = []
        for workload in workloads {
            switch workload {
            case .appendBatch:
                results.append(try await appendBatch(target))
                results.append(try await appendBatch(target, writers: 8))
            case .appendSingle:
                results.append(try await appendSingle(target, writers: 1, perWriter: scale.singleEvents))
                results.append(try await appendSingle(target, writers: 8, perWriter: scale.writerEvents))
            case .loadStream: results += try await loadStream(target)
            case .loadAggregate: results += try await loadAggregate(target)
            case .matcher: results.append(try await matcher(target))
            case .projectionCatchUp: results.append(try await catchUp(target, projection: true))
            case .subscriptionCatchUp: results.append(try await catchUp(target, projection: false))
            case .httpRead: results.append(try await httpRead(target))
            case .httpAppend: results.append(try await httpAppend(target))
            case .clientRead: results.append(try await clientRead(target))
            case .clientAppend: results.append(try await clientAppend(target))
            case .groupConsume: results.append(try await groupConsume(target))
            }
        }
        return results
    }

    /// Appends `count` events to `stream` in batches of 1000, to the store and to the baseline.
    func fill(_ store: any EventStore, _ raw: any RawBaseline, stream: StreamName, count: Int) async throws {
        var written = 0
        while written < count {
            let size = min(1000, count - written)
            let events = (1...size).map { BenchEvents.event(aggregate: written + $0, version: written + $0) }
            try await store.append(events, to: stream, expectedVersion: written == 0 ? .noStream : .exact(written))
            try await raw.append(events, to: stream.rawValue)
            written += size
        }
    }

    /// Times `operations` calls of `body` (each given its index), returning events per second and latencies.
    private func timed(
        events: Int, operations: Int, _ body: @Sendable (Int) async throws -> Void
    ) async throws -> (rate: Double, latencies: [Double]) {
        var latencies: [Double] = []
        latencies.reserveCapacity(operations)
        let total = try await Measure.seconds {
            for index in 0..<operations {
                let start = ContinuousClock.now
                try await body(index)
                latencies.append((ContinuousClock.now - start).seconds)
            }
        }
        return (Double(events) / total, latencies)
    }

    func result(
        _ workload: String, _ target: BenchTarget, rate: Double, baseline: Double?, latencies: [Double] = [], peak: Int? = nil,
        cpuSeconds perEvent: Double? = nil
    ) -> BenchResult {
        BenchResult(
            workload: workload, backend: target.name, eventsPerSecond: rate, baselineEventsPerSecond: baseline,
            p50Milliseconds: Measure.percentile(latencies, 0.5), p99Milliseconds: Measure.percentile(latencies, 0.99),
            peakMemoryBytes: peak, cpuMicrosecondsPerEvent: perEvent.map { $0 * 1_000_000 })
    }

    // MARK: Workloads

    private func appendBatch(_ target: BenchTarget) async throws -> BenchResult {
        let streams = scale.batchStreams
        let batches = (0..<streams).map { BenchEvents.batch(aggregate: $0, first: 1, count: 100) }
        return try await target.withStore("ab") { store, raw in
            let memoryStart = Measure.resetPeakMemory()
            let measured = try await timed(events: streams * 100, operations: streams) { index in
                try await store.append(batches[index], to: try StreamName("batch-\(index)"), expectedVersion: .noStream)
            }
            let peak = Measure.peakMemory(since: memoryStart)
            let baseline = try await timed(events: streams * 100, operations: streams) { index in
                try await raw.append(batches[index], to: "batch-\(index)")
            }
            return result("append-batch", target, rate: measured.rate, baseline: baseline.rate, latencies: measured.latencies, peak: peak)
        }
    }

    /// `append-batch-8w`: the same streams, split between `writers` writers that append at once (concurrent
    /// commits can share a sync of the log).
    private func appendBatch(_ target: BenchTarget, writers: Int) async throws -> BenchResult {
        let perWriter = max(1, scale.batchStreams / writers)
        let batches = (0..<writers * perWriter).map { BenchEvents.batch(aggregate: $0, first: 1, count: 100) }
        return try await target.withStore("ab\(writers)") { store, raw in
            let memoryStart = Measure.resetPeakMemory()
            let measured = try await Self.concurrently(writers: writers, perWriter: perWriter) { writer, number in
                let index = writer * perWriter + number - 1
                try await store.append(batches[index], to: try StreamName("batch-\(index)"), expectedVersion: .noStream)
            }
            let peak = Measure.peakMemory(since: memoryStart)
            let baseline = try await Self.concurrently(writers: writers, perWriter: perWriter) { writer, number in
                let index = writer * perWriter + number - 1
                try await raw.append(batches[index], to: "batch-\(index)")
            }
            let total = Double(writers * perWriter * 100)
            return result(
                "append-batch-\(writers)w", target, rate: total / measured.seconds, baseline: total / baseline.seconds,
                latencies: measured.latencies, peak: peak)
        }
    }

    private func appendSingle(_ target: BenchTarget, writers: Int, perWriter: Int) async throws -> BenchResult {
        try await target.withStore("as\(writers)") { store, raw in
            let memoryStart = Measure.resetPeakMemory()
            let (measured, cpu) = try await Measure.cpu {
                try await Self.concurrently(writers: writers, perWriter: perWriter) { writer, version in
                    let expected: ExpectedVersion = version == 1 ? .noStream : .exact(version - 1)
                    try await store.append(
                        [BenchEvents.event(aggregate: writer, version: version)], to: try StreamName("single-\(writer)"),
                        expectedVersion: expected)
                }
            }
            let peak = Measure.peakMemory(since: memoryStart)
            let baseline = try await Self.concurrently(writers: writers, perWriter: perWriter) { writer, version in
                try await raw.append([BenchEvents.event(aggregate: writer, version: version)], to: "single-\(writer)")
            }
            let total = Double(writers * perWriter)
            return result(
                "append-single-\(writers)w", target, rate: total / measured.seconds, baseline: total / baseline.seconds,
                latencies: measured.latencies, peak: peak, cpuSeconds: cpu.map { $0 / total })
        }
    }

    /// Runs `writers` tasks, each calling `write(writer, number)` for numbers 1…perWriter in turn.
    static func concurrently(
        writers: Int, perWriter: Int, _ write: @escaping @Sendable (Int, Int) async throws -> Void
    ) async throws -> (seconds: Double, latencies: [Double]) {
        var latencies: [Double] = []
        let seconds = try await Measure.seconds {
            latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        var own: [Double] = []
                        for version in 1...perWriter {
                            let start = ContinuousClock.now
                            try await write(writer, version)
                            own.append((ContinuousClock.now - start).seconds)
                        }
                        return own
                    }
                }
                var all: [Double] = []
                for try await own in group { all += own }
                return all
            }
        }
        return (seconds, latencies)
    }

    private func loadStream(_ target: BenchTarget) async throws -> [BenchResult] {
        var results = try await target.withStore("ls") { store, raw in
            let stream: StreamName = "load-0"
            try await fill(store, raw, stream: stream, count: scale.streamEvents)
            var rows: [BenchResult] = []
            for forward in [true, false] {
                let (seconds, rawSeconds, peak) = try await Measure.alternating(rounds: scale.readRounds) { _ in
                    let events = forward ? try await store.load(stream) : try await store.loadReverse(stream)
                    var count = 0
                    for try await _ in events { count += 1 }
                    guard count == scale.streamEvents else { throw BenchFailure("loaded \(count) of \(scale.streamEvents)") }
                } baseline: {
                    _ = try await raw.load(stream.rawValue, forward: forward)
                }
                let n = Double(scale.streamEvents)
                rows.append(
                    result(forward ? "load-stream-forward" : "load-stream-backward", target, rate: n / seconds, baseline: n / rawSeconds, peak: peak))
            }
            return rows
        }
        // The memory target: a long stream loads in bounded memory.
        results.append(
            try await target.withStore("ll") { store, raw in
                let stream: StreamName = "large-0"
                try await fill(store, raw, stream: stream, count: scale.largeStream)
                let (seconds, rawSeconds, peak) = try await Measure.alternating(rounds: scale.readRounds) { _ in
                    var count = 0
                    for try await _ in try await store.load(stream) { count += 1 }
                    guard count == scale.largeStream else { throw BenchFailure("loaded \(count) of \(scale.largeStream)") }
                } baseline: {
                    _ = try await raw.load(stream.rawValue, forward: true)
                }
                let n = Double(scale.largeStream)
                return result(scale.largeStream >= 1_000_000 ? "load-stream-\(scale.largeStream / 1_000_000)m" : "load-stream-\(scale.largeStream / 1000)k", target, rate: n / seconds, baseline: n / rawSeconds, peak: peak)
            })
        return results
    }

    private func loadAggregate(_ target: BenchTarget) async throws -> [BenchResult] {
        var results: [BenchResult] = []
        for (label, size) in [("small", scale.smallStore), ("large", scale.largeStore)] {
            results.append(
                try await target.withStore(label == "small" ? "las" : "lal") { store, raw in
                    let streams = size / 50
                    var index = 0
                    while index < streams {
                        // 20 aggregates of 50 events per write: 1000 events a transaction.
                        for offset in 0..<min(20, streams - index) {
                            let events = BenchEvents.batch(aggregate: index + offset, first: 1, count: 50)
                            let name = "aggregate-\(index + offset)"
                            try await store.append(events, to: try StreamName(name), expectedVersion: .noStream)
                            try await raw.append(events, to: name)
                        }
                        index += 20
                    }
                    let picks = (0..<scale.aggregateLoads).map { ($0 * 7919) % streams }
                    let memoryStart = Measure.resetPeakMemory()
                    let measured = try await timed(events: scale.aggregateLoads * 50, operations: scale.aggregateLoads) { i in
                        let events = try await store.load(try StreamName("aggregate-\(picks[i])")).collect()
                        guard events.count == 50 else { throw BenchFailure("an aggregate had \(events.count) events") }
                    }
                    let peak = Measure.peakMemory(since: memoryStart)
                    let baseline = try await timed(events: scale.aggregateLoads * 50, operations: scale.aggregateLoads) { i in
                        _ = try await raw.load("aggregate-\(picks[i])", forward: true)
                    }
                    return result(
                        "load-aggregate-\(size >= 1_000_000 ? "\(size / 1_000_000)m" : "\(size / 1000)k")", target,
                        rate: measured.rate, baseline: baseline.rate, latencies: measured.latencies, peak: peak)
                })
        }
        return results
    }

    private func matcher(_ target: BenchTarget) async throws -> BenchResult {
        try await target.withStore("mt") { store, raw in
            let stream: StreamName = "matched-0"
            try await fill(store, raw, stream: stream, count: scale.streamEvents)
            let matcher = try MetadataMatcher().metadata("_aggregate_id", .equals, "agg-7")
            let expected = scale.streamEvents / 100
            let (seconds, rawSeconds, peak) = try await Measure.alternating(rounds: scale.readRounds) { _ in
                let count = try await store.load(stream, matching: matcher).collect().count
                guard count == expected else { throw BenchFailure("the matcher found \(count), not \(expected)") }
            } baseline: {
                _ = try await raw.load(stream.rawValue, aggregateID: "agg-7")
            }
            let n = Double(scale.streamEvents)
            return result("matcher", target, rate: n / seconds, baseline: n / rawSeconds, peak: peak)
        }
    }

    private func catchUp(_ target: BenchTarget, projection: Bool) async throws -> BenchResult {
        try await target.withStore(projection ? "pc" : "sc") { store, raw in
            let perStream = scale.streamEvents / 10
            for index in 0..<10 { try await fill(store, raw, stream: try StreamName("catch-\(index)"), count: perStream) }
            let total = perStream * 10
            // The machine's CPU seconds over the store's rounds.
            var storeCPU: Double? = 0
            var storeRounds = 0
            let (seconds, rawSeconds, peak) = try await Measure.alternating(rounds: scale.readRounds) { round in
                let start = Measure.machineCPUSeconds()
                defer {
                    storeRounds += 1
                    if let sum = storeCPU, let start, let end = Measure.machineCPUSeconds() {
                        storeCPU = sum + end - start
                    } else {
                        storeCPU = nil
                    }
                }
                if projection {
                    let counter = ProjectionManager(store: store).createProjection("$bench-counter-\(round)").initialState(0).fromAll()
                        .whenAny { count, _, _ in count + 1 }
                    try await counter.run(keepRunning: false)
                    guard counter.state == total else { throw BenchFailure("the projection counted \(counter.state) of \(total)") }
                } else {
                    var count = 0
                    for try await _ in try await store.subscribe(to: .all) {
                        count += 1
                        if count == total { break }
                    }
                }
            } baseline: {
                _ = try await raw.readAll()
            }
            return result(
                projection ? "projection-catch-up" : "subscription-catch-up", target, rate: Double(total) / seconds,
                baseline: Double(total) / rawSeconds, peak: peak, cpuSeconds: storeCPU.map { $0 / Double(max(1, storeRounds * total)) })
        }
    }

    /// 8 consumers of one consumer group share the events of 10 streams, each taking up to 100 deliveries at
    /// a time and acknowledging them in one call (`take` and `acknowledge`, as a batching consumer does);
    /// baseline: a plain subscription's catch-up over the same events, in the same run.
    private func groupConsume(_ target: BenchTarget) async throws -> BenchResult {
        try await target.withStore("gc") { store, _ in
            guard let groups = store as? any ConsumerGroupStore else { throw BenchFailure("\(target.name) has no consumer groups") }
            let perStream = scale.streamEvents / 10
            for index in 0..<10 {
                var written = 0
                while written < perStream {
                    let size = min(1000, perStream - written)
                    let events = (1...size).map { BenchEvents.event(aggregate: written + $0, version: written + $0) }
                    try await store.append(events, to: try StreamName("job-\(index)"), expectedVersion: written == 0 ? .noStream : .any)
                    written += size
                }
            }
            let total = perStream * 10
            let subscriptionSeconds = try await Measure.seconds {
                var count = 0
                for try await _ in try await store.subscribe(to: .category("job")) {
                    count += 1
                    if count == total { break }
                }
            }
            let settings = ConsumerGroupSettings(maxRetries: 10, messageTimeout: .seconds(60), maxInFlightPerConsumer: 100)
            try await groups.createConsumerGroup(ConsumerGroup(name: "bench", target: .category("job"), settings: settings), from: .start)
            let acknowledged = AcknowledgedCount()
            let memoryStart = Measure.resetPeakMemory()
            var latencies: [Double] = []
            let seconds = try await Measure.seconds {
                latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
                    for consumer in 0..<8 {
                        group.addTask {
                            var own: [Double] = []
                            var idleSince = ContinuousClock.now
                            while acknowledged.value < total {
                                let start = ContinuousClock.now
                                let taken = try await groups.take(from: "bench", consumer: "c\(consumer)", count: 100)
                                guard !taken.isEmpty else {
                                    if ContinuousClock.now - idleSince > .seconds(60) {
                                        throw BenchFailure("the group handed out nothing for 60 s, at \(acknowledged.value) of \(total)")
                                    }
                                    try await Task.sleep(for: .milliseconds(2))
                                    continue
                                }
                                let count = try await groups.acknowledge(taken.map(\.id), in: "bench", consumer: "c\(consumer)")
                                acknowledged.add(count)
                                own.append((ContinuousClock.now - start).seconds)
                                idleSince = ContinuousClock.now
                            }
                            return own
                        }
                    }
                    var all: [Double] = []
                    for try await own in group { all += own }
                    return all
                }
            }
            let peak = Measure.peakMemory(since: memoryStart)
            guard acknowledged.value == total else {
                throw BenchFailure("the consumers acknowledged \(acknowledged.value) of \(total) events")
            }
            return result(
                "group-consume", target, rate: Double(total) / seconds, baseline: Double(total) / subscriptionSeconds,
                latencies: latencies, peak: peak)
        }
    }

    private func httpAppend(_ target: BenchTarget) async throws -> BenchResult {
        try await target.withStore("ha") { store, _ in
            try await withHTTPServer(store) { port in
                let count = scale.httpAppends
                let bodies = (1...count).map { version in
                    "[" + BenchEvents.json(BenchEvents.event(aggregate: 1, version: version)) + "]"
                }
                let memoryStart = Measure.resetPeakMemory()
                let measured = try await timed(events: count, operations: count) { index in
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/stream/http-0")
                    request.method = .POST
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.body = .bytes(ByteBuffer(string: bodies[index]))
                    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                    guard response.status == .noContent else { throw BenchFailure("POST answered \(response.status)") }
                }
                let peak = Measure.peakMemory(since: memoryStart)
                let direct = try await timed(events: count, operations: count) { index in
                    try await store.append([BenchEvents.event(aggregate: 2, version: index + 1)], to: "direct-0", expectedVersion: index == 0 ? .noStream : .any)
                }
                return result("http-append", target, rate: measured.rate, baseline: direct.rate, latencies: measured.latencies, peak: peak)
            }
        }
    }

    private func httpRead(_ target: BenchTarget) async throws -> BenchResult {
        try await target.withStore("hr") { store, raw in
            let stream: StreamName = "http-read-0"
            try await fill(store, raw, stream: stream, count: scale.streamEvents)
            return try await withHTTPServer(store) { port in
                let pages = (scale.streamEvents + 999) / 1000
                let memoryStart = Measure.resetPeakMemory()
                let measured = try await timed(events: scale.streamEvents, operations: pages) { page in
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/stream/http-read-0/\(page * 1000 + 1)/forward/1000")
                    request.headers.add(name: "Accept", value: "application/json")
                    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
                    let body = try await response.body.collect(upTo: 64 * 1024 * 1024)
                    guard response.status == .ok, body.readableBytes > 0 else { throw BenchFailure("GET answered \(response.status)") }
                }
                let peak = Measure.peakMemory(since: memoryStart)
                let direct = try await timed(events: scale.streamEvents, operations: pages) { page in
                    _ = try await store.load(stream, from: page * 1000 + 1, count: 1000).collect()
                }
                return result("http-read", target, rate: measured.rate, baseline: direct.rate, latencies: measured.latencies, peak: peak)
            }
        }
    }
}

extension BenchRunner {
    /// Single appends through `EventStoreClient` to an in-process server, against the same appends on the store.
    fileprivate func clientAppend(_ target: BenchTarget) async throws -> BenchResult {
        try await target.withStore("ca") { store, _ in
            try await withHTTPServer(store) { port in
                try await withClient(port: port, readBatchSize: 100) { client in
                    let count = scale.httpAppends
                    let events = (1...count).map { BenchEvents.event(aggregate: 1, version: $0) }
                    let memoryStart = Measure.resetPeakMemory()
                    let measured = try await timed(events: count, operations: count) { index in
                        try await client.append([events[index]], to: "client-0", expectedVersion: index == 0 ? .noStream : .any)
                    }
                    let peak = Measure.peakMemory(since: memoryStart)
                    let direct = try await timed(events: count, operations: count) { index in
                        try await store.append(
                            [BenchEvents.event(aggregate: 2, version: index + 1)], to: "direct-0", expectedVersion: index == 0 ? .noStream : .any)
                    }
                    return result("client-append", target, rate: measured.rate, baseline: direct.rate, latencies: measured.latencies, peak: peak)
                }
            }
        }
    }

    /// A stream read through `EventStoreClient` in loads of 1,000 events, against the same loads on the store.
    fileprivate func clientRead(_ target: BenchTarget) async throws -> BenchResult {
        try await target.withStore("cr") { store, raw in
            let stream: StreamName = "client-read-0"
            try await fill(store, raw, stream: stream, count: scale.streamEvents)
            return try await withHTTPServer(store) { port in
                try await withClient(port: port, readBatchSize: 1000) { client in
                    let pages = (scale.streamEvents + 999) / 1000
                    let memoryStart = Measure.resetPeakMemory()
                    let measured = try await timed(events: scale.streamEvents, operations: pages) { page in
                        let events = try await client.load(stream, from: page * 1000 + 1, count: 1000).collect()
                        guard !events.isEmpty else { throw BenchFailure("the client read no events at page \(page)") }
                    }
                    let peak = Measure.peakMemory(since: memoryStart)
                    let direct = try await timed(events: scale.streamEvents, operations: pages) { page in
                        _ = try await store.load(stream, from: page * 1000 + 1, count: 1000).collect()
                    }
                    return result("client-read", target, rate: measured.rate, baseline: direct.rate, latencies: measured.latencies, peak: peak)
                }
            }
        }
    }

    /// An `EventStoreClient` of the server on `port`, shut down after `body`.
    private func withClient<T: Sendable>(port: Int, readBatchSize: Int, _ body: (EventStoreClient) async throws -> T) async throws -> T {
        var configuration = EventStoreClientConfiguration()
        configuration.readBatchSize = readBatchSize
        configuration.logger = BenchTarget.logger
        let client = try EventStoreClient(url: "http://127.0.0.1:\(port)", configuration: configuration)
        do {
            let value = try await body(client)
            try await client.shutdown()
            return value
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}

/// Serves the HTTP API for `store` on a free loopback port while `body` runs.
func withHTTPServer<T: Sendable>(_ store: any EventStore, _ body: @Sendable (Int) async throws -> T) async throws -> T {
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    let app = Application(
        router: EventStoreHTTPServer.router(store: store),
        configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0), serverName: "eventstore-bench"),
        onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) },
        logger: BenchTarget.logger)
    let services = ServiceGroup(configuration: ServiceGroupConfiguration(services: [app], logger: BenchTarget.logger))
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            try await services.run()
            return nil
        }
        var port = 0
        for await value in ports {
            port = value
            break
        }
        let result = try await withCleanup { try await body(port) } cleanup: { await services.triggerGracefulShutdown() }
        try await group.waitForAll()
        return result
    }
}

/// The printed table and the targets of the benchmark issue.
enum BenchTable {
    static func format(_ value: Double?, digits: Int = 0) -> String {
        guard let value, value.isFinite else { return "–" }
        return String(format: "%.\(digits)f", value)
    }

    static func line(_ r: BenchResult) -> String {
        "\(r.workload) \(r.backend): \(format(r.eventsPerSecond)) events/s (baseline \(format(r.baselineEventsPerSecond)), ratio \(format(r.ratio, digits: 2)))"
    }

    static func render(_ results: [BenchResult]) -> String {
        var lines = [
            "| workload | backend | events/s | baseline events/s | ratio | p50 ms | p99 ms | peak MiB above start | machine CPU µs/event |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in results {
            let peak = r.peakMemoryBytes.map { Double($0) / 1_048_576 }
            lines.append(
                "| \(r.workload) | \(r.backend) | \(format(r.eventsPerSecond)) | \(format(r.baselineEventsPerSecond)) | \(format(r.ratio, digits: 2)) | \(format(r.p50Milliseconds, digits: 3)) | \(format(r.p99Milliseconds, digits: 3)) | \(format(peak, digits: 1)) | \(format(r.cpuMicrosecondsPerEvent, digits: 1)) |"
            )
        }
        return lines.joined(separator: "\n")
    }

    /// The issue's targets, met or missed, per backend.
    static func targets(_ results: [BenchResult]) -> [String] {
        var lines: [String] = []
        let backends = results.map(\.backend).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        for backend in backends where !backend.hasPrefix(PartitionedBench.backendPrefix) {
            let rows = results.filter { $0.backend == backend }
            func row(_ prefix: String) -> [BenchResult] { rows.filter { $0.workload.hasPrefix(prefix) } }
            func verdict(_ ok: Bool) -> String { ok ? "met" : "MISSED" }
            for r in row("append-batch") + row("append-single") + row("load-stream-forward") + row("load-stream-backward") {
                if let ratio = r.ratio { lines.append("target \(backend) \(r.workload) ≥ 0.7 of baseline: \(format(ratio, digits: 2)) \(verdict(ratio >= 0.7))") }
            }
            let aggregates = row("load-aggregate")
            if aggregates.count == 2, let small = aggregates[0].eventsPerSecond, let large = aggregates[1].eventsPerSecond {
                let slowdown = small / large
                lines.append("target \(backend) load-aggregate \(aggregates[1].workload) within 1.5× of \(aggregates[0].workload): \(format(slowdown, digits: 2))× \(verdict(slowdown <= 1.5))")
            }
            if let large = rows.first(where: { $0.workload.hasPrefix("load-stream-") && ($0.workload.hasSuffix("k") || $0.workload.hasSuffix("m")) }),
                let peak = large.peakMemoryBytes
            {
                let mib = Double(peak) / 1_048_576
                lines.append("target \(backend) \(large.workload) peak memory < 100 MiB: \(format(mib, digits: 1)) MiB \(verdict(mib < 100))")
            }
            if let projection = row("projection-catch-up").first?.eventsPerSecond, let load = row("load-stream-forward").first?.eventsPerSecond {
                let share = projection / load
                lines.append("target \(backend) projection-catch-up ≥ 0.5 of load-stream: \(format(share, digits: 2)) \(verdict(share >= 0.5))")
            }
        }
        return lines
    }
}

/// The events a consumer group's consumers acknowledged, shared between them (`group-consume`).
private final class AcknowledgedCount: Sendable {
    private let count = Atomic<Int>(0)
    var value: Int { count.load(ordering: .relaxed) }
    func add(_ more: Int) { count.add(more, ordering: .relaxed) }
}
