import EventStore
import EventStoreBackends
import EventStoreTestSupport
import Foundation
import Logging
import Testing

/// `eventstore partitions status|move` over a partitioned store of SQLite files (issue 25).
@Suite("Partitions from the command line", .serialized, .watchdog())
struct PartitionCommandTests {
    /// A store of two members gets a third: the file lists it last, `partitions move --count` moves buckets
    /// to it, `partitions status` shows where the buckets are, and every stream reads as before.
    @Test func aMemberAddedAndBucketsMovedToIt() async throws {
        try await withTemporaryDatabase { path in
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
            let file = directory.appendingPathComponent("members.json")
            func write(members: [String]) throws {
                let list = members.map { name in
                    let database = "sqlite:" + directory.appendingPathComponent(name + ".sqlite").path
                    return "{\"name\": \"\(name)\", \"database\": \"\(database)\"}"
                }
                try Data(#"{"members": [\#(list.joined(separator: ", "))], "key": "category", "bucketCount": 16}"#.utf8).write(to: file)
            }
            try write(members: ["a", "b"])
            let database = "--database=partitioned:\(file.path)"
            let categories = (0..<12).map { "cat\($0)" }
            let logger = Logger(label: "test")
            try await PartitionedStoreFile(url: "partitioned:\(file.path)").withStore(logger: logger) { store in
                for category in categories {
                    try await store.create(try StreamName("\(category)-1"), events: [EventMessage(messageName: "Made")])
                }
            }
            let before = try await EventStoreProcess.run(["partitions", "status", database])
            #expect(before.status == 0, "\(before.stderr)")
            let status = try JSONValue(parsing: before.stdout)
            #expect(status["version"]?.wholeNumber == 1 && status["bucketCount"]?.wholeNumber == 16 && status["key"] == .string("category"))
            #expect(status["members"]?[0]?["buckets"]?.wholeNumber == 8)

            try write(members: ["a", "b", "c"])
            let moved = try await EventStoreProcess.run(["partitions", "move", "--to", "c", "--count", "5", database])
            #expect(moved.status == 0, "\(moved.stderr)")
            let moves = try moved.stdout.split(separator: "\n").map { try JSONValue(parsing: String($0)) }
            #expect(moves.count == 5 && moves.allSatisfy { $0["to"] == .string("c") })
            let after = try JSONValue(parsing: try await EventStoreProcess.run(["partitions", "status", database]).stdout)
            #expect(after["version"]?.wholeNumber == 7, "a map for the new member, then one per move")
            #expect(after["members"]?[2]?["buckets"]?.wholeNumber == 5)
            #expect(after["members"]?[0]?["buckets"]?.wholeNumber == 5 || after["members"]?[0]?["buckets"]?.wholeNumber == 6)
            #expect(after["moves"].map { if case let .array(list) = $0 { list.count } else { 0 } } == 5)

            try await PartitionedStoreFile(url: "partitioned:\(file.path)").withStore(logger: logger) { store in
                for category in categories {
                    let events = try await store.load(try StreamName("\(category)-1")).collect()
                    #expect(events.map(\.messageName) == ["Made"])
                }
                let names = try await store.streamNames(limit: 100, offset: 0)
                #expect(names.count == categories.count)
                #expect(store.placement.buckets(of: "c").count == 5)
            }

            // Bad input: exit status 2 and one line on stderr.
            for arguments in [
                ["partitions", "move", "--to", "c", database],
                ["partitions", "move", "--to", "nobody", "--bucket", "1", database],
                ["partitions", "move", "--to", "c", "--bucket", "99", database],
                ["partitions", "status", "--database=sqlite:\(path)"],
                ["partitions", "status", "--database=partitioned:\(directory.appendingPathComponent("missing.json").path)"],
            ] {
                let failed = try await EventStoreProcess.run(arguments)
                #expect(failed.status == 2, "\(arguments): \(failed.stderr)")
                #expect(!failed.stderr.isEmpty)
            }
        }
    }

    /// Every command that reads or writes streams takes a partitioned store: the schema of each member,
    /// writes routed to their members, merged listings, `subscribe` from a composite position and `verify`
    /// member by member, projections and consumer groups (made after a composite position, listed, consumed).
    @Test func everyStreamCommandTakesAPartitionedStore() async throws {
        try await withTemporaryDatabase { path in
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
            let file = directory.appendingPathComponent("members.json")
            let list = ["a", "b", "c"].map { "{\"name\": \"\($0)\", \"database\": \"sqlite:\(directory.appendingPathComponent($0 + ".sqlite").path)\"}" }
            try Data(#"{"members": [\#(list.joined(separator: ", "))], "bucketCount": 16}"#.utf8).write(to: file)
            let database = "--database=partitioned:\(file.path)"
            func run(_ arguments: [String], input: String = "") async throws -> String {
                let result = try await EventStoreProcess.run(arguments + [database], input: input)
                #expect(result.status == 0, "\(arguments): \(result.stderr)")
                return result.stdout
            }

            #expect(try await run(["migrate"]).split(separator: "\n") == ["a: schema version 9", "b: schema version 9", "c: schema version 9"])
            for index in 0..<9 { _ = try await run(["append", "user-\(index)"], input: eventsJSON(2)) }
            _ = try await run(["create", "admin-1"])
            #expect(try await run(["append", "admin-1", "--expected-version", "0"], input: eventsJSON(1)) == "1\n")
            let members = try await PartitionedStoreFile(url: "partitioned:\(file.path)").withStore(logger: Logger(label: "test")) { store in
                Set((0..<9).map { store.location(of: try! StreamName("user-\($0)")).member })
            }
            #expect(members.count == 3, "the streams are spread over every member")
            #expect(try await run(["read", "user-4"]).split(separator: "\n").count == 2)
            #expect(try await run(["streams"]).split(separator: "\n") == ["admin-1"] + (0..<9).map { "user-\($0)" }[...])
            #expect(try await run(["categories"]) == "admin\nuser\n")
            #expect(try await run(["metadata", "user-1", "--set", #"{"owner": "ops"}"#]) == #"{"owner":"ops"}"# + "\n")
            _ = try await run(["delete", "user-8"])
            #expect(try await run(["verify"]) == "ok: every stream and event reads back\n")
            #expect(try await run(["scavenge"]) == #"{"streams":0,"events":0}"# + "\n")
            #expect(try await run(["quickstart"]) == "It works\n")

            // subscribe prints each event with its member and the composite position after it, and --from
            // takes one of them.
            let out = directory.appendingPathComponent("subscribe.out")
            let all = directory.appendingPathComponent("subscribe-all.out")
            let first = try EventStoreProcess.start(
                ["subscribe", "--category", "user", database], stdoutFile: all, stderrFile: directory.appendingPathComponent("subscribe-all.err"))
            defer { kill(first.processIdentifier, SIGKILL) }
            try await within(.seconds(30), "subscribe printed the 16 stored events of category user (user-8 was deleted)") {
                while (try? String(contentsOf: all, encoding: .utf8))?.split(separator: "\n").count ?? 0 < 16 {
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            let lines = try String(contentsOf: all, encoding: .utf8).split(separator: "\n").map { try JSONValue(parsing: String($0)) }
            #expect(lines.count == 16, "8 streams of 2 events (user-8 was deleted)")
            guard case let .string(from)? = lines[5]["composite_position"], case .string? = lines[5]["member"] else {
                Issue.record("a line has its member and composite position: \(lines[5].jsonText)")
                return
            }
            let resumed = try EventStoreProcess.start(
                ["subscribe", "--category", "user", "--from", from, database], stdoutFile: out,
                stderrFile: directory.appendingPathComponent("subscribe.err"))
            defer { kill(resumed.processIdentifier, SIGKILL) }
            _ = try await run(["append", "user-0"], input: eventsJSON(1, name: "Live"))
            #expect(try await EventStoreProcess.waitFor("\"Live\"", in: out))
            let rest = try String(contentsOf: out, encoding: .utf8).split(separator: "\n").map { try JSONValue(parsing: String($0))["uuid"] }
            #expect(rest.dropLast() == lines.dropFirst(6).map { $0["uuid"] }[...], "the rest after the position, once")

            // A projection run through the library is listed and read from the command line.
            try await PartitionedStoreFile(url: "partitioned:\(file.path)").withStore(logger: Logger(label: "test")) { store in
                try await ProjectionManager(store: store).createProjection("users").initialState(0).fromCategory("user")
                    .whenAny { n, _, _ in n + 1 }.run(keepRunning: false)
            }
            #expect(try await run(["projections", "list"]) == "users\n")
            #expect(try await run(["projections", "state", "users"]) == "17\n", "16 events, and the live one")

            // A consumer group made after the sixth event of the category hands out the rest, once; its
            // checkpoint is a composite position; a global position is bad input.
            let made = try JSONValue(parsing: try await run(["groups", "create", "mailer", "--category", "user", "--from", from]))
            #expect(made["checkpoint"] == .string(from))
            #expect(try await run(["groups", "list"]) == "mailer\n")
            let consumed = try await run(["consume", "mailer", "--consumer", "a", "--count", "\(lines.count - 6 + 1)"])
                .split(separator: "\n").map { try JSONValue(parsing: String($0))["uuid"] }
            #expect(consumed == lines.dropFirst(6).map { $0["uuid"] } + [rest.last!], "the rest after the position, and the live event, once")
            let info = try JSONValue(parsing: try await run(["groups", "info", "mailer"]))
            #expect(info["acknowledged"] == JSONValue(integerLiteral: lines.count - 6 + 1) && info["lag_events"] == 0, "\(info.jsonText)")
            guard case let .string(checkpoint)? = info["checkpoint"], let position = CompositePosition(checkpoint) else {
                Issue.record("the checkpoint is a composite position: \(info.jsonText)")
                return
            }
            #expect(position.parts.count == 3, "every member's part moved: \(checkpoint)")

            for arguments in [["subscribe", "--from", "42"], ["groups", "create", "other", "--from", "42"]] {
                let failed = try await EventStoreProcess.run(arguments + [database])
                #expect(failed.status == 2, "\(arguments): \(failed.stderr)")
                #expect(!failed.stderr.isEmpty)
            }
        }
    }

    /// The file's shape is checked before anything opens.
    @Test func aBadFileIsRefusedWithItsReason() {
        for text in [
            "[]", #"{"members": []}"#, #"{"members": [{"name": "a"}]}"#,
            #"{"members": [{"name": "a b", "database": "sqlite:x"}]}"#,
            #"{"members": [{"name": "a", "database": "sqlite:x"}, {"name": "a", "database": "sqlite:y"}]}"#,
            #"{"members": [{"name": "a", "database": "sqlite:x"}], "key": "colour"}"#,
            #"{"members": [{"name": "a", "database": "sqlite:x"}], "bucketCount": 0}"#,
            #"{"members": [{"name": "a", "database": "partitioned:x"}]}"#,
        ] {
            #expect(throws: EventStoreError.self, "\(text)") { try PartitionedStoreFile(jsonText: text) }
        }
        let file = try? PartitionedStoreFile(jsonText: #"{"members": [{"name": "a", "database": "sqlite:x"}], "key": "prefix:/", "moveWaitSeconds": 0.5}"#)
        #expect(file?.key == "prefix:/" && file?.moveWaitSeconds == 0.5 && file?.bucketCount == 1024)
    }
}

extension JSONValue {
    /// The element at `index` of an array, `nil` for anything else.
    fileprivate subscript(index: Int) -> JSONValue? {
        guard case let .array(items) = self, items.indices.contains(index) else { return nil }
        return items[index]
    }
}
