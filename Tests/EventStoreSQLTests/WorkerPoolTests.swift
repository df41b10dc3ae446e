import EventStore
import EventStoreSQL
import EventStoreTestSupport
import Foundation
import Synchronization
import Testing

/// A stand-in for a C client's connection: it counts how many were opened and are still open.
final class CountedConnection: @unchecked Sendable {
    static let opened = Mutex(0)
    static let open = Mutex(0)
    let number: Int
    var isBroken = false

    init() {
        number = Self.opened.withLock { $0 += 1; return $0 }
        Self.open.withLock { $0 += 1 }
    }

    deinit { Self.open.withLock { $0 -= 1 } }
}

/// A value shared between tasks.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<T>(_ body: (inout Value) -> T) -> T { mutex.withLock { body(&$0) } }
}

@Suite("Blocking workers and their pool", .serialized, .watchdog())
struct WorkerPoolTests {
    static func worker(_ label: String = "tests.worker") -> BlockingWorker<CountedConnection> {
        BlockingWorker(label: label, open: { CountedConnection() }, isBroken: \.isBroken)
    }

    @Test func jobsRunOneAtATimeOnOneConnection() async throws {
        let worker = Self.worker("tests.worker.serial")
        let running = Locked((now: 0, most: 0))
        let connections = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await worker.run { connection in
                        running.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
                        usleep(1000)
                        running.withLock { $0.now -= 1 }
                        return connection.number
                    }
                }
            }
            return try await group.reduce(into: Set<Int>()) { $0.insert($1) }
        }
        #expect(connections.count == 1)
        #expect(running.withLock { $0.most } == 1)
    }

    @Test func aBrokenConnectionIsOpenedAgainBeforeTheNextJob() async throws {
        let worker = Self.worker()
        let first = try await worker.run { $0.number }
        #expect(try await worker.run { $0.number } == first)
        try await worker.run { $0.isBroken = true }
        #expect(try await worker.run { $0.number } > first)
    }

    @Test func openingErrorsReachTheCaller() async throws {
        let error = await #expect(throws: EventStoreError.self) {
            _ = try await BlockingWorker<CountedConnection>.opened(label: "tests.worker.failing") {
                throw EventStoreError.backend("cannot open")
            }
        }
        #expect(error?.reason == "cannot open")
    }

    @Test func aClosedWorkerReleasesItsConnectionAndFailsLaterJobs() async throws {
        let before = CountedConnection.open.withLock { $0 }
        let worker = try await BlockingWorker<CountedConnection>.opened(label: "tests.worker.closing") { CountedConnection() }
        #expect(CountedConnection.open.withLock { $0 } == before + 1)
        await worker.close()
        #expect(CountedConnection.open.withLock { $0 } == before)
        let error = await #expect(throws: EventStoreError.self) { try await worker.run { _ in } }
        #expect(error?.code == .backend)
    }

    /// A pool of one worker, held by a task until `release` is released.
    static func heldPool() async throws -> (pool: WorkerPool<CountedConnection>, release: AsyncGate, holder: Task<Void, any Error>) {
        let pool = WorkerPool([Self.worker()])
        let release = AsyncGate()
        await release.acquire()
        let holding = Locked(false)
        let holder = Task {
            try await pool.withWorker { _ in
                holding.withLock { $0 = true }
                await release.acquire()
            }
        }
        // The holder says when it has the worker; a probe for it would take the worker itself when it ran
        // before the holder, and then wait for ever behind it.
        try await within(.seconds(30), "the holder has the worker") {
            while !holding.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
        }
        return (pool, release, holder)
    }

    static func waitForWaiters(_ count: Int, in pool: WorkerPool<CountedConnection>) async throws {
        try await within(.seconds(30), "\(count) callers waiting for a worker") {
            while pool.waitingCount < count { try await Task.sleep(for: .milliseconds(5)) }
        }
    }

    @Test func waitersTakeAFreedWorkerInTheOrderTheyCame() async throws {
        let (pool, release, holder) = try await Self.heldPool()
        let order = Locked<[Int]>([])
        var waiters: [Task<Void, any Error>] = []
        for number in 1...3 {
            waiters.append(Task { try await pool.withWorker { _ in order.withLock { $0.append(number) } } })
            try await Self.waitForWaiters(number, in: pool)
        }
        await release.release()
        try await holder.value
        for waiter in waiters { try await waiter.value }
        #expect(order.withLock { $0 } == [1, 2, 3])
    }

    @Test func cancellingAWaiterEndsItsWaitAndLeavesThePoolUsable() async throws {
        let (pool, release, holder) = try await Self.heldPool()
        let waiter = Task { try await pool.withWorker { _ in } }
        try await Self.waitForWaiters(1, in: pool)
        waiter.cancel()
        let result = await waiter.result
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(pool.waitingCount == 0)
        await release.release()
        try await holder.value
        #expect(try await pool.withWorker { try await $0.run { _ in 7 } } == 7)
    }

    /// A write waits for its worker even when its caller is cancelled, and runs: it must not be half-done.
    @Test func aWaiterThatWaitsThroughCancellationStillGetsItsWorkerAndRuns() async throws {
        let (pool, release, holder) = try await Self.heldPool()
        let ran = Locked(false)
        let waiter = Task {
            try await pool.withWorker(waitsThroughCancellation: true) { worker in
                try await worker.run { _ in ran.withLock { $0 = true } }
            }
        }
        try await Self.waitForWaiters(1, in: pool)
        waiter.cancel()
        #expect(pool.waitingCount == 1)
        await release.release()
        try await holder.value
        try await waiter.value
        #expect(ran.withLock { $0 })
        #expect(pool.waitingCount == 0)
    }

    @Test func shuttingDownFailsWaitersAndLaterCallers() async throws {
        let (pool, release, holder) = try await Self.heldPool()
        let waiter = Task { try await pool.withWorker { _ in } }
        try await Self.waitForWaiters(1, in: pool)
        await pool.shutDown()
        let result = await waiter.result
        #expect((try? result.get()) == nil)
        let later = await #expect(throws: EventStoreError.self) { try await pool.withWorker { _ in } }
        #expect(later?.code == .backend)
        await release.release()
        try await holder.value
    }
}
