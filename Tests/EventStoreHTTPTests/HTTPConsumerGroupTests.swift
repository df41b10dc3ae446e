import AsyncHTTPClient
import EventStore
import EventStoreHTTP
import EventStoreSQLite
import EventStoreTestSupport
import Foundation
import HTTPTypes
import NIOCore
import Prometheus
import Synchronization
import Testing

/// Issue 23: consumer groups over HTTP, driven by real clients against a live server.
/// What the clients acknowledged (events whose acknowledgement counted) and rejected once.
final class Acknowledgements: Sendable {
    private let state = Mutex((events: [String](), rejected: Set<String>()))
    func withLock<T>(_ body: (inout (events: [String], rejected: Set<String>)) -> T) -> T { state.withLock { body(&$0) } }
}

@Suite("HTTP consumer groups", .watchdog())
struct HTTPConsumerGroupTests {
    /// A request with a token, to `port`: the status and the body as JSON (or text).
    static func call(
        _ method: String, _ path: String, port: Int, token: String = "writer", body: String? = nil
    ) async throws -> (status: UInt, body: String) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = .init(rawValue: method)
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        return (response.status.code, String(buffer: try await response.body.collect(upTo: 1 << 22)))
    }

    static func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
    }

    /// Three clients share a group's events through `take`, their `ack` links and `nack` (one client rejects
    /// every tenth event the first time it sees it): each event is acknowledged once; the group's routes
    /// answer bad input with problems, and a read-only token may look but not take.
    @Test func threeClientsShareAGroupAndEachEventIsAcknowledgedOnce() async throws {
        var configuration = EventStoreHTTPConfiguration()
        configuration.tokens = ["writer"]
        configuration.readOnlyTokens = ["reader"]
        try await withServer(configuration: configuration) { client, store in
            let port = try #require(client.port)
            let total = 300
            for stream in 0..<3 {
                try await store.create(
                    try StreamName("job-\(stream)"), events: (0..<total / 3).map { EventMessage(messageName: "Job", payload: ["n": JSONValue(integerLiteral: $0)]) })
            }
            let definition = #"{"target":{"category":"job"},"settings":{"message_timeout_ms":5000,"max_in_flight":5,"max_retries":3}}"#
            let created = try await Self.call("PUT", "/groups/jobs", port: port, body: definition)
            #expect(created.status == 201, "\(created.body)")
            #expect(try Self.object(created.body)["lag_events"] as? Int == total)
            #expect(try await Self.call("PUT", "/groups/jobs", port: port, body: definition).status == 409)
            #expect(try await Self.call("GET", "/groups", port: port, token: "reader").body == #"["jobs"]"#)
            #expect(try await Self.call("POST", "/groups/jobs/take?consumer=r", port: port, token: "reader").status == 403)

            let acknowledged = Acknowledgements()
            try await withThrowingTaskGroup { group in
                for clientIndex in 0..<3 {
                    group.addTask {
                        let deadline = ContinuousClock.now + .seconds(120)
                        while acknowledged.withLock({ $0.events.count }) < total, ContinuousClock.now < deadline {
                            let taken = try await Self.call("POST", "/groups/jobs/take?consumer=c\(clientIndex)&count=5", port: port)
                            #expect(taken.status == 200, "\(taken.body)")
                            let deliveries = try #require(try Self.object(taken.body)["deliveries"] as? [[String: Any]])
                            if deliveries.isEmpty {
                                try await Task.sleep(for: .milliseconds(20))
                                continue
                            }
                            for delivery in deliveries {
                                let event = try #require(delivery["event"] as? [String: Any])
                                let uuid = try #require(event["uuid"] as? String)
                                let payload = try #require(event["payload"] as? [String: Any])
                                let firstRejection =
                                    clientIndex == 2 && (payload["n"] as? Int ?? 0) % 10 == 0
                                    && acknowledged.withLock { $0.rejected.insert(uuid).inserted }
                                if firstRejection {
                                    let nack = try #require(delivery["nack"] as? String)
                                    let rejected = try await Self.call("POST", nack + "?action=retry&reason=later", port: port)
                                    #expect(rejected.body == #"{"rejected":1}"#)
                                    continue
                                }
                                let ack = try #require(delivery["ack"] as? String)
                                let answer = try await Self.call("POST", ack + "?consumer=c\(clientIndex)", port: port)
                                if answer.body == #"{"acknowledged":1}"# { acknowledged.withLock { $0.events.append(uuid) } }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let outcome = acknowledged.withLock { $0 }
            #expect(outcome.events.count == total, "acknowledgements that counted")
            #expect(Set(outcome.events).count == total, "each event once")
            #expect(!outcome.rejected.isEmpty)
            let info = try Self.object(try await Self.call("GET", "/groups/jobs", port: port, token: "reader").body)
            #expect(info["acknowledged"] as? Int == total)
            #expect(info["retries"] as? Int == outcome.rejected.count)
            #expect(info["in_flight"] as? Int == 0 && info["lag_events"] as? Int == 0)
            #expect(Set(info["consumers"] as? [String] ?? []) == ["c0", "c1", "c2"])

            // Many at once, parking, replay, and bad input.
            try await store.append([EventMessage(messageName: "Job"), EventMessage(messageName: "Job")], to: "job-0", expectedVersion: .any)
            let two = try Self.object(try await Self.call("POST", "/groups/jobs/take?consumer=c0&count=5", port: port).body)
            let ids = try #require(two["deliveries"] as? [[String: Any]]).compactMap { $0["id"] as? String }
            #expect(ids.count == 2)
            let parked = try await Self.call("POST", "/groups/jobs/nack", port: port, body: #"{"ids":["\#(ids[0])"],"action":"park","reason":"poison"}"#)
            #expect(parked.body == #"{"rejected":1}"#)
            #expect(try await Self.call("POST", "/groups/jobs/ack", port: port, body: #"{"ids":["\#(ids[1])"]}"#).body == #"{"acknowledged":1}"#)
            let list = try await Self.call("GET", "/groups/jobs/parked", port: port, token: "reader")
            #expect(list.status == 200 && list.body.contains(#""reason":"poison""#), "\(list.body)")
            #expect(try await Self.call("POST", "/groups/jobs/replay-parked", port: port).body == #"{"replayed":1}"#)

            for (method, path, body, status) in [
                ("POST", "/groups/jobs/take", nil, 400),
                ("POST", "/groups/jobs/take?consumer=c&count=0", nil, 400),
                ("POST", "/groups/jobs/nack/not-a-uuid", nil, 400),
                ("POST", "/groups/jobs/nack/\(UUID())?action=explode", nil, 400),
                ("POST", "/groups/jobs/ack", #"{"ids":"nope"}"#, 400),
                ("PUT", "/groups/other", #"{"target":{"planet":"mars"}}"#, 400),
                ("PUT", "/groups/other", #"{"target":"all","settings":{"max_in_flight":0}}"#, 400),
                ("PUT", "/groups/other", "not json", 400),
                ("PUT", "/groups/other", #"{"target":"all","matcher":[{"field":"n","operator":"in","value":1}]}"#, 400),
                ("PUT", "/groups/other", #"{"target":"all","matcher":[{"field":"n","property":"uuid","operator":"=","value":1}]}"#, 400),
                ("PUT", "/groups/other", #"{"target":"all","matcher":{"field":"n"}}"#, 400),
                ("PUT", "/groups/other", #"{"target":"all","start":{"after":"not a position"}}"#, 400),
                ("PUT", "/groups/other", #"{"target":"all","start":{"after":"999999"}}"#, 400),
                ("POST", "/groups/jobs/leave", nil, 400),
                ("GET", "/groups/nope", nil, 404),
                ("DELETE", "/groups/nope", nil, 404),
            ] as [(String, String, String?, UInt)] {
                let answer = try await Self.call(method, path, port: port, body: body)
                #expect(answer.status == status, "\(method) \(path): \(answer.body)")
                #expect(answer.body.contains("\"status\":\(status)"), "a problem document: \(answer.body)")
            }
            #expect(try await Self.call("POST", "/groups/jobs/move", port: port, body: #"{"start":"end"}"#).status == 204)
            #expect(try await Self.call("DELETE", "/groups/jobs", port: port).status == 204)
            #expect(try await Self.call("GET", "/groups", port: port).body == "[]")
        }
    }

    /// Consumers follow a group over Server-Sent Events: one that acknowledges nothing holds no more than the
    /// in-flight limit, and hands it back when it disconnects (it leaves the group); two that acknowledge each
    /// delivery through its link acknowledge each event once, and leave when they disconnect; and `/metrics` reports each group's gauges (parked,
    /// lag, in flight) until the group is deleted. Following takes deliveries: a read-only token may not.
    @Test func followersReceiveDeliveriesAsServerSentEvents() async throws {
        var configuration = EventStoreHTTPConfiguration()
        configuration.tokens = ["writer"]
        configuration.readOnlyTokens = ["reader"]
        configuration.metricsRegistry = PrometheusCollectorRegistry()
        // The server finds a follower gone when a write fails: a heartbeat's, when no delivery is due.
        configuration.heartbeatInterval = .milliseconds(200)
        try await withServer(configuration: configuration) { client, store in
            let port = try #require(client.port)
            let total = 40
            for stream in 0..<2 {
                try await store.create(try StreamName("task-\(stream)"), events: (0..<total / 2).map { _ in EventMessage(messageName: "Task") })
            }
            let definition = #"{"target":{"category":"task"},"settings":{"max_in_flight":3}}"#
            #expect(try await Self.call("PUT", "/groups/tasks", port: port, body: definition).status == 201)
            for (path, token, status) in [
                ("/groups/tasks/follow?consumer=r", "reader", 403), ("/groups/tasks/follow", "writer", 400),
                ("/groups/tasks/follow?consumer=w&count=0", "writer", 400), ("/groups/nope/follow?consumer=w", "writer", 404),
            ] as [(String, String, UInt)] {
                let answer = try await Self.call("GET", path, port: port, token: token)
                #expect(answer.status == status && answer.body.contains("\"status\":\(status)"), "\(path): \(answer.body)")
            }

            Watchdog.step("a follower that acknowledges nothing holds the in-flight limit")
            var slow = 0
            try await streamEvents(port: port, path: "/groups/tasks/follow?consumer=slow&count=10", token: "writer") { event in
                slow += 1
                guard slow == 3 else { return true }
                for _ in 0..<2 {
                    let info = try Self.object(try await Self.call("GET", "/groups/tasks", port: port, token: "reader").body)
                    #expect(info["in_flight"] as? Int == 3 && info["consumers"] as? [String] == ["slow"], "\(info)")
                    try await Task.sleep(for: .milliseconds(500))
                }
                return false
            }
            #expect(
                try await Self.eventually {
                    let info = try Self.object(try await Self.call("GET", "/groups/tasks", port: port, token: "reader").body)
                    return (info["consumers"] as? [String])?.isEmpty == true && info["in_flight"] as? Int == 0
                }, "a follower that disconnects leaves, and hands back what it held")

            Watchdog.step("two followers acknowledge \(total) deliveries")
            let acknowledged = Acknowledgements()
            try await withThrowingTaskGroup { group in
                for follower in 0..<2 {
                    group.addTask {
                        try await streamEvents(port: port, path: "/groups/tasks/follow?consumer=f\(follower)&count=10", token: "writer") { event in
                            #expect(event.event == "delivery")
                            let delivery = try Self.object(event.data)
                            #expect(delivery["id"] as? String == event.id)
                            let uuid = try #require((delivery["event"] as? [String: Any])?["uuid"] as? String)
                            let ack = try #require(delivery["ack"] as? String)
                            let answer = try await Self.call("POST", ack + "?consumer=f\(follower)", port: port)
                            if answer.body == #"{"acknowledged":1}"# { acknowledged.withLock { $0.events.append(uuid) } }
                            return true
                        }
                    }
                }
                group.addTask {
                    let deadline = ContinuousClock.now + .seconds(60)
                    while acknowledged.withLock({ $0.events.count }) < total, ContinuousClock.now < deadline {
                        try await Task.sleep(for: .milliseconds(20))
                    }
                }
                try await group.next()
                group.cancelAll()
            }
            let events = acknowledged.withLock { $0.events }
            #expect(events.count == total && Set(events).count == total, "each event acknowledged once: \(events.count)")
            #expect(
                try await Self.eventually {
                    let info = try Self.object(try await Self.call("GET", "/groups/tasks", port: port, token: "reader").body)
                    return (info["consumers"] as? [String])?.isEmpty == true && info["acknowledged"] as? Int == total
                }, "the followers left the group when they disconnected")

            // Per-group gauges.
            try await store.append([EventMessage(messageName: "Task"), EventMessage(messageName: "Task")], to: "task-0", expectedVersion: .any)
            let taken = try Self.object(try await Self.call("POST", "/groups/tasks/take?consumer=m&count=2", port: port).body)
            let ids = try #require(taken["deliveries"] as? [[String: Any]]).compactMap { $0["id"] as? String }
            #expect(ids.count == 2)
            #expect(try await Self.call("POST", "/groups/tasks/nack/\(ids[0])?action=park", port: port).body == #"{"rejected":1}"#)
            let metrics = try await Self.call("GET", "/metrics", port: port, token: "reader").body
            for line in [
                // The parked event is settled: the checkpoint passes it, and the one in flight is the lag.
                #"eventstore_consumer_group_parked{group="tasks"} 1.0"#, #"eventstore_consumer_group_in_flight{group="tasks"} 1.0"#,
                #"eventstore_consumer_group_lag_events{group="tasks"} 1.0"#, #"eventstore_consumer_group_consumers{group="tasks"} 1.0"#,
                #"eventstore_consumer_group_retries{group="tasks"} 0.0"#,
            ] {
                #expect(metrics.contains(line), "\(line) in \(metrics)")
            }
            #expect(metrics.contains(#"eventstore_consumer_group_lag_seconds{group="tasks"}"#))
            #expect(try await Self.call("DELETE", "/groups/tasks", port: port).status == 204)
            let after = try await Self.call("GET", "/metrics", port: port, token: "reader").body
            #expect(!after.contains(#"group="tasks""#), "a deleted group's gauges are dropped: \(after)")
        }
    }

    /// Polls `condition` until it holds, at most 10 s.
    static func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }
}
