import AsyncHTTPClient
import EventStore
import EventStoreBackends
import EventStoreTestSupport
import Foundation
import Logging
import NIOCore
import Synchronization

/// The tests' HTTP client. A connection that is refused fails the request at once (AsyncHTTPClient's
/// default retries it until the request's own timeout, which made a request sent as `serve` exited look
/// like one that `serve` left unanswered).
let testClient: HTTPClient = {
    var configuration = HTTPClient.Configuration()
    configuration.connectionPool.retryConnectionEstablishment = false
    configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
    configuration.timeout.connect = .seconds(5)
    return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
}()

/// One append a writer sent: its events' uuids, what came back and how long it took.
struct SentAppend: Sendable {
    let stream: String
    let uuids: [String]
    /// The HTTP status, `nil` when the request itself failed (refused, reset, timed out on the client).
    let status: UInt?
    let problem: String
    let sent: ContinuousClock.Instant
    let answered: ContinuousClock.Instant

    var acknowledged: Bool { status == 204 }
    var duration: Duration { answered - sent }
}

/// Every append of a run, from every writer.
final class Ledger: Sendable {
    private let entries = Mutex<[SentAppend]>([])

    func record(_ append: SentAppend) { entries.withLock { $0.append(append) } }
    var all: [SentAppend] { entries.withLock { $0 } }
    var acknowledged: [SentAppend] { all.filter(\.acknowledged) }

    /// The appends answered after `instant`.
    func answered(after instant: ContinuousClock.Instant) -> [SentAppend] { all.filter { $0.answered > instant } }
}

/// A flag the writers read between appends.
final class StopFlag: Sendable {
    private let stopped = Atomic<Bool>(false)
    var isSet: Bool { stopped.load(ordering: .relaxed) }
    func set() { stopped.store(true, ordering: .relaxed) }
}

/// Writers that each append batches of `batch` events to a stream of their own over HTTP until `stop` is set.
/// A request the server does not answer within `requestTimeout` is given up by the client (and recorded as
/// unanswered, which the fault tests count as a hang).
func runWriters(
    _ count: Int, to server: @escaping @Sendable () -> String, streamPrefix: String, batch: Int = 3, requestTimeout: Duration,
    ledger: Ledger, stop: StopFlag
) async {
    await withTaskGroup(of: Void.self) { group in
        for writer in 0..<count {
            group.addTask {
                var sequence = 0
                while !stop.isSet {
                    sequence += 1
                    let uuids = (0..<batch).map { _ in UUID().uuidString.lowercased() }
                    let items = uuids.enumerated().map { index, uuid in
                        "{\"message_name\":\"Written\",\"uuid\":\"\(uuid)\",\"payload\":{\"writer\":\(writer),\"batch\":\(sequence),\"i\":\(index)}}"
                    }
                    let stream = "\(streamPrefix)-\(writer)"
                    var request = HTTPClientRequest(url: "\(server())/stream/\(stream)")
                    request.method = .POST
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.body = .bytes(ByteBuffer(string: "[" + items.joined(separator: ",") + "]"))
                    let sent = ContinuousClock.now
                    var status: UInt?
                    var problem = ""
                    do {
                        let response = try await testClient.execute(request, timeout: .init(requestTimeout))
                        problem = String(buffer: try await response.body.collect(upTo: 1 << 16))
                        status = response.status.code
                    } catch {
                        problem = "\(error)"
                    }
                    ledger.record(
                        SentAppend(stream: stream, uuids: uuids, status: status, problem: problem, sent: sent, answered: .now))
                    // A server that is down refuses at once: no need to spin.
                    if status != 204 { try? await Task.sleep(for: .milliseconds(50)) }
                }
            }
        }
    }
}

/// What the store holds of the ledger's appends, read with the library (not through the server).
struct StoredCheck {
    /// Acknowledged appends not stored in full, in order, once.
    var lostOrAltered: [String] = []
    /// Unacknowledged appends stored in part.
    var partial: [String] = []
    /// Uuids stored more than once.
    var duplicated: [String] = []
    /// Stored events that no writer sent.
    var unknown: [String] = []

    var isClean: Bool { lostOrAltered.isEmpty && partial.isEmpty && duplicated.isEmpty && unknown.isEmpty }

