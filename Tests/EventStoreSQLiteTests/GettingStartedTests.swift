import EventStoreTestSupport
import Foundation
import Testing

/// The shell transcripts of the getting-started article and of the README, run as written: each `$ ` line
/// (with its `\` continuations) is a command, the lines under it are what it prints (standard output and standard error,
/// as a terminal shows them), `…` standing for any text. `swift run eventstore` is the built executable, port
/// 8080 a free one, and the folder a new, empty one.
@Suite("Getting started", .watchdog())
struct GettingStartedTests {
    /// The files whose transcripts run, each in a folder of its own, and how many transcripts each has at
    /// least.
    static let documents: [(path: String, transcripts: Int)] = [
        ("Sources/EventStore/EventStore.docc/GettingStarted.md", 2),
        ("README.md", 2),
    ]

    struct Step {
        var command: String
        var expected: [String]
    }

    /// A document's transcripts: its `sh` blocks that hold `$ ` commands, each a list of steps.
    static func transcripts(of text: String) -> [[Step]] {
        var blocks: [[Step]] = []
        var lines: [String]?
        for line in text.components(separatedBy: "\n") {
            if lines == nil, line == "```sh" {
                lines = []
            } else if let block = lines, line == "```" {
                if block.contains(where: { $0.hasPrefix("$ ") }) { blocks.append(steps(of: block)) }
                lines = nil
            } else if lines != nil {
                lines?.append(line)
            }
        }
        return blocks
    }

    static func steps(of lines: [String]) -> [Step] {
        var steps: [Step] = []
        var continued = false
        for line in lines {
            if continued, var last = steps.popLast() {
                last.command += "\n" + line
                steps.append(last)
                continued = line.hasSuffix("\\")
            } else if line.hasPrefix("$ ") {
                steps.append(Step(command: String(line.dropFirst(2)), expected: []))
                continued = line.hasSuffix("\\")
            } else if var last = steps.popLast() {
                last.expected.append(line)
                steps.append(last)
            }
        }
        return steps
    }

    /// Whether `line` is what `pattern` says, `…` matching any text.
    static func matches(_ line: String, _ pattern: String) -> Bool {
        let parts = pattern.components(separatedBy: "…")
        guard parts.count > 1 else { return line == pattern }
        guard line.hasPrefix(parts[0]), line.hasSuffix(parts[parts.count - 1]),
            line.count >= parts[0].count + parts[parts.count - 1].count
        else { return false }
        var rest = line.dropFirst(parts[0].count).dropLast(parts[parts.count - 1].count)
        for part in parts.dropFirst().dropLast() {
            guard let found = rest.range(of: part) else { return false }
            rest = rest[found.upperBound...]
        }
        return true
    }

    /// Runs `script` with bash in `folder` (without `EVENTSTORE_DATABASE`, so that commands use the folder's
    /// `eventstore.sqlite`) and returns what it printed.
    static func run(_ script: String, in folder: URL) async throws -> String {
        let file = folder.appendingPathComponent("transcript.sh")
        let output = folder.appendingPathComponent("transcript.out")
        try script.write(to: file, atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [file.path]
        process.currentDirectoryURL = folder
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "EVENTSTORE_DATABASE")
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: output)
        try ProcessLaunch.run(process)
        // Polled, not waited for: a blocked thread of the cooperative pool would slow every other test.
        let deadline = ContinuousClock.now + .seconds(120)
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning {
            process.terminate()
            Issue.record("the transcript ran past 120 s")
        }
        try FileManager.default.removeItem(at: file)
        defer { try? FileManager.default.removeItem(at: output) }
        return try String(contentsOf: output, encoding: .utf8)
    }

    @Test func theTranscriptsReadAsTheTestExpects() {
        let steps = Self.steps(of: ["$ echo a \\", "    b", "a b", "$ true"])
        #expect(steps.map(\.command) == ["echo a \\\n    b", "true"])
        #expect(steps.map(\.expected) == [["a b"], []])
        #expect(Self.matches("{\"a\":1,\"b\":2}", "{…\"b\":2}"))
        #expect(Self.matches("x", "…"))
        #expect(!Self.matches("{\"a\":1}", "{…\"b\":2}"))
        #expect(!Self.matches("ab", "a…b…c"))
    }

    @Test(arguments: documents.map(\.path))
    func theCommandsPrintWhatTheDocumentShows(_ path: String) async throws {
        let text = try String(contentsOf: DocumentedCode.root.appendingPathComponent(path), encoding: .utf8)
        let blocks = Self.transcripts(of: text)
        let least = try #require(Self.documents.first { $0.path == path }).transcripts
        #expect(blocks.count >= least, "the command-line and the HTTP transcripts")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("getting-started-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        do {
            let port = try LocalPort.free()
            let executable = EventStoreProcess.executable.path
            for (index, block) in blocks.enumerated() {
                Watchdog.step("transcript \(index + 1) of \(path)")
                // One script per block (a server started with & lives until the block's `kill %1`); a marker
                // before each command splits what the block printed.
                // The EXIT trap stops a server the block started, also when the test terminates the script.
                var script = "exec 2>&1\ntrap 'kill $(jobs -p) 2>/dev/null' EXIT\ntrap 'exit 143' TERM\n"
                for (number, step) in block.enumerated() {
                    let command = step.command.replacingOccurrences(of: "swift run eventstore", with: "'\(executable)'")
                        .replacingOccurrences(of: "8080", with: "\(port)")
                    // A line of its own even after output without a final newline (curl's bodies).
                    script += "printf '\\n@@step \(number)\\n'\n\(command)\n"
                }
                let output = try await Self.run(script, in: folder)
                var printed = [[String]](repeating: [], count: block.count)
                var current: Int?
                for line in output.components(separatedBy: "\n") {
                    if line.hasPrefix("@@step "), let number = Int(line.dropFirst(7)) {
                        current = number
                    } else if let current, !(line.isEmpty) {
                        printed[current].append(line)
                    }
                }
                for (number, step) in block.enumerated() {
                    let expected = step.expected.filter { !$0.isEmpty }
                    let same = printed[number].count == expected.count
                        && zip(printed[number], expected).allSatisfy { Self.matches($0, $1) }
                    #expect(same, "$ \(step.command)\nprinted:\n\(printed[number].joined(separator: "\n"))\n\(path) shows:\n\(expected.joined(separator: "\n"))")
                }
            }
        }
    }
}
