import EventStore
import Testing

extension EventStoreConformance {
    static let expectedVersionCases: [ConformanceCase] = [
        ConformanceCase("expected version", "exactVersionAppendsWhenTheStreamIsAtIt") { store in
            try await store.create("ev-1")
            try await store.append(userEvents(1...2), to: "ev-1", expectedVersion: .exact(0))
            try await store.append(userEvents(3...3), to: "ev-1", expectedVersion: .exact(2))
            #expect(positions(try await store.all("ev-1")) == [1, 2, 3])
        },
        ConformanceCase("expected version", "wrongExactVersionRejectsTheWholeAppend") { store in
            try await store.create("ev-2", events: userEvents(1...2))
            let error = await expectError(.wrongExpectedVersion) {
                try await store.append(userEvents(3...5), to: "ev-2", expectedVersion: .exact(1))
            }
            #expect(error?.expectedVersion == .exact(1))
            #expect(error?.actualVersion == 2)
            #expect(error?.streamName == "ev-2")
            await expectError(.wrongExpectedVersion) {
                try await store.append(userEvents(3...5), to: "ev-2", expectedVersion: .exact(3))
            }
            #expect(positions(try await store.all("ev-2")) == [1, 2])
        },
        ConformanceCase("expected version", "noStreamCreatesTheStream") { store in
            let result = try await store.append(userEvents(1...2), to: "ev-3", expectedVersion: .noStream)
            #expect(result.streamVersion == 2)
            #expect(try await store.hasStream("ev-3"))
            #expect(try await store.streamMetadata(of: "ev-3").isEmpty)
            #expect(positions(try await store.all("ev-3")) == [1, 2])
        },
        ConformanceCase("expected version", "noStreamFailsWhenTheStreamExistsEvenEmpty") { store in
            try await store.create("ev-4")
            let error = await expectError(.wrongExpectedVersion) {
                try await store.append([userEvent(1)], to: "ev-4", expectedVersion: .noStream)
            }
            #expect(error?.actualVersion == 0)
            #expect(error?.expectedVersion == .noStream)
            #expect(try await store.all("ev-4").isEmpty)
        },
        ConformanceCase("expected version", "anyAndStreamExistsNeedAnExistingStream") { store in
            await expectError(.streamNotFound) { try await store.append([userEvent(1)], to: "ev-5", expectedVersion: .any) }
            await expectError(.streamNotFound) {
                try await store.append([userEvent(1)], to: "ev-5", expectedVersion: .streamExists)
            }
            await expectError(.streamNotFound) {
                try await store.append([userEvent(1)], to: "ev-5", expectedVersion: .exact(0))
            }
            try await store.create("ev-5")
            try await store.append([userEvent(1)], to: "ev-5", expectedVersion: .streamExists)
            try await store.append([userEvent(2)], to: "ev-5", expectedVersion: .any)
            #expect(positions(try await store.all("ev-5")) == [1, 2])
        },
        ConformanceCase("expected version", "emptyAppendStillChecksTheVersion") { store in
            try await store.create("ev-6", events: userEvents(1...1))
            try await store.append([], to: "ev-6", expectedVersion: .exact(1))
            await expectError(.wrongExpectedVersion) { try await store.append([], to: "ev-6", expectedVersion: .exact(0)) }
            let created = try await store.append([], to: "ev-7", expectedVersion: .noStream)
            #expect(created.streamVersion == 0)
            #expect(try await store.hasStream("ev-7"))
        },
        ConformanceCase("expected version", "aRetryWithAnExactVersionOrNoStreamGetsTheFirstResult") { store in
            // A client that lost the reply sends the same events again (KurrentDB's idempotent appends).
            let first = userEvents(1...2)
            let created = try await store.append(first, to: "idem-1", expectedVersion: .noStream)
            #expect(try await store.append(first, to: "idem-1", expectedVersion: .noStream) == created)
            let second = userEvents(3...5)
            let appended = try await store.append(second, to: "idem-1", expectedVersion: .exact(2))
            try await store.append(userEvents(6...6), to: "idem-1", expectedVersion: .exact(5))
            // Still the first result after later appends: the events are at 3…5, where .exact(2) put them.
            #expect(try await store.append(second, to: "idem-1", expectedVersion: .exact(2)) == appended)
            #expect(appended.streamVersion == 5)
            #expect(try await store.append(first, to: "idem-1", expectedVersion: .exact(0)) == created)
            let stored = try await store.all("idem-1")
            #expect(positions(stored) == [1, 2, 3, 4, 5, 6])
            #expect(stored.prefix(5).map(\.uuid) == (first + second).map(\.uuid))
        },
        ConformanceCase("expected version", "aRetryWithAnyOrStreamExistsGetsTheFirstResultWhileItsEventsAreLast") { store in
            try await store.create("idem-2", events: userEvents(1...1))
            let batch = userEvents(2...3)
            let appended = try await store.append(batch, to: "idem-2", expectedVersion: .any)
            #expect(try await store.append(batch, to: "idem-2", expectedVersion: .any) == appended)
            #expect(try await store.append(batch, to: "idem-2", expectedVersion: .streamExists) == appended)
            #expect(positions(try await store.all("idem-2")) == [1, 2, 3])
            // Once other events follow them, the same events again are a conflict.
            try await store.append(userEvents(4...4), to: "idem-2", expectedVersion: .any)
            await expectError(.duplicateEvent) { try await store.append(batch, to: "idem-2", expectedVersion: .any) }
            #expect(positions(try await store.all("idem-2")) == [1, 2, 3, 4])
        },
        ConformanceCase("expected version", "aRetryThatMatchesOnlyInPartOrElsewhereIsStillAConflict") { store in
            let batch = userEvents(1...3)
            try await store.append(batch, to: "idem-3", expectedVersion: .noStream)
            let fresh = userEvent(4)
            // Some of the events, with a new one.
            await expectError(.wrongExpectedVersion) {
                try await store.append([batch[0], batch[1], fresh], to: "idem-3", expectedVersion: .noStream)
            }
            await expectError(.duplicateEvent) { try await store.append([batch[2], fresh], to: "idem-3", expectedVersion: .any) }
            // All of them, at other positions than the version names.
            await expectError(.wrongExpectedVersion) { try await store.append(batch, to: "idem-3", expectedVersion: .exact(1)) }
            await expectError(.wrongExpectedVersion) {
                try await store.append(Array(batch[1...2]), to: "idem-3", expectedVersion: .exact(0))
            }
            // In another order.
            await expectError(.duplicateEvent) { try await store.append(batch.reversed(), to: "idem-3", expectedVersion: .any) }
            // The last events of the stream, but the stream was expected not to exist before them.
            await expectError(.wrongExpectedVersion) {
                try await store.append(Array(batch[1...2]), to: "idem-3", expectedVersion: .noStream)
            }
            // A stream that does not hold them at all.
            try await store.create("idem-4", events: userEvents(1...3))
            await expectError(.wrongExpectedVersion) { try await store.append(batch, to: "idem-4", expectedVersion: .exact(0)) }
            #expect(positions(try await store.all("idem-3")) == [1, 2, 3])
        },
        ConformanceCase("expected version", "parsesTheTextFormsOfTheCommandLineAndHTTP") { _ in
            #expect(ExpectedVersion("any") == .any)
            #expect(ExpectedVersion("no-stream") == .noStream)
            #expect(ExpectedVersion("exists") == .streamExists)
            #expect(ExpectedVersion("0") == .exact(0))
            #expect(ExpectedVersion("17") == .exact(17))
            #expect(ExpectedVersion("-1") == nil)
            #expect(ExpectedVersion("seven") == nil)
            #expect(ExpectedVersion("") == nil)
        },
    ]

