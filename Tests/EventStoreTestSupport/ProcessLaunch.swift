import Foundation
import Synchronization

/// Starts child processes one at a time. Foundation's `Process.run()` on Linux crashed once (a bad pointer
/// in a `memmove` inside it) while tests started processes on several threads at once; launches are
/// serialised here, the processes themselves still run side by side.
public enum ProcessLaunch {
    private static let lock = Mutex(())

    /// `process.run()`, never at the same time as another launch of this process's tests.
    public static func run(_ process: Process) throws {
        try lock.withLock { _ in try process.run() }
    }
}
