import Logging

extension ConsumerGroupStore {
    /// Joins `group` as `consumer`: its deliveries, as they come, until the consuming task is cancelled
    /// (the consumer then leaves the group, and what it held goes to the others).
    ///
    /// Acknowledge each delivery once it is handled (``ConsumerGroupDeliveries/acknowledge(_:)``), or reject
    /// it (``ConsumerGroupDeliveries/reject(_:action:reason:)``); one left alone times out after the group's
    /// message timeout and goes to another consumer. The sequence asks for at most `batchSize` deliveries at
    /// a time (never more than the group's in-flight limit), and waits for appends, or at most `pollInterval`
    /// (on `clock`) for events handed back by others. Backend failures are retried with back-off.
    /// - Throws: `invalidArgument` for an empty consumer name or a batch size below 1.
    public func consume(
        _ group: String, as consumer: String, batchSize: Int = 10, pollInterval: Duration = .milliseconds(500),
        clock: some Clock<Duration> = ContinuousClock(), logger: Logger? = nil
    ) throws -> ConsumerGroupDeliveries {
        if consumer.isEmpty { throw EventStoreError.invalidArgument("a consumer needs a name") }
        if batchSize < 1 { throw EventStoreError.invalidArgument("batchSize must be 1 or more, not \(batchSize)") }
        return ConsumerGroupDeliveries(
            store: self, feed: consumerGroupFeed, group: group, consumer: consumer, batchSize: batchSize, pollInterval: pollInterval, clock: AnyClock(clock),
            logger: logger ?? self.logger)
    }
}

/// One consumer's deliveries from a consumer group (``ConsumerGroupStore/consume(_:as:batchSize:pollInterval:clock:logger:)``).
public struct ConsumerGroupDeliveries: AsyncSequence, Sendable {
    /// One event handed to this consumer.
    public typealias Element = ConsumerGroupDelivery

    let store: any ConsumerGroupStore
    /// What the consumer waits on for appends.
    let feed: ProjectionFeed
    /// The group's name.
    public let group: String
    /// This consumer's name.
    public let consumer: String
    let batchSize: Int
    let pollInterval: Duration
    let clock: AnyClock
    let logger: Logger

    /// Acknowledges a delivery: its event is settled. A delivery that timed out and went to another
    /// consumer meanwhile is not acknowledged (`false`): the other's counts.
    @discardableResult
    public func acknowledge(_ delivery: ConsumerGroupDelivery) async throws -> Bool {
        try await store.acknowledge([delivery.id], in: group, consumer: consumer) == 1
    }

    /// Rejects a delivery: retried (by any consumer), parked or skipped. `false` when it was no longer this
    /// consumer's.
    @discardableResult
    public func reject(_ delivery: ConsumerGroupDelivery, action: ConsumerGroupNack, reason: String? = nil) async throws -> Bool {
        try await store.reject([delivery.id], in: group, action: action, reason: reason, consumer: consumer) == 1
    }

    /// An iterator over this consumer's deliveries, with no batch taken yet.
    public func makeAsyncIterator() -> Iterator { Iterator(deliveries: self) }

    /// Leaves the group, in a task of its own: the consuming task is cancelled, and calls made in it would
    /// end at once. Best effort: a consumer that cannot say goodbye is forgotten after two timeouts, and what
    /// it held times out.
    func leave() async {
        let (store, group, consumer, logger) = (self.store, self.group, self.consumer, self.logger)
        await Task {
            do {
                try await store.leave(group, consumer: consumer)
            } catch {
                logger.debug("the consumer \(consumer) could not leave group \(group): \(error)")
            }
        }.value
    }

    /// Takes the consumer's deliveries from the group a batch at a time and hands them out one by one.
    public struct Iterator: AsyncIteratorProtocol {
        let deliveries: ConsumerGroupDeliveries
        var buffer: [ConsumerGroupDelivery] = []
        var index = 0

        /// The next delivery: the next of the batch taken last, or of a new batch; while the group has none
        /// for this consumer, it waits for appends, or at most the poll interval.
        ///
        /// `nil` once the consuming task is cancelled (checked before each batch is taken): the consumer
        /// leaves the group first. A transient failure is logged and retried after 100 ms, then twice as
        /// long each time, up to 5 s.
        /// - Throws: the errors that are not transient, for example `consumerGroupNotFound` when the group
        ///   was deleted.
        public mutating func next() async throws -> ConsumerGroupDelivery? {
            let d = deliveries
            var retryDelay: Duration = .milliseconds(100)
            while index == buffer.count {
                if Task.isCancelled {
                    await d.leave()
                    return nil
                }
                let mark = d.feed.base.appendMark()
                do {
                    buffer = try await d.store.take(from: d.group, consumer: d.consumer, count: d.batchSize)
                    index = 0
                    retryDelay = .milliseconds(100)
                } catch where Task.isCancelled {
                    await d.leave()
                    return nil
                } catch let error as EventStoreError where error.code.isTransient {
                    d.logger.warning(
                        "the consumer \(d.consumer) of group \(d.group) could not take deliveries; it tries again in \(retryDelay): \(error)")
                    try? await d.clock.sleep(for: retryDelay)
                    retryDelay = Swift.min(retryDelay * 2, .seconds(5))
                    continue
                }
                if buffer.isEmpty {
                    await d.feed.base.waitForAppends(after: mark, timeout: d.pollInterval, clock: d.clock)
                }
            }
            defer { index += 1 }
            return buffer[index]
        }
    }
}