    /// Checks every stream of `ledger` in the store at `database`: every acknowledged append is there once,
    /// in full and in order; every other one is there in full or not at all.
    static func of(_ ledger: Ledger, in database: String) async throws -> StoredCheck {
        Watchdog.step("check the stored events against the ledger")
        let appends = ledger.all
        let streams = Set(appends.map(\.stream))
        let stored: [String: [String]] = try await StoreBackends.backend(for: database).withStore(
            tablePrefix: nil, logger: Logger(label: "eventstore.tests.serve")
        ) { store in
            var stored: [String: [String]] = [:]
            for stream in streams {
                let name = try StreamName(stream)
                guard try await store.hasStream(name) else { continue }
                stored[stream] = try await store.load(name).collect().map { $0.uuid.uuidString.lowercased() }
            }
            return stored
        }
        var check = StoredCheck()
        for stream in streams {
            let uuids = stored[stream] ?? []
            var index: [String: Int] = [:]
            for (offset, uuid) in uuids.enumerated() {
                if index[uuid] != nil { check.duplicated.append(uuid) }
                index[uuid] = offset
            }
            var sent = Set<String>()
            for append in appends where append.stream == stream {
                sent.formUnion(append.uuids)
                let offsets = append.uuids.map { index[$0] }
                let present = offsets.compactMap { $0 }
                let inFullAndInOrder =
                    present.count == append.uuids.count && zip(present, present.dropFirst()).allSatisfy { $1 == $0 + 1 }
                if append.acknowledged, !inFullAndInOrder {
                    check.lostOrAltered.append("\(stream) \(append.uuids.first ?? "")")
                } else if !append.acknowledged, !present.isEmpty, !inFullAndInOrder {
                    check.partial.append("\(stream) \(append.uuids.first ?? "")")
                }
            }
            check.unknown += uuids.filter { !sent.contains($0) }
        }
        return check
    }
}

/// A Server-Sent-Events client of `/subscribe/all` that reconnects with `Last-Event-ID` when its stream
/// ends, and records every event it is sent.
final class EventStreamFollower: Sendable {
    struct Received: Sendable {
        let id: String
        let uuid: String
    }

    private struct State {
        var received: [Received] = []
        var connections = 0
        var errors: [String] = []
    }

    private let state = Mutex(State())
    private let task = Mutex<Task<Void, Never>?>(nil)

    var received: [Received] { state.withLock { $0.received } }
    /// How many times the follower connected (1 when its first stream never ended).
    var connections: Int { state.withLock { $0.connections } }
    /// `event: error` frames it was sent.
    var errors: [String] { state.withLock { $0.errors } }

    /// Starts following `server()` (read again at each reconnection).
    func start(_ server: @escaping @Sendable () -> String) {
        let follow = Task {
            while !Task.isCancelled {
                var request = HTTPClientRequest(url: "\(server())/subscribe/all")
                if let last = received.last?.id { request.headers.add(name: "Last-Event-ID", value: last) }
                do {
                    let response = try await testClient.execute(request, timeout: .hours(1))
                    guard response.status == .ok else {
                        try await Task.sleep(for: .milliseconds(100))
                        continue
                    }
                    state.withLock { $0.connections += 1 }
                    var pending = ""
                    for try await chunk in response.body {
                        pending += String(buffer: chunk)
                        while let end = pending.range(of: "\n\n") {
                            let frame = pending[..<end.lowerBound]
                            pending.removeSubrange(..<end.upperBound)
                            consume(frame)
                        }
                    }
                } catch {
                    // Reconnected below, as a browser's EventSource does.
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        task.withLock { $0 = follow }
    }

    private func consume(_ frame: Substring) {
        var id = ""
        var event = ""
        var data = ""
        for line in frame.split(separator: "\n") {
            if line.hasPrefix("id: ") { id = String(line.dropFirst(4)) }
            if line.hasPrefix("event: ") { event = String(line.dropFirst(7)) }
            if line.hasPrefix("data: ") { data = String(line.dropFirst(6)) }
        }
        if event == "error" {
            state.withLock { $0.errors.append(data) }
            return
        }
        guard !id.isEmpty,
            let object = try? JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any],
            let uuid = object["uuid"] as? String
        else { return }
        state.withLock { $0.received.append(Received(id: id, uuid: uuid.lowercased())) }
    }

    /// Waits until every uuid of `uuids` was received, at most `limit`; `true` when they were.
    func waitFor(_ uuids: Set<String>, upTo limit: Duration) async -> Bool {
        Watchdog.step("wait for the event stream to deliver \(uuids.count) events")
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if uuids.isSubset(of: Set(received.map(\.uuid))) { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    func stop() async {
        let follow = task.withLock { $0 }
        follow?.cancel()
        await follow?.value
    }
}
