import EventStoreSQL
import EventStoreTestSupport
import Testing

/// The write gate's two modes: shares run together, an exclusive holder runs alone and in turn.
@Suite("Async gate", .watchdog()) struct AsyncGateTests {
    /// Waits until `count` callers wait for the gate.
    func waitUntil(_ gate: AsyncGate, waiting count: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while await gate.waitingCount < count {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    actor Log {
        var entries: [String] = []
        func add(_ entry: String) { entries.append(entry) }
    }

    @Test func sharesRunTogetherAndAnExclusiveHolderWaitsForThemAndGoesFirst() async throws {
        let gate = AsyncGate()
        let log = Log()
        // Two shares at once: neither waits for the other.
        await gate.acquireShared()
        await gate.acquireShared()

        let exclusive = Task {
            await gate.acquire()
            await log.add("exclusive")
            await gate.release()
        }
        // The exclusive holder waits before a new share asks.
        try await waitUntil(gate, waiting: 1)
        let lateShare = Task {
            await gate.acquireShared()
            await log.add("late share")
            await gate.releaseShared()
        }
        try await waitUntil(gate, waiting: 2)
        #expect(await log.entries.isEmpty)

        await log.add("first released")
        await gate.releaseShared()
        #expect(await gate.waitingCount == 2)
        #expect(await log.entries == ["first released"])

        await log.add("second released")
        await gate.releaseShared()
        await exclusive.value
        await lateShare.value
        #expect(await log.entries == ["first released", "second released", "exclusive", "late share"])
    }

    @Test func exclusiveHoldersTakeTurnsInOrder() async throws {
        let gate = AsyncGate()
        let log = Log()
        await gate.acquire()
        var waiters: [Task<Void, Never>] = []
        for index in 0..<5 {
            waiters.append(
                Task {
                    await gate.acquire()
                    await log.add("holder \(index)")
                    await gate.release()
                })
            // Each waiter queues before the next one starts.
            try await waitUntil(gate, waiting: index + 1)
        }
        #expect(await log.entries.isEmpty)
        await gate.release()
        for waiter in waiters { await waiter.value }
        #expect(await log.entries == (0..<5).map { "holder \($0)" })
    }
}