    static let duplicateCases: [ConformanceCase] = [
        ConformanceCase("duplicates", "duplicateUuidInTheStreamRejectsTheWholeAppend") { store in
            let first = userEvent(1)
            try await store.create("dup-1", events: [first])
            var again = userEvent(3)
            again.uuid = first.uuid
            let error = await expectError(.duplicateEvent) {
                try await store.append([userEvent(2), again], to: "dup-1")
            }
            #expect(error?.streamName == "dup-1")
            #expect(positions(try await store.all("dup-1")) == [1])
        },
        ConformanceCase("duplicates", "duplicateUuidWithinOneAppendIsRejected") { store in
            try await store.create("dup-2")
            let event = EventMessage(messageName: "Happened")
            var twin = EventMessage(messageName: "HappenedAgain")
            twin.uuid = event.uuid
            await expectError(.duplicateEvent) { try await store.append([event, twin], to: "dup-2") }
            await expectError(.duplicateEvent) { try await store.create("dup-3", events: [event, twin]) }
            #expect(try await store.all("dup-2").isEmpty)
            #expect(try await store.hasStream("dup-3") == false)
        },
        ConformanceCase("duplicates", "theSameUuidMayStandInTwoStreams") { store in
            let event = EventMessage(messageName: "Happened")
            try await store.create("dup-4", events: [event])
            try await store.create("dup-5", events: [event])
            #expect(try await store.all("dup-5").first?.uuid == event.uuid)
        },
        ConformanceCase("duplicates", "aggregateVersionIsUniqueWithinAStream") { store in
            func event(_ id: String, _ version: Int) -> EventMessage {
                EventMessage(
                    messageName: "Changed",
                    metadata: ["_aggregate_type": "user", "_aggregate_id": .string(id), "_aggregate_version": .int(version)])
            }
            try await store.create("user-agg", events: [event("one", 1), event("two", 1)])
            let error = await expectError(.duplicateEvent) {
                try await store.append([event("one", 2), event("one", 1)], to: "user-agg")
            }
            #expect(error?.streamName == "user-agg")
            await expectError(.duplicateEvent) { try await store.append([event("two", 2), event("two", 2)], to: "user-agg") }
            #expect(try await store.all("user-agg").count == 2)
            try await store.append([event("one", 2), event("two", 2)], to: "user-agg")
            // The same triple in another stream is no conflict.
            try await store.create("user-agg-copy", events: [event("one", 1)])
            #expect(try await store.all("user-agg").count == 4)
        },
        ConformanceCase("duplicates", "eventsWithoutTheWholeAggregateTripleAreNotChecked") { store in
            let partial: Metadata = ["_aggregate_id": "one", "_aggregate_version": 1]
            try await store.create(
                "dup-6",
                events: [
                    EventMessage(messageName: "A", metadata: partial), EventMessage(messageName: "B", metadata: partial),
                    EventMessage(messageName: "C"), EventMessage(messageName: "D"),
                ])
            #expect(try await store.all("dup-6").count == 4)
        },
    ]
}
