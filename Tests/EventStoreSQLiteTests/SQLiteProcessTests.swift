import EventStore
import EventStoreSQLite
import EventStoreTestSupport
import Foundation
import Testing

/// Several `eventstore` processes on one file, and a writer killed mid-append.
@Suite("SQLite across processes", .serialized, .watchdog())
struct SQLiteProcessTests {
    @Test func appendAndReadRoundTripAcrossProcesses() async throws {
        try await withTemporaryDatabase { path in
            let database = "--database=sqlite:\(path)"
            let input = """
                [{"message_name":"UserRegistered","uuid":"0b4a4e4e-6a0b-4f67-9a53-2d4b0c1f2e3d",\
                "payload":{"name":"Alice","balance":1.0,"id":12345678901234567890},"metadata":{"_aggregate_version":1,"tenant":"acme"},\
                "created_at":"2026-11-27T10:00:00.123456"}]
                """
            let appended = try await EventStoreProcess.run(["append", "user-1", database], input: input)
            #expect(appended.status == 0, "\(appended.stderr)")
            #expect(appended.stdout == "1\n")
            let read = try await EventStoreProcess.run(["read", "user-1", database])
            #expect(read.status == 0, "\(read.stderr)")
            #expect(
                read.stdout == """
                    {"message_name":"UserRegistered","uuid":"0b4a4e4e-6a0b-4f67-9a53-2d4b0c1f2e3d",\
                    "payload":{"name":"Alice","balance":1.0,"id":12345678901234567890},\
                    "metadata":{"_aggregate_version":1,"_position":1,"tenant":"acme"},\
                    "created_at":"2026-11-27T10:00:00.123456","position":1}

                    """)
            let filtered = try await EventStoreProcess.run(["read", "user-1", "--where", "tenant = \"other\"", database])
            #expect(filtered.status == 0)
            #expect(filtered.stdout.isEmpty)
            let streams = try await EventStoreProcess.run(["streams", database])
            #expect(streams.stdout == "user-1\n")
        }
    }

    /// `eventstore groups …` and `eventstore consume` (issue 23): a group made, listed and inspected; two
    /// consumers in two processes print what they take and acknowledge it, each event once; parked events
    /// listed; the group deleted.
    @Test func consumerGroupsFromTheCommandLine() async throws {
        try await withTemporaryDatabase { path in
            let database = "--database=sqlite:\(path)"
            let input = "[" + (1...6).map { "{\"message_name\":\"Job\",\"payload\":{\"n\":\($0)}}" }.joined(separator: ",") + "]"
            #expect(try await EventStoreProcess.run(["append", "job-1", database], input: input).status == 0)
            let created = try await EventStoreProcess.run(
                ["groups", "create", "mailer", "--category", "job", "--max-retries", "3", "--message-timeout", "5", database])
            #expect(created.status == 0, "\(created.stderr)")
            #expect(created.stdout.contains(#""max_retries":3"#) && created.stdout.contains(#""message_timeout_ms":5000"#), "\(created.stdout)")
            let again = try await EventStoreProcess.run(["groups", "create", "mailer", "--category", "job", database])
            #expect(again.status == 4, "a group that exists is a conflict: \(again.stderr)")
            #expect(try await EventStoreProcess.run(["groups", "list", database]).stdout == "mailer\n")

            async let first = EventStoreProcess.run(["consume", "mailer", "--consumer", "a", "--count", "3", "--batch-size", "1", database])
            async let second = EventStoreProcess.run(["consume", "mailer", "--consumer", "b", "--count", "3", "--batch-size", "1", database])
            let outputs = try await [first, second]
            #expect(outputs.allSatisfy { $0.status == 0 }, "\(outputs.map(\.stderr))")
            let lines = outputs.flatMap { $0.stdout.split(separator: "\n") }
            let positions = try lines.map { line in
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                #expect(object["delivery"] is String && object["attempt"] as? Int == 1)
                return try #require(object["position"] as? Int)
            }
            #expect(positions.sorted() == [1, 2, 3, 4, 5, 6], "each event printed once: \(lines)")
            let info = try await EventStoreProcess.run(["groups", "info", "mailer", database])
            #expect(info.stdout.contains(#""acknowledged":6"#) && info.stdout.contains(#""consumers":[]"#), "\(info.stdout)")
            #expect(try await EventStoreProcess.run(["groups", "parked", "mailer", database]).stdout.isEmpty)
            #expect(try await EventStoreProcess.run(["groups", "replay-parked", "mailer", database]).stdout == "0\n")
            #expect(try await EventStoreProcess.run(["groups", "delete", "mailer", database]).status == 0)
            #expect(try await EventStoreProcess.run(["groups", "info", "mailer", database]).status == 3, "not found")
        }
    }

    /// Issue 23: `eventstore scavenge` removes what a stream's retention hides, prints what it removed, and
    /// `verify` counts the removed events as such (not as a gap); a bad retention value is refused.
    @Test func scavengeFromTheCommandLine() async throws {
        try await withTemporaryDatabase { path in
            let database = "--database=sqlite:\(path)"
            let created = try await EventStoreProcess.run(["create", "capped-1", "--metadata", #"{"$maxCount":2}"#, database])
            #expect(created.status == 0, "\(created.stderr)")
            let input = "[" + (1...5).map { "{\"message_name\":\"Tick\",\"payload\":{\"n\":\($0)}}" }.joined(separator: ",") + "]"
            #expect(try await EventStoreProcess.run(["append", "capped-1", database], input: input).status == 0)
            let read = try await EventStoreProcess.run(["read", "capped-1", database])
            #expect(read.stdout.split(separator: "\n").count == 2, "\(read.stdout)")
            let scavenged = try await EventStoreProcess.run(["scavenge", database])
            #expect(scavenged.status == 0 && scavenged.stdout == #"{"streams":1,"events":3}"# + "\n", "\(scavenged.stdout) \(scavenged.stderr)")
            let verified = try await EventStoreProcess.run(["verify", database])
            #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
            #expect(try await EventStoreProcess.run(["scavenge", database]).stdout == #"{"streams":0,"events":0}"# + "\n")
            let bad = try await EventStoreProcess.run(["metadata", "capped-1", "--set", #"{"$maxCount":"two"}"#, database])
            #expect(bad.status != 0 && bad.stderr.contains("$maxCount"), "\(bad.stderr)")
        }
    }

    @Test func deleteModesFromTheCommandLine() async throws {
        try await withTemporaryDatabase { path in
            let database = "--database=sqlite:\(path)"
            let input = "[" + (1...2).map { "{\"message_name\":\"Tick\",\"payload\":{\"n\":\($0)}}" }.joined(separator: ",") + "]"
            for name in ["soft-1", "hard-1"] {
                #expect(try await EventStoreProcess.run(["create", name, database]).status == 0)
                #expect(try await EventStoreProcess.run(["append", name, database], input: input).status == 0)
            }
            let wrong = try await EventStoreProcess.run(["delete", "soft-1", "--mode", "later", database])
            #expect(wrong.status != 0 && wrong.stderr.contains("later"), "\(wrong.stderr)")
            #expect(try await EventStoreProcess.run(["delete", "soft-1", "--mode", "soft", database]).status == 0)
            #expect(try await EventStoreProcess.run(["delete", "hard-1", "--mode", "hard", database]).status == 0)
            #expect(try await EventStoreProcess.run(["read", "soft-1", database]).status == 3)
            let gone = try await EventStoreProcess.run(["read", "hard-1", database])
            #expect(gone.status == 3 && gone.stderr.contains("stream deleted"), "\(gone.stderr)")
            let verified = try await EventStoreProcess.run(["verify", database])
            #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
            let scavenged = try await EventStoreProcess.run(["scavenge", database])
            #expect(scavenged.stdout == #"{"streams":1,"events":2}"# + "\n", "\(scavenged.stdout) \(scavenged.stderr)")
            let again = try await EventStoreProcess.run(["verify", database])
            #expect(again.status == 0, "\(again.stdout) \(again.stderr)")
        }
    }

    /// `eventstore read … | head`: when the reader of its output goes away, the command stops quietly with
    /// the status of a Unix tool ended by SIGPIPE (it crashed on a `try!` in Foundation).
    @Test func aReaderThatGoesAwayEndsTheCommandQuietly() async throws {
        try await withTemporaryDatabase { path in
            let store = try await SQLiteEventStore(path: path)
            try await store.create("long-1", events: (1...50).map { _ in EventMessage(messageName: "Tick") })
            await store.close()
            let process = Process()
            process.executableURL = EventStoreProcess.executable
            process.arguments = ["read", "long-1", "--database=sqlite:\(path)"]
            let stdout = Pipe()
            let stderr = Pipe()
            process.standardOutput = stdout
            process.standardError = stderr
            process.standardInput = FileHandle.nullDevice
            // Nobody reads: the first line written fails with EPIPE.
            try stdout.fileHandleForReading.close()
            try ProcessLaunch.run(process)
            await EventStoreProcess.waitForExit(process)
            let errors = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            // Ended by SIGPIPE itself where the signal is not ignored (a shell's default), else the command
            // exits with the same status a shell shows for it; a crash would be SIGILL or SIGTRAP.
            let endedBySIGPIPE = process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGPIPE
            let exitedAsIfBySIGPIPE = process.terminationReason == .exit && process.terminationStatus == 141
            #expect(endedBySIGPIPE || exitedAsIfBySIGPIPE, "\(process.terminationReason) \(process.terminationStatus)")
            #expect(errors.isEmpty, "\(errors)")
        }
    }

    /// A payload written pretty-printed (LF, CRLF and lone CR in its whitespace) reads back as one JSON line
    /// per event, the same JSON; before, `read` printed the payload's line breaks and split the event.
    @Test func aPrettyPrintedPayloadReadsBackAsOneLinePerEvent() async throws {
        try await withTemporaryDatabase { path in
            let database = "--database=sqlite:\(path)"
            let input = "[{\"message_name\":\"A\",\"payload\":{\n  \"a\": 1,\r\n  \"b\": \"x\\ny\"\r}},{\"message_name\":\"B\"}]"
            let appended = try await EventStoreProcess.run(["append", "pretty-1", database], input: input)
            #expect(appended.status == 0, "\(appended.stderr)")
            let read = try await EventStoreProcess.run(["read", "pretty-1", database])
            #expect(read.status == 0, "\(read.stderr)")
            // Split as a reader of JSON lines would, on any line break.
            let lines = read.stdout.split(omittingEmptySubsequences: true) { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
            #expect(lines.count == 2, "\(read.stdout.debugDescription)")
            let first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
            let payload = try #require(first["payload"] as? [String: Any])
            #expect(payload["a"] as? Int == 1)
            #expect(payload["b"] as? String == "x\ny")
        }
    }

    /// `serve --token ''` (an unset variable in `--token "$TOKEN"`) is refused at start instead of serving a
    /// store that lets anyone in. (Port 0 is refused too, after the tokens: without the check the command
    /// fails on the port, with another message, and never serves.)
    @Test func serveRefusesAnEmptyToken() async throws {
        try await withTemporaryDatabase { path in
            for option in ["--token", "--read-only-token"] {
                let served = try await EventStoreProcess.run(["serve", option, "", "--port", "0", "--database=sqlite:\(path)"])
                #expect(served.status == 2, "\(served.stderr)")
                #expect(served.stderr.contains("must not be empty"), "\(served.stderr)")
            }
        }
    }

    /// A `--host` other machines can reach is refused without tokens unless `--allow-anonymous`; tokens may
    /// come from a file or from `EVENTSTORE_TOKENS` instead of argv, and an empty one there is refused too.
    @Test func serveRefusesAnOpenNonLoopbackHostAndReadsTokensFromFilesAndTheEnvironment() async throws {
        try await withTemporaryDatabase { path in
            let database = "--database=sqlite:\(path)"
            let open = try await EventStoreProcess.run(["serve", "--host", "0.0.0.0", "--port", "0", database])
            #expect(open.status == 2, "\(open.stderr)")
            #expect(open.stderr.contains("--allow-anonymous"), "\(open.stderr)")
            let emptyFile = URL(fileURLWithPath: path + ".empty-tokens")
            try Data("\n\n".utf8).write(to: emptyFile)
            let fromEmptyFile = try await EventStoreProcess.run(["serve", "--token-file", emptyFile.path, "--port", "0", database])
            #expect(fromEmptyFile.stderr.contains("holds no token"), "\(fromEmptyFile.stderr)")
            let emptyVariable = try await EventStoreProcess.run(["serve", "--port", "0", database], environment: ["EVENTSTORE_TOKENS": ""])
            #expect(emptyVariable.stderr.contains("EVENTSTORE_TOKENS"), "\(emptyVariable.stderr)")
            // With tokens from a file or the environment, the non-loopback host passes the check (and the run
            // fails at the port, which is refused after it).
            let tokenFile = URL(fileURLWithPath: path + ".tokens")
            try Data("s3cret\n".utf8).write(to: tokenFile)
            for (arguments, environment) in [
                (["--token-file", tokenFile.path], [String: String]()), ([], ["EVENTSTORE_TOKENS": "a,b"]),
                (["--allow-anonymous"], [:]),
            ] {
                let served = try await EventStoreProcess.run(
                    ["serve", "--host", "0.0.0.0", "--port", "0", database] + arguments, environment: environment)
                #expect(served.stderr.contains("--port must be"), "\(arguments) \(environment): \(served.stderr)")
            }
        }
    }

    /// `eventstore verify` finds what an older build (or a hand) left broken: an event whose metadata does
    /// not read back, an event without its stream, a stream whose version is not its last position; on a
    /// sound file it says so and exits 0.
    @Test func verifyFindsUnreadableEventsOrphansAndWrongVersions() async throws {
        try await withTemporaryDatabase { path in
            let database = "--database=sqlite:\(path)"
            let store = try await SQLiteEventStore(path: path)
            try await store.create("sound-1", events: (1...3).map { _ in EventMessage(messageName: "A") })
            try await store.create("broken-1", events: (1...5).map { _ in EventMessage(messageName: "B") })
            await store.close()
            let sound = try await EventStoreProcess.run(["verify", database])
            #expect(sound.status == 0, "\(sound.stdout) \(sound.stderr)")
            #expect(sound.stdout.hasPrefix("ok"))
            let sql = """
                UPDATE events SET metadata = '{"nested":{"a":1}}' WHERE position = 4 AND stream_id = (SELECT id FROM event_streams WHERE name = 'broken-1');
                INSERT INTO events (stream_id, position, uuid, message_name, payload, metadata, created_at)
                    VALUES (9999, 1, '8d6a0d66-2e5b-4c3e-9d55-6e1f2b7f9a10', 'Orphan', '{}', '{}', '2026-12-01T00:00:00.000000');
                UPDATE event_streams SET version = 7 WHERE name = 'sound-1';
                """
            let sqlite = Process()
            sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            sqlite.arguments = ["sqlite3", path, sql]
            try ProcessLaunch.run(sqlite)
            await EventStoreProcess.waitForExit(sqlite)
            try #require(sqlite.terminationStatus == 0)
            let found = try await EventStoreProcess.run(["verify", database, "--read-batch-size", "2"])
            #expect(found.status == 1, "\(found.stderr)")
            let lines = found.stdout.split(separator: "\n").map(String.init)
            #expect(lines.contains { $0.hasPrefix("unreadable-event: \"broken-1\" at position 4") }, "\(lines)")
            #expect(lines.filter { $0.hasPrefix("unreadable-event") }.count == 1, "\(lines)")
            #expect(lines.contains("orphan-events: 1 event(s) belong to no stream"), "\(lines)")
            #expect(lines.contains { $0.hasPrefix("wrong-version: stream \"sound-1\"") }, "\(lines)")
            #expect(found.stderr.contains("verify found 3 problem(s)"), "\(found.stderr)")
        }
    }

    @Test func exitStatusesNameTheFailure() async throws {
        try await withTemporaryDatabase { path in
            let database = "--database=sqlite:\(path)"
            let bad = try await EventStoreProcess.run(["append", "s-1", database], input: "{not json")
            #expect(bad.status == 2)
            #expect(bad.stderr.hasPrefix("eventstore: "))
            #expect(bad.stderr.split(separator: "\n").count == 1)
            let missing = try await EventStoreProcess.run(["read", "s-1", database])
            #expect(missing.status == 3)
            _ = try await EventStoreProcess.run(["append", "s-1", database], input: eventsJSON(2))
            let conflict = try await EventStoreProcess.run(
                ["append", "s-1", "--expected-version", "1", database], input: eventsJSON(1))
            #expect(conflict.status == 4)
            let badMatcher = try await EventStoreProcess.run(["read", "s-1", "--where", "x regex (", database])
            #expect(badMatcher.status == 2)
            let badURL = try await EventStoreProcess.run(["streams", "--database=postgres-ish"])
            #expect(badURL.status == 2)
        }
    }

    @Test func twoProcessesAppendingToOneFileBothSucceed() async throws {
        try await withTemporaryDatabase { path in
            let database = "--database=sqlite:\(path)"
            _ = try await SQLiteEventStore(path: path)
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
            let firstErr = directory.appendingPathComponent("first.err")
            let secondErr = directory.appendingPathComponent("second.err")
            // The first writer holds the write lock for 500 ms before it commits; the second (the command)
            // must wait for it.
            let first = try EventStoreProcess.start(
                [path, "shared-1", "2000", "First", "500"], program: EventStoreProcess.testWriter, stderrFile: firstErr)
            #expect(try await EventStoreProcess.waitFor("paused before commit", in: firstErr))
            let second = try EventStoreProcess.start(
                ["append", "shared-1", database], input: eventsJSON(2_000, name: "Second"), stderrFile: secondErr)
            await EventStoreProcess.waitForExit(first)
            await EventStoreProcess.waitForExit(second)
            #expect(first.terminationStatus == 0, "\(String(decoding: FileManager.default.contents(atPath: firstErr.path) ?? Data(), as: UTF8.self))")
            #expect(second.terminationStatus == 0, "\(String(decoding: FileManager.default.contents(atPath: secondErr.path) ?? Data(), as: UTF8.self))")
            let events = try await SQLiteEventStore(path: path).load("shared-1").collect()
            #expect(events.map(\.position) == Array(1...4_000))
            #expect(events.prefix(2_000).allSatisfy { $0.messageName == "First" })
            #expect(events.suffix(2_000).allSatisfy { $0.messageName == "Second" })
        }
    }

    @Test func aWriterKilledBeforeCommitLeavesNothingOfItsBatch() async throws {
        try await withTemporaryDatabase { path in
            let store = try await SQLiteEventStore(path: path)
            try await store.create("killed-1", events: [EventMessage(messageName: "Before")])
            let errFile = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("killed.err")
            let writer = try EventStoreProcess.start(
                [path, "killed-1", "10000", "Doomed", "60000"], program: EventStoreProcess.testWriter, stderrFile: errFile)
            #expect(try await EventStoreProcess.waitFor("paused before commit", in: errFile))
            kill(writer.processIdentifier, SIGKILL)
            await EventStoreProcess.waitForExit(writer)
            #expect(writer.terminationReason == .uncaughtSignal)
            let reopened = try await SQLiteEventStore(path: path)
            #expect(try await reopened.load("killed-1").collect().map(\.messageName) == ["Before"])
            // The file is healthy: the next writer appends after the surviving event.
            _ = try await reopened.append([EventMessage(messageName: "After")], to: "killed-1", expectedVersion: .exact(1))
            #expect(try await reopened.load("killed-1").collect().map(\.position) == [1, 2])
        }
    }

    @Test(arguments: [5, 40, 120])
    func aWriterKilledAtAnyMomentLeavesAllOrNoneOfItsBatch(afterMilliseconds delay: Int) async throws {
        try await withTemporaryDatabase { path in
            let database = "--database=sqlite:\(path)"
            _ = try await SQLiteEventStore(path: path)
            let errFile = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("k.err")
            let writer = try EventStoreProcess.start(["append", "killed-2", database], input: eventsJSON(10_000), stderrFile: errFile)
            try await Task.sleep(for: .milliseconds(delay))
            kill(writer.processIdentifier, SIGKILL)
            await EventStoreProcess.waitForExit(writer)
            let reopened = try await SQLiteEventStore(path: path)
            if try await reopened.hasStream("killed-2") {
                let positions = try await reopened.load("killed-2").collect().map(\.position)
                #expect(positions == Array(1...10_000))
            }
        }
    }

    @Test func subscribePrintsStoredThenNewEventsFromAnotherProcess() async throws {
        try await withTemporaryDatabase { path in
            let database = "--database=sqlite:\(path)"
            _ = try await EventStoreProcess.run(["append", "user-1", database], input: eventsJSON(2, name: "Stored"))
            let out = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("subscribe.out")
            let subscriber = try EventStoreProcess.start(
                ["subscribe", "--category", "user", database], stdoutFile: out,
                stderrFile: URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("subscribe.err"))
            defer { kill(subscriber.processIdentifier, SIGKILL) }
            #expect(try await EventStoreProcess.waitFor("\"global_position\":2", in: out))
            _ = try await EventStoreProcess.run(["append", "admin-1", database], input: eventsJSON(1, name: "Other"))
            _ = try await EventStoreProcess.run(["append", "user-2", database], input: eventsJSON(1, name: "Live"))
            #expect(try await EventStoreProcess.waitFor("\"Live\"", in: out))
            let lines = String(decoding: FileManager.default.contents(atPath: out.path) ?? Data(), as: UTF8.self)
                .split(separator: "\n")
            #expect(lines.count == 3)
            #expect(lines.last?.contains("\"stream\":\"user-2\"") == true)
            #expect(!lines.contains { $0.contains("admin-1") })
        }
    }
}
