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
    static func heldPool(waitLimit: Duration? = nil) async throws -> (
        pool: WorkerPool<CountedConnection>, release: AsyncGate, holder: Task<Void, any Error>
    ) {
        let pool = WorkerPool([Self.worker()], waitLimit: waitLimit)
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

    /// Issue 19: a call's wait for a connection has a deadline (MariaDB's `connect_timeout`), as on
    /// PostgreSQL; a pool whose connections are all held made it wait for ever. It gives up having done
    /// nothing, through cancellation too (a write's wait), and the pool stays usable.
    @Test func aWaiterGivesUpAtTheWaitLimitAndThePoolStaysUsable() async throws {
        let (pool, release, holder) = try await Self.heldPool(waitLimit: .milliseconds(300))
        for waitsThroughCancellation in [false, true] {
            let ran = Locked(false)
            let error = await #expect(throws: EventStoreError.self) {
                try await within(.seconds(20), "a wait past the limit") {
                    try await pool.withWorker(waitsThroughCancellation: waitsThroughCancellation) { _ in
                        ran.withLock { $0 = true }
                    }
                }
            }
            #expect(error?.code == .backend, "\(String(describing: error))")
            #expect(!ran.withLock { $0 })
            #expect(pool.waitingCount == 0)
        }
        await release.release()
        try await holder.value
        #expect(try await pool.withWorker { try await $0.run { _ in 7 } } == 7)
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

/// A stand-in for a connection whose call blocks until the server answers (when a test says so; else for 20 s) or
/// its socket is cut from another thread, as `mariadb_cancel` cuts libmariadb's.
final class CuttableConnection: @unchecked Sendable {
    struct Cut: Error {}
    struct NoAnswer: Error {}
    static let opened = Mutex(0)
    let number: Int
    private let answered = DispatchSemaphore(value: 0)
    private let cut = Locked(false)
    private let interrupter: BlockingInterrupter

    init(_ interrupter: BlockingInterrupter) {
        number = Self.opened.withLock { $0 += 1; return $0 }
        self.interrupter = interrupter
        let (answered, cut) = (answered, cut)
        interrupter.arm {
            cut.withLock { $0 = true }
            answered.signal()
        }
    }

    deinit { interrupter.disarm() }

    /// The server answers the call in flight.
    func answer() { answered.signal() }

    /// Waits for an answer (which comes only when a test sends it). - Throws: `Cut` once the socket is cut.
    func call() throws {
        if answered.wait(timeout: .now() + 20) == .timedOut { throw NoAnswer() }
        if cut.withLock({ $0 }) { throw Cut() }
    }
}

/// Issue 19: a cancelled caller of a blocking client ends the call in flight (`BlockingWorker.Cancellation`).
@Suite("Blocking workers: cancelled calls", .watchdog())
struct BlockingWorkerCancellationTests {
    static func worker(open delay: Duration = .zero) -> BlockingWorker<CuttableConnection> {
        BlockingWorker(label: "tests.worker.cuttable") { interrupter in
            if delay > .zero { usleep(UInt32(delay.components.attoseconds / 1_000_000_000_000 + delay.components.seconds * 1_000_000)) }
            return CuttableConnection(interrupter)
        }
    }

    /// Runs `job` in a task, cancels it once the job says it runs (by setting the flag it is given), and
    /// returns what it threw and how long that took.
    static func cancelled(_ job: @escaping @Sendable (Locked<Bool>) async throws -> Int) async -> (
        result: Result<Int, any Error>, took: Duration
    ) {
        let running = Locked(false)
        let task = Task { try await job(running) }
        let waited = ContinuousClock.now
        while !running.withLock({ $0 }), ContinuousClock.now - waited < .seconds(10) {
            try? await Task.sleep(for: .milliseconds(10))
        }
        try? await Task.sleep(for: .milliseconds(50))
        let cancelled = ContinuousClock.now
        task.cancel()
        let result: Result<Int, any Error>
        do { result = .success(try await task.value) } catch { result = .failure(error) }
        return (result, ContinuousClock.now - cancelled)
    }

    @Test func aCancelledReadIsAnsweredAtOnceAndItsCallIsCut() async throws {
        let worker = Self.worker()
        let first = try await worker.run { $0.number }
        let (result, took) = await Self.cancelled { running in
            try await worker.run(cancellation: .interruptsAtOnce) { connection in
                running.withLock { $0 = true }
                try connection.call()
                return 0
            }
        }
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(took < .seconds(10), "\(took)")  // not the call's 20 s: a busy machine is slow to resume
        // The call was cut (a call still waiting would hold the queue for 20 s), and its connection is not
        // used again.
        let next = try await within(.seconds(5), "the job after the cut one") { try await worker.run { $0.number } }
        #expect(next > first)
    }

    @Test func aCancelledWriteHasItsGraceThenItsCallIsCut() async throws {
        let worker = Self.worker()
        let (result, took) = await Self.cancelled { running in
            try await worker.run(cancellation: .interruptsAfter(.milliseconds(500))) { connection in
                running.withLock { $0 = true }
                try connection.call()
                return 0
            }
        }
        let error = #expect(throws: JobInterrupted.self) { try result.get() }
        #expect(error?.underlying is CuttableConnection.Cut)
        #expect(took >= .milliseconds(500), "\(took)")
        #expect(took < .seconds(10), "\(took)")
    }

    @Test func aCancelledWriteThatEndsWithinItsGraceReportsItsOutcome() async throws {
        let worker = Self.worker()
        // The call is answered about 300 ms after the cancellation, by a task of the cooperative pool: a grace
        // of 2 s once ran out first at the start of a CI run, when that pool was starved.
        let result = await Self.cancelledAndAnswered(worker, .interruptsAfter(.seconds(15)))
        #expect(try result.get() == 42)
    }

    @Test func anInterruptionWhileTheConnectionOpensReachesItOnceItIsArmed() async throws {
        // Cancelled while the connection opens (it takes 1 s): the interrupter is armed after the
        // interruption was asked.
        let opening = Locked(false)
        let worker = BlockingWorker<CuttableConnection>(label: "tests.worker.opening") { interrupter in
            opening.withLock { $0 = true }
            usleep(1_000_000)
            return CuttableConnection(interrupter)
        }
        let (result, took) = await Self.cancelled { running in
            let watcher = Task {
                while !opening.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
                running.withLock { $0 = true }
            }
            defer { watcher.cancel() }
            return try await worker.run(cancellation: .interruptsAfter(.zero)) { connection in
                try connection.call()
                return 0
            }
        }
        let error = #expect(throws: JobInterrupted.self) { try result.get() }
        #expect(error?.underlying is CuttableConnection.Cut)
        #expect(took < .seconds(10), "\(took)")
    }

    /// A job's deadline bounds its calls, not the opening of its connection (which has its own, libpq's
    /// `connect_timeout`): a connection that takes longer to open than the deadline was cut as it armed its
    /// interrupter, and then every job on it failed (review, 2026-12-06).
    @Test func aDeadlineCountsFromTheOpenConnectionNotFromTheQueue() async throws {
        let worker = Self.worker(open: .milliseconds(600))
        let value = try await worker.run(cancellation: .interruptsAtOnce, deadline: .milliseconds(200)) { connection in
            connection.answer()
            try connection.call()
            return 7
        }
        #expect(value == 7)
        // The deadline still cuts a call that runs past it.
        let error = await #expect(throws: JobInterrupted.self) {
            try await worker.run(cancellation: .interruptsAtOnce, deadline: .milliseconds(200)) { try $0.call() }
        }
        #expect(error?.pastDeadline == true)
    }

    @Test func aJobThatRunsToItsEndIsNotCut() async throws {
        let worker = Self.worker()
        let result = await Self.cancelledAndAnswered(worker, .runsToEnd)
        #expect(try result.get() == 42)
    }

    /// Runs a call that returns 42 once its connection answers, cancels its caller, and has the connection
    /// answer 300 ms later: 42 unless the call was cut meanwhile.
    static func cancelledAndAnswered(
        _ worker: BlockingWorker<CuttableConnection>, _ cancellation: BlockingWorker<CuttableConnection>.Cancellation
    ) async -> Result<Int, any Error> {
        let calling = Locked<CuttableConnection?>(nil)
        let answerer = Task {
            while calling.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(10)) }
            try await Task.sleep(for: .milliseconds(350))  // the caller is cancelled 50 ms after the call starts
            calling.withLock { $0 }?.answer()
        }
        defer { answerer.cancel() }
        return await cancelled { running in
            try await worker.run(cancellation: cancellation) { connection in
                calling.withLock { $0 = connection }
                running.withLock { $0 = true }
                try connection.call()
                return 42
            }
        }.result
    }
}
