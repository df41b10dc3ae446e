@testable import EventStore
import EventStoreTestSupport
import Testing

typealias Machine = ProjectionRunnerStateMachine

/// Position `n` of a single-counter store.
private func at(_ n: Int64) -> ProjectionPosition { .global(GlobalPosition(sequence: n)) }

/// A machine with small numbers: blocks of 3, pages of 10, a renewal every second (lock timeout 3 s), an idle
/// check every second, and the store polling every 500 ms.
private func machine(persistent: Bool = true, keepRunning: Bool = true, idleCheck: Duration = .seconds(1)) -> Machine {
    let options = ProjectionOptions(persistBlockSize: 3, lockTimeout: .seconds(3), idleCheckInterval: idleCheck)
    var configuration = Machine.Configuration(
        options: options, pollInterval: .milliseconds(500), persistent: persistent, keepRunning: keepRunning)
    configuration.readBatchSize = 10
    return Machine(configuration: configuration)
}

/// A persistent machine whose first pass has begun at `now` (after a start with no command).
private func running(keepRunning: Bool = true, at now: Duration = .zero) -> Machine {
    var machine = machine(keepRunning: keepRunning)
    #expect(machine.leaseAcquired(status: .running) == .initializeReadModel)
    #expect(machine.readModelInitialized(at: now) == .startPass)
    if keepRunning {
        #expect(machine.passStarted(at: now) == .readPage)
    } else {
        #expect(machine.passStarted(at: now) == .readHead)
        #expect(machine.headRead(at(100), at: now) == .readPage)
    }
    return machine
}

