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
