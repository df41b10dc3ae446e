import EventStore
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
    ]
}