/// Handles `count` events of a page that reach no block, then reports the page.
private func page(_ machine: inout Machine, events count: Int, endingAt position: ProjectionPosition, at now: Duration)
    -> Machine.Action
{
    for _ in 0..<count { #expect(machine.eventHandled() == nil) }
    return machine.pageProcessed(count: count, position: position, at: now)
}

/// Makes a live pass at `now` that finds nothing: it ends waiting for events.
private func emptyPass(_ machine: inout Machine, at now: Duration) {
    #expect(machine.passStarted(at: now) == .readPage)
    #expect(page(&machine, events: 0, endingAt: .global(.start), at: now) == .waitForEvents(.milliseconds(500)))
}

/// A live machine that has caught up (an empty first page) and waits for events.
private func waiting() -> Machine {
    var machine = running()
    #expect(page(&machine, events: 0, endingAt: .global(.start), at: .zero) == .waitForEvents(.milliseconds(500)))
    return machine
}

/// Each command status, and what a runner does when it finds it.
private let commands: [(ProjectionStatus, Machine.Action)] = [
    (.stopping, .stop), (.resetting, .reset), (.deleting, .delete(withEmittedEvents: false)),
    (.deletingInclEmittedEvents, .delete(withEmittedEvents: true)),
]

@Suite("Projection runner state machine", .watchdog())
struct ProjectionRunnerStateMachineTests {
    // MARK: Configuration

    @Test func theConfigurationTakesItsNumbersFromTheOptionsAndTheStore() {
        let options = ProjectionOptions(persistBlockSize: 7, lockTimeout: .seconds(6), idleCheckInterval: .seconds(2))
        let live = Machine.Configuration(options: options, pollInterval: .seconds(1), persistent: true, keepRunning: true)
        #expect(live.persistBlockSize == 7)
        #expect(live.readBatchSize == 1000)
        #expect(live.renewalInterval == .seconds(2))
        #expect(live.idleCheckInterval == .seconds(2))
        #expect(live.idleWait == .seconds(1))
        #expect(live.settleTimeout == .seconds(10))
        let query = Machine.Configuration(options: options, pollInterval: .seconds(5), persistent: false, keepRunning: true)
        #expect(query.keepRunning == false)
        #expect(query.idleWait == .seconds(2))
    }

    // MARK: Queries

    @Test func aQueryMakesOneSettlingPassAndSavesNothing() {
        var query = machine(persistent: false)
        #expect(query.started() == .startPass)
        #expect(query.passStarted(at: .zero) == .readHead)
        #expect(query.headRead(at(5), at: .zero) == .readPage)
        for _ in 0..<5 { #expect(query.eventHandled() == nil) }
        #expect(query.pageProcessed(count: 5, position: at(5), at: .seconds(30)) == .finish)
        #expect(query.state == .finished)
    }

    @Test func aQueryStopsAfterTheEventInHandWhenAStopIsRequested() {
        var query = machine(persistent: false)
        _ = query.started()
        _ = query.passStarted(at: .zero)
        _ = query.headRead(at(5), at: .zero)
        #expect(query.eventHandled() == nil)
        query.stopRequested()
        #expect(query.eventHandled() == .finish)
    }

    @Test func aFailedQueryEndsWithTheErrorEvenWhenCancelled() {
        var query = machine(persistent: false)
        _ = query.started()
        _ = query.passStarted(at: .zero)
        query.cancelled()
        #expect(query.failed() == nil)
        #expect(query.state == .finished)
    }

    // MARK: Settling

    @Test func aSettlingPassWaitsForEventsHeldBackBelowItsHead() {
        var query = machine(persistent: false)
        _ = query.started()
        _ = query.passStarted(at: .zero)
        #expect(query.headRead(at(5), at: .zero) == .readPage)
        #expect(page(&query, events: 2, endingAt: at(2), at: .zero) == .readReadableHead)
        #expect(query.readableHeadRead(at(3)) == .settleWait(.milliseconds(5)))
        #expect(query.settleWaitEnded() == .readPage)
        #expect(page(&query, events: 0, endingAt: at(2), at: .seconds(1)) == .readReadableHead)
        // Past the head: the next read is the pass's last, whatever it finds.
        #expect(query.readableHeadRead(at(6)) == .readPage)
        #expect(page(&query, events: 2, endingAt: at(4), at: .seconds(1)) == .finish)
    }

    @Test func aSettlingPassGivesUpAtTheSettleDeadline() {
        var query = machine(persistent: false)
        _ = query.started()
        _ = query.passStarted(at: .zero)
        _ = query.headRead(at(5), at: .seconds(1))
        #expect(page(&query, events: 0, endingAt: .global(.start), at: .milliseconds(10_999)) == .readReadableHead)
        #expect(query.readableHeadRead(at(1)) == .settleWait(.milliseconds(5)))
        #expect(query.settleWaitEnded() == .readPage)
        #expect(page(&query, events: 0, endingAt: .global(.start), at: .seconds(11)) == .finish)
    }

    @Test func aSettlingPassStopsWaitingForHeldBackEventsWhenCancelled() {
        var machine = running(keepRunning: false)
        machine.cancelled()
        #expect(page(&machine, events: 2, endingAt: at(2), at: .zero) == .save)
        #expect(machine.saved(status: .running, at: .zero) == .stop)
    }

    @Test func aLiveRunDoesNotSettle() {
        var machine = running()
        #expect(page(&machine, events: 2, endingAt: at(2), at: .zero) == .save)
        #expect(machine.saved(status: .running, at: .zero) == .waitForEvents(.milliseconds(500)))
    }

    // MARK: Saves

    @Test func aFullBlockIsSavedAndThePageGoesOn() {
        var machine = running()
        #expect(machine.eventHandled() == nil)
        #expect(machine.eventHandled() == nil)
        #expect(machine.eventHandled() == .save)
        #expect(machine.saved(status: .running, at: .zero) == .handleEvents)
        #expect(machine.eventHandled() == nil)
        // The one event after the block is saved at the end of the pass.
        #expect(machine.pageProcessed(count: 4, position: at(4), at: .zero) == .save)
        #expect(machine.saved(status: .running, at: .zero) == .waitForEvents(.milliseconds(500)))
    }

    @Test func aPassEndingRightAfterABlockSaveSavesNoMore() {
        var machine = running()
        for _ in 0..<2 { #expect(machine.eventHandled() == nil) }
        #expect(machine.eventHandled() == .save)
        #expect(machine.saved(status: .running, at: .zero) == .handleEvents)
        #expect(machine.pageProcessed(count: 3, position: at(3), at: .zero) == .waitForEvents(.milliseconds(500)))
    }

    @Test func aFullPageIsFollowedByTheNextRead() {
        var machine = running()
        for index in 1...10 {
            let action = machine.eventHandled()
            #expect(action == (index.isMultiple(of: 3) ? .save : nil))
            if action == .save { #expect(machine.saved(status: .running, at: .zero) == .handleEvents) }
        }
        #expect(machine.pageProcessed(count: 10, position: at(10), at: .zero) == .readPage)
    }

    @Test func aSlowPassSavesToRenewItsLeaseAndReadsOn() {
        var machine = running()
        // A full page that took as long as the renewal interval.
        var saves = 0
        for _ in 0..<10 {
            if machine.eventHandled() == .save {
                saves += 1
                #expect(machine.saved(status: .running, at: .milliseconds(100)) == .handleEvents)
            }
        }
        #expect(saves == 3)
        #expect(machine.pageProcessed(count: 10, position: at(10), at: .milliseconds(1100)) == .save)
        #expect(machine.saved(status: .running, at: .milliseconds(1100)) == .readPage)
        // Half a second later no renewal is due, and the pass is caught up with nothing unsaved.
        #expect(
            machine.pageProcessed(count: 0, position: at(10), at: .milliseconds(1600)) == .waitForEvents(.milliseconds(500)))
    }

    @Test func theRenewalIntervalCountsFromThePassStartNotTheRunStart() {
        var machine = waiting()
        #expect(machine.waitEnded(at: .milliseconds(500)) == .startPass)
        #expect(machine.passStarted(at: .seconds(5)) == .readPage)
        #expect(
            machine.pageProcessed(count: 0, position: .global(.start), at: .milliseconds(5999)) == .waitForEvents(.milliseconds(500)))
    }

    @Test func aRenewalSaveThatFindsNothingWaitingEndsAPassThatIsCaughtUp() {
        var machine = running()
        #expect(machine.pageProcessed(count: 0, position: .global(.start), at: .seconds(2)) == .save)
        #expect(machine.saved(status: .running, at: .seconds(2)) == .waitForEvents(.milliseconds(500)))
    }

    // MARK: Idle

    @Test func anIdleRunRenewsItsLeaseWhenTheIdleCheckIsDue() {
        var machine = waiting()
        // Woken before the idle check is due: another pass, no renewal.
        #expect(machine.waitEnded(at: .milliseconds(500)) == .startPass)
        emptyPass(&machine, at: .milliseconds(500))
        #expect(machine.waitEnded(at: .seconds(1)) == .renewLease)
        #expect(machine.leaseRenewed(status: .running, at: .seconds(1)) == .startPass)
        #expect(machine.leaseCheckedAt == .seconds(1))
        // The next check counts from the renewal.
        emptyPass(&machine, at: .seconds(1))
        #expect(machine.waitEnded(at: .milliseconds(1999)) == .startPass)
        emptyPass(&machine, at: .seconds(2))
        #expect(machine.waitEnded(at: .seconds(2)) == .renewLease)
    }

    @Test func theIdleCheckCountsFromTheStartOfTheRun() {
        var machine = machine()
        _ = machine.leaseAcquired(status: .running)
        #expect(machine.readModelInitialized(at: .seconds(7)) == .startPass)
        emptyPass(&machine, at: .seconds(7))
        #expect(machine.waitEnded(at: .milliseconds(7999)) == .startPass)
        emptyPass(&machine, at: .seconds(8))
        #expect(machine.waitEnded(at: .seconds(8)) == .renewLease)
    }

    @Test(arguments: commands)
    func aCommandFoundAtAnIdleCheckIsObeyed(_ status: ProjectionStatus, _ action: Machine.Action) {
        var machine = waiting()
        #expect(machine.waitEnded(at: .seconds(1)) == .renewLease)
        #expect(machine.leaseRenewed(status: status, at: .seconds(1)) == action)
    }

    @Test func aStopRequestedWhileWaitingEndsTheRun() {
        var machine = waiting()
        machine.stopRequested()
        #expect(machine.waitEnded(at: .milliseconds(10)) == .stop)
        #expect(machine.state == .finished)
    }

    @Test func aStopRequestedWhileWaitingStillRenewsWhenTheCheckIsDueAndOverridesItsCommand() {
        var machine = waiting()
        machine.stopRequested()
        #expect(machine.waitEnded(at: .seconds(1)) == .renewLease)
        #expect(machine.leaseRenewed(status: .resetting, at: .seconds(1)) == .stop)
    }

    // MARK: Commands

    @Test(arguments: commands)
    func aCommandFoundAtABlockSaveIsObeyed(_ status: ProjectionStatus, _ action: Machine.Action) {
        var machine = running()
        for _ in 0..<2 { #expect(machine.eventHandled() == nil) }
        #expect(machine.eventHandled() == .save)
        #expect(machine.saved(status: status, at: .zero) == action)
    }

    @Test(arguments: commands)
    func aCommandFoundAtTheLastSaveOfAPassIsObeyed(_ status: ProjectionStatus, _ action: Machine.Action) {
        var machine = running()
        #expect(page(&machine, events: 1, endingAt: at(1), at: .zero) == .save)
        #expect(machine.saved(status: status, at: .zero) == action)
    }

    @Test(arguments: commands)
    func aCommandFoundAtARenewalSaveEndsThePass(_ status: ProjectionStatus, _ action: Machine.Action) {
        var machine = running()
        #expect(machine.pageProcessed(count: 10, position: at(10), at: .seconds(1)) == .save)
        #expect(machine.saved(status: status, at: .seconds(1)) == action)
    }

    @Test(arguments: commands)
    func aCommandWaitingAtTheStartIsObeyedFirst(_ status: ProjectionStatus, _ action: Machine.Action) {
        var machine = machine()
        #expect(machine.leaseAcquired(status: status) == action)
    }

    @Test(arguments: [true, false])
    func aResetWaitingAtTheStartGoesOnWithTheRunEvenWithoutKeepRunning(_ keepRunning: Bool) {
        var machine = machine(keepRunning: keepRunning)
        #expect(machine.leaseAcquired(status: .resetting) == .reset)
        #expect(machine.resetDone() == .initializeReadModel)
        #expect(machine.readModelInitialized(at: .zero) == .startPass)
    }

    @Test func anIdleOrRunningRowAtTheStartIsNoCommand() {
        var idle = machine()
        #expect(idle.leaseAcquired(status: .idle) == .initializeReadModel)
        var running = machine()
        #expect(running.leaseAcquired(status: .running) == .initializeReadModel)
    }

    @Test func aLiveRunGoesOnFromTheStartAfterAReset() {
        var machine = running()
        #expect(page(&machine, events: 1, endingAt: at(1), at: .zero) == .save)
        #expect(machine.saved(status: .resetting, at: .seconds(2)) == .reset)
        #expect(machine.resetDone() == .startPass)
        // The idle check counts from the save that found the reset.
        #expect(machine.leaseCheckedAt == .seconds(2))
        #expect(machine.passStarted(at: .seconds(2)) == .readPage)
    }

    @Test func aStopRequestOverridesACommandFoundAtTheEndOfAPass() {
        var machine = running()
        #expect(page(&machine, events: 1, endingAt: at(1), at: .zero) == .save)
        machine.stopRequested()
        #expect(machine.saved(status: .resetting, at: .zero) == .stop)
    }

    // MARK: Stop requests and cancellation

    @Test func aStopRequestedDuringAPassIsObeyedAfterTheEventInHand() {
        var machine = running()
        #expect(machine.eventHandled() == nil)
        machine.stopRequested()
        // No save of its own: the stop saves the progress as it releases the lease.
        #expect(machine.eventHandled() == .stop)
        #expect(machine.state == .finished)
    }

    @Test func aStopRequestedDuringABlockSaveIsObeyedAfterIt() {
        var machine = running()
        for _ in 0..<2 { #expect(machine.eventHandled() == nil) }
        #expect(machine.eventHandled() == .save)
        machine.stopRequested()
        #expect(machine.saved(status: .running, at: .zero) == .stop)
    }

    @Test func aStopRequestedAtTheEndOfAPassIsObeyedWithoutWaiting() {
        var machine = running()
        machine.stopRequested()
        #expect(machine.pageProcessed(count: 0, position: .global(.start), at: .zero) == .stop)
    }

    @Test func aFailureWhileCancelledDuringAPassIsAStop() {
        var machine = running()
        #expect(machine.eventHandled() == nil)
        machine.cancelled()
        #expect(machine.failed() == .stop)
    }

    @Test func aCancelledPassThatEndsNormallyIsAStop() {
        var machine = running()
        machine.cancelled()
        #expect(page(&machine, events: 1, endingAt: at(1), at: .zero) == .save)
        // The wait that follows returns at once in a cancelled task; then the run stops.
        #expect(machine.saved(status: .running, at: .zero) == .waitForEvents(.milliseconds(500)))
        #expect(machine.waitEnded(at: .zero) == .stop)
    }

    @Test func aCancelledWaitIsAStop() {
        var machine = waiting()
        machine.cancelled()
        #expect(machine.waitEnded(at: .zero) == .stop)
    }

    // MARK: Failures

    @Test func aFailureDuringAPassEndsTheRun() {
        var machine = running()
        #expect(machine.eventHandled() == nil)
        #expect(machine.failed() == nil)
        #expect(machine.state == .finished)
    }

    @Test func aFailureOutsideAPassEndsTheRunEvenWhenCancelled() {
        var machine = waiting()
        #expect(machine.waitEnded(at: .seconds(1)) == .renewLease)
        machine.cancelled()
        #expect(machine.failed() == nil)
    }

    @Test func aFailureAtTheStartEndsTheRun() {
        var machine = machine()
        #expect(machine.leaseAcquired(status: .resetting) == .reset)
        machine.cancelled()
        #expect(machine.failed() == nil)
    }

    // MARK: Without keepRunning

    @Test func withoutKeepRunningARunMakesOneSettlingPassRenewsOnceMoreAndReleasesAsIdle() {
        var machine = machine(keepRunning: false)
        #expect(machine.leaseAcquired(status: .running) == .initializeReadModel)
        #expect(machine.readModelInitialized(at: .zero) == .startPass)
        #expect(machine.passStarted(at: .zero) == .readHead)
        #expect(machine.headRead(at(2), at: .zero) == .readPage)
        #expect(page(&machine, events: 2, endingAt: at(2), at: .zero) == .save)
        #expect(machine.saved(status: .running, at: .zero) == .renewLease)
        #expect(machine.leaseRenewed(status: .running, at: .zero) == .release(.idle, saving: true))
        #expect(machine.state == .finished)
    }

    @Test func withoutKeepRunningAndNothingUnsavedTheLastRenewalFollowsThePass() {
        var machine = running(keepRunning: false)
        #expect(machine.pageProcessed(count: 0, position: at(100), at: .zero) == .renewLease)
    }

    @Test(arguments: [
        (ProjectionStatus.stopping, Machine.Action.stop), (.deleting, .delete(withEmittedEvents: false)),
        (.deletingInclEmittedEvents, .delete(withEmittedEvents: true)),
    ])
    func withoutKeepRunningACommandWrittenAfterTheLastSaveIsObeyed(_ status: ProjectionStatus, _ action: Machine.Action) {
        var machine = running(keepRunning: false)
        #expect(machine.pageProcessed(count: 0, position: at(100), at: .zero) == .renewLease)
        #expect(machine.leaseRenewed(status: status, at: .zero) == action)
    }

    @Test func withoutKeepRunningAResetAfterTheLastSaveReleasesTheLeaseWithoutSaving() {
        var machine = running(keepRunning: false)
        #expect(machine.pageProcessed(count: 0, position: at(100), at: .zero) == .renewLease)
        #expect(machine.leaseRenewed(status: .resetting, at: .zero) == .reset)
        #expect(machine.resetDone() == .release(.idle, saving: false))
    }

    @Test func withoutKeepRunningAResetFoundAtASaveReleasesTheLeaseWithoutSaving() {
        var machine = running(keepRunning: false)
        for _ in 0..<2 { #expect(machine.eventHandled() == nil) }
        #expect(machine.eventHandled() == .save)
        #expect(machine.saved(status: .resetting, at: .zero) == .reset)
        #expect(machine.resetDone() == .release(.idle, saving: false))
    }

    @Test func withoutKeepRunningAStopRequestedDuringThePassStopsWithoutTheLastRenewal() {
        var machine = running(keepRunning: false)
        machine.stopRequested()
        #expect(machine.pageProcessed(count: 0, position: at(100), at: .zero) == .stop)
    }
}
