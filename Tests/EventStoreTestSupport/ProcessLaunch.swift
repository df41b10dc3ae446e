import Foundation
import Synchronization

/// Starts child processes one at a time. Foundation's `Process.run()` on Linux crashed once (a bad pointer
/// in a `memmove` inside it) while tests started processes on several threads at once; launches are
/// serialised here, the processes themselves still run side by side.
///
/// It crashed twice more in CI (2026-12-07), launches serialised, in Swift 6.3.1's Foundation: `run()` finds
/// the highest open descriptor by listing `/proc/self/fd`, and copies each entry's whole 256-byte `d_name`
/// (`findMaximumOpenFromProcSelfFD`, fixed upstream since), which reads past the end of `readdir`'s buffer
/// once the listing nearly fills it: the process had about 1,360 descriptors open. Suites that open many
/// connections at once bound how many cases run together (`ClientConformanceTests`, `SQLiteConformanceTests`,
/// and PostgreSQL's stores), keeping the test process near 1,000 at its busiest.
public enum ProcessLaunch {
    private static let lock = Mutex(())

    /// `process.run()`, never at the same time as another launch of this process's tests.
    public static func run(_ process: Process) throws {
        try lock.withLock { _ in try process.run() }
    }

    /// The processes whose parent is `parent` (from `/proc`).
    public static func children(of parent: pid_t) -> [pid_t] {
        var children: [pid_t] = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let end = stat.lastIndex(of: ")")
            else { continue }
            // "pid (name) state ppid …": the name may hold spaces and parentheses, so split after the last ")".
            let fields = stat[stat.index(after: end)...].split(separator: " ")
            if fields.count > 1, pid_t(fields[1]) == parent { children.append(pid) }
        }
        return children
    }
}

/// SIGSTOP for tests of frozen servers. `kill` returns once the signal is queued, and one thread of the
/// process then stops the others: until it has run, another thread (woken by a request's bytes) may still
/// answer. On a busy machine a MariaDB read sent just after `kill` was answered so. ``freeze(_:)`` returns
/// only once every thread of every process is stopped.
public enum ProcessFreezer {
    /// Stops `pids` with SIGSTOP and waits until each of their threads is stopped (or gone).
    public static func freeze(_ pids: [pid_t], within limit: Duration = .seconds(30)) async throws {
        for pid in pids { kill(pid, SIGSTOP) }
        let deadline = ContinuousClock.now + limit
        // Not `lazy.compactMap(…).first`: it calls the closure twice for the element it returns, and a thread
        // that stops between the two calls made the second return nil (a crash in Swift's unwrapping).
        while let running = firstRunningThread(of: pids) {
            guard ContinuousClock.now < deadline else {
                throw FreezeTimeout(description: "thread \(running) still runs \(limit) after SIGSTOP")
            }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Lets frozen processes run on, in the order given.
    public static func thaw(_ pids: [pid_t]) { for pid in pids { kill(pid, SIGCONT) } }

    static func firstRunningThread(of pids: [pid_t]) -> String? {
        for pid in pids {
            if let running = runningThread(of: pid) { return running }
        }
        return nil
    }

    /// A thread of `pid` that is not stopped ("T") nor gone (or a dead process, "Z"/"X"), if any.
    static func runningThread(of pid: pid_t) -> String? {
        let threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return threads.first { thread in
            guard let stat = ProcFile.read("/proc/\(pid)/task/\(thread)/stat"), let end = stat.lastIndex(of: ")") else {
                return false
            }
            // "tid (name) state …": the name may hold spaces and parentheses, so the state follows the last ")".
            let state = stat[stat.index(after: end)...].split(separator: " ").first
            return !["T", "t", "Z", "X"].contains(state)
        }.map { "\(pid)/\($0)" }
    }

    struct FreezeTimeout: Error, CustomStringConvertible { let description: String }
}
