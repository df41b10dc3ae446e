/// A first-come, first-served lock for async code, waiters suspended (never blocking a thread).
///
/// It has two modes: exclusive (one holder: a transaction that keeps a connection across several calls)
/// and shared (any number of holders: single writes that a serial queue already orders, so that the next
/// one is queued while the one before it commits, instead of waiting for its release). A waiting exclusive
/// holder stops new shared holders from passing it.
package actor AsyncGate {
    private var exclusive = false
    private var shared = 0
    private var waiters: [(exclusive: Bool, continuation: CheckedContinuation<Void, Never>)] = []

    package init() {}

    /// How many callers wait for the gate.
    package var waitingCount: Int { waiters.count }

    /// Waits until nobody holds the gate and takes it alone.
    package func acquire() async {
        if !exclusive, shared == 0, waiters.isEmpty {
            exclusive = true
            return
        }
        await withCheckedContinuation { waiters.append((exclusive: true, continuation: $0)) }
    }

    /// Gives up the gate taken with ``acquire()``.
    package func release() {
        exclusive = false
        admitWaiters()
    }

    /// Waits until no exclusive holder has or waits for the gate, and takes a share of it.
    package func acquireShared() async {
        if !exclusive, waiters.isEmpty {
            shared += 1
            return
        }
        await withCheckedContinuation { waiters.append((exclusive: false, continuation: $0)) }
    }

    /// Gives up a share taken with ``acquireShared()``.
    package func releaseShared() {
        shared -= 1
        admitWaiters()
    }

    /// Lets waiters in, in order: shared ones while no exclusive holder is ahead of them, an exclusive one
    /// when the gate is free.
    private func admitWaiters() {
        while let next = waiters.first, !exclusive {
            if next.exclusive {
                guard shared == 0 else { return }
                exclusive = true
            } else {
                shared += 1
            }
            waiters.removeFirst()
            next.continuation.resume()
        }
    }
}
