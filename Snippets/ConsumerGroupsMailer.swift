// A consumer group shares a category's events among consumers: one consumer with `consume`, another
// that takes and acknowledges in batches, a parked event replayed, and what the group reports.

// snippet.hide
import EventStore
import Synchronization

/// Stands for the mail the consumers send.
let sent = Mutex<[String]>([])
func send(_ event: RecordedEvent) async throws { sent.withLock { $0.append(event.streamName.rawValue) } }

let store = InMemoryEventStore()
for order in 1...3 {
    try await store.append([EventMessage(messageName: "OrderPlaced")], to: StreamName("order-\(order)"), expectedVersion: .noStream)
}

// snippet.show
// snippet.consume
try await store.createConsumerGroup(
    ConsumerGroup(name: "mailer", target: .category("order"),
                  settings: ConsumerGroupSettings(maxRetries: 10, messageTimeout: .seconds(30),
                                                  maxInFlightPerConsumer: 10, strategy: .roundRobin)),
    from: .start)
let deliveries = try store.consume("mailer", as: "worker-1")
for try await delivery in deliveries {
    do {
        try await send(delivery.event)
        try await deliveries.acknowledge(delivery)
    } catch {
        try await deliveries.reject(delivery, action: .retry, reason: "\(error)")  // or .park, .skip
    }
    // snippet.hide
    if sent.withLock({ $0.count }) == 3 { break }
    // snippet.show
}
// snippet.end
try await store.leave("mailer", consumer: "worker-1")
precondition(sent.withLock { $0 } == ["order-1", "order-2", "order-3"], "each event handed out once")

// snippet.hide
try await store.append([EventMessage(messageName: "OrderPaid")], to: "order-1", expectedVersion: .exact(1))
try await store.append([EventMessage(messageName: "OrderPaid")], to: "order-2", expectedVersion: .exact(1))
// snippet.show

// snippet.batch
// A consumer that batches: take up to 10 deliveries, acknowledge them in one call, park what fails.
let batch = try await store.take(from: "mailer", consumer: "worker-2", count: 10)
try await store.acknowledge(batch.dropLast().map(\.id), in: "mailer")
try await store.reject([batch[batch.count - 1].id], in: "mailer", action: .park, reason: "no address")
for parked in try await store.parkedEvents(in: "mailer") {
    print(parked.event.streamName, parked.reason)
}
try await store.replayParkedEvents(in: "mailer")  // hands the parked events out again
// snippet.end
precondition(batch.map(\.event.streamName) == ["order-1", "order-2"])

// snippet.info
let info = try await store.consumerGroup(named: "mailer")
print(info.position, info.consumers, info.inFlight, info.parked, info.retries, info.lagEvents, info.lagSeconds)
// snippet.end
precondition(info.acknowledged == 4 && info.parked == 0 && info.inFlight == 0, "\(info)")

// snippet.hide
let replayed = try await store.take(from: "mailer", consumer: "worker-2", count: 10)
precondition(replayed.map(\.event.streamName) == ["order-2"], "the parked event comes again")
try await store.acknowledge(replayed.map(\.id), in: "mailer")
let settled = try await store.consumerGroup(named: "mailer")
precondition(settled.acknowledged == 5 && settled.lagEvents == 0, "\(settled)")
