import EventStore
import Foundation
import Testing

struct RollbackOnPurpose: Error {}

extension EventStoreConformance {
    static let transactionCases: [ConformanceCase] = [
        ConformanceCase("transactions", "committedWritesAreVisible") { store in
            try await store.transaction { tx in
                try await tx.create(userStream, events: [userEvent(1)])
            }
            #expect(try await store.hasStream(userStream))
        },
        ConformanceCase("transactions", "returnsTheResultOfItsBodyAndChains") { store in
            let result = try await store.transaction { tx -> String in
                try await tx.create(userStream, events: [userEvent(1)])
                return "Result"
            }
            #expect(result == "Result")
            try await store.transaction { tx in try await tx.append([userEvent(2)], to: userStream) }
            #expect(try await store.all(userStream).count == 2)
        },
        ConformanceCase("transactions", "aThrowingBodyRollsBackAndRethrows") { store in
            try await store.create("tx-keep", events: [userEvent(1)])
            await #expect(throws: RollbackOnPurpose.self) {
                try await store.transaction { tx in
                    try await tx.create(userStream, events: [userEvent(1)])
                    try await tx.append([userEvent(2)], to: "tx-keep")
                    try await tx.updateStreamMetadata(["changed": true], of: "tx-keep")
                    throw RollbackOnPurpose()
                }
            }
            #expect(try await store.hasStream(userStream) == false)
            #expect(try await store.all("tx-keep").count == 1)
            #expect(try await store.streamMetadata(of: "tx-keep").isEmpty)
        },
        ConformanceCase("transactions", "aConflictInsideRollsBackEarlierWrites") { store in
            try await store.create("tx-a", events: [userEvent(1)])
            await expectError(.wrongExpectedVersion) {
                try await store.transaction { tx in
                    try await tx.append([userEvent(2)], to: "tx-a", expectedVersion: .exact(1))
                    try await tx.create("tx-b")
                    try await tx.append([userEvent(3)], to: "tx-a", expectedVersion: .exact(1))
                }
            }
            #expect(try await store.all("tx-a").count == 1)
            #expect(try await store.hasStream("tx-b") == false)
        },
        ConformanceCase("transactions", "loadAndSaveWithinOneTransaction") { store in
            try await store.transaction { tx in
                await expectError(.streamNotFound) { try await tx.load(userStream) }
                try await tx.create(userStream, events: [userEvent(1)])
                #expect(try await tx.hasStream(userStream))
                #expect(versions(try await tx.all(userStream)) == [1])
                try await tx.append([userEvent(2)], to: userStream, expectedVersion: .exact(1))
                #expect(try await tx.streamNames() == [userStream])
            }
            #expect(try await store.all(userStream).count == 2)
        },
        ConformanceCase("transactions", "writesAreInvisibleOutsideUntilCommit") { store in
            try await store.create("tx-seen", events: [userEvent(1)])
            try await store.transaction { tx in
                try await tx.create("tx-new", events: [userEvent(1)])
                try await tx.append([userEvent(2)], to: "tx-seen")
                let outsideHasNew = try await Task.detached { try await store.hasStream("tx-new") }.value
                let outsideCount = try await Task.detached { try await store.all("tx-seen").count }.value
                #expect(outsideHasNew == false)
                #expect(outsideCount == 1)
            }
            #expect(try await store.hasStream("tx-new"))
            #expect(try await store.all("tx-seen").count == 2)
        },
        ConformanceCase("transactions", "aNestedTransactionIsAnError") { store in
            try await store.transaction { tx in
                try await tx.create("tx-outer")
                await expectError(.nestedTransaction) { try await tx.transaction { _ in } }
                await expectError(.nestedTransaction) { try await store.transaction { _ in } }
                await expectError(.nestedTransaction) { try await store.create("tx-around") }
                await expectError(.nestedTransaction) { try await store.append([userEvent(1)], to: "tx-outer") }
            }
            #expect(try await store.hasStream("tx-outer"))
            #expect(try await store.hasStream("tx-around") == false)
        },
        ConformanceCase("transactions", "theTransactionsStoreIsClosedAfterwards") { store in
            let leaked = try await store.transaction { tx in tx }
            await expectError(.transactionClosed) { try await leaked.create("tx-late") }
            await expectError(.transactionClosed) { try await leaked.hasStream("tx-late") }
            #expect(try await store.hasStream("tx-late") == false)
        },
        ConformanceCase("transactions", "anOutsideWriterWaitsAndSeesTheCommittedVersion") { store in
            try await store.create("tx-race", events: [userEvent(1)])
            let (started, startedContinuation) = AsyncStream<Void>.makeStream()
            let writer = Task {
                var iterator = started.makeAsyncIterator()
                _ = await iterator.next()
                return try await store.append([userEvent(9)], to: "tx-race", expectedVersion: .exact(1))
            }
            try await store.transaction { tx in
                try await tx.append([userEvent(2)], to: "tx-race", expectedVersion: .exact(1))
                startedContinuation.yield()
                try await Task.sleep(for: .milliseconds(50))
            }
            let error = await expectError(.wrongExpectedVersion) { try await writer.value }
            #expect(error?.actualVersion == 2)
            #expect(versions(try await store.all("tx-race")) == [1, 2])
        },
        ConformanceCase("transactions", "aCancelledTransactionEitherCommitsAndReturnsOrWritesNothing") { store in
            // Cancelled at every moment of its life: before BEGIN, between its writes, during COMMIT. A caller
            // told "failed" retries, so a transaction that committed must never report a failure.
            var seed = SeededGenerator(seed: 7)
            for round in 0..<60 {
                let stream = try StreamName("cancel-\(round)")
                let first = EventMessage(messageName: "A")
                let second = EventMessage(messageName: "B")
                let task = Task {
                    try await store.transaction { tx in
                        try await tx.append([first], to: stream, expectedVersion: .noStream)
                        try await tx.append([second], to: stream, expectedVersion: .exact(1))
                    }
                }
                try await Task.sleep(for: .microseconds(Int.random(in: 0...4000, using: &seed)))
                task.cancel()
                let outcome = await task.result
                let stored = (try? await store.all(stream).map(\.uuid)) ?? []
                switch outcome {
                case .success:
                    #expect(stored == [first.uuid, second.uuid], "round \(round): returned, but stored \(stored)")
                case let .failure(error):
                    #expect(stored.isEmpty, "round \(round): threw \(error), but stored \(stored)")
                }
            }
        },
        ConformanceCase("transactions", "aReadThatFailsInsideATransactionLeavesItUsable") { store in
            try await store.create("tx-read", events: [EventMessage(messageName: "A", metadata: ["s": "é"])])
            try await store.transaction { tx in
                // A pattern one backend read differently is refused before any SQL runs (on PostgreSQL a read
                // that failed inside a transaction aborted it, 25P02); reads run in a savepoint there besides.
                await expectError(.invalidArgument) { try MetadataMatcher().metadata("s", .regex, .scalar(.string("^\\p{L}$"))) }
                let letter = try MetadataMatcher().metadata("s", .regex, .scalar(.string("^.$")))
                #expect(try await tx.load("tx-read", from: 1, count: nil, matching: letter).collect().count == 1)
                await expectError(.streamNotFound) { try await tx.load("tx-missing", from: 1, count: nil, matching: nil).collect() }
                try await tx.append([EventMessage(messageName: "B")], to: "tx-read", expectedVersion: .exact(1))
            }
            #expect(try await store.all("tx-read").map(\.messageName) == ["A", "B"])
        },
    ]
}
