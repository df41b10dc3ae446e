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
