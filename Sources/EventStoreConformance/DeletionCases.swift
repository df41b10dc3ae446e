import EventStore
import Testing

/// Every call that names a stream, each expected to fail with `code`.
private func expectEveryCall(on stream: StreamName, toFailWith code: EventStoreError.Code, in store: some EventStore) async {
    await expectError(code) { try await store.load(stream) }
    await expectError(code) { try await store.loadReverse(stream) }
    await expectError(code) { try await store.streamMetadata(of: stream) }
    await expectError(code) { try await store.updateStreamMetadata(["owner": "x"], of: stream) }
    await expectError(code) { try await store.append(kept(1), to: stream, expectedVersion: .any) }
    await expectError(code) { try await store.append(kept(1), to: stream, expectedVersion: .streamExists) }
    await expectError(code) { try await store.append(kept(1), to: stream, expectedVersion: .exact(3)) }
}

extension EventStoreConformance {
    static let deletionCases: [ConformanceCase] = [
        ConformanceCase("deletion", "softDeleteHidesTheStreamAndAnAppendGoesOnWithItsNumbering") { store in
            try await store.create("soft-1", metadata: ["owner": "a"], events: kept(3))
            try await store.create("soft-2", events: kept(1))
            try await store.create("hidden-1", events: kept(1))
            try await store.delete("soft-1", mode: .soft)
            try await store.delete("hidden-1", mode: .soft)
            await expectEveryCall(on: "soft-1", toFailWith: .streamNotFound, in: store)
            await expectError(.streamNotFound) { try await store.delete("soft-1", mode: .soft) }
            #expect(try await store.hasStream("soft-1") == false)
            #expect(try await store.streamNames(limit: 10) == ["soft-2"])
            #expect(try await store.categoryNames(limit: 10) == ["soft"], "a category of soft-deleted streams only is gone")
            #expect(try await globalOrder(of: "soft-1", in: store) == [])
            #expect(try await globalOrder(of: "soft-2", in: store) == [1])
            // An append expecting no stream starts it again; its positions go on after the last one.
            let again = try await store.append(kept(2), to: "soft-1", expectedVersion: .noStream)
            #expect(again.streamVersion == 5)
            #expect(try await positions(store.load("soft-1")) == [4, 5])
            #expect(try await positions(store.loadReverse("soft-1")) == [5, 4])
            #expect(try await positions(store.load("soft-1", from: 1, count: 1)) == [4])
            #expect(try await positions(store.loadReverse("soft-1", from: 3)) == [], "the earlier events stay hidden")
            #expect(try await store.streamMetadata(of: "soft-1") == [:], "started again as a new stream is")
            #expect(try await store.hasStream("soft-1"))
            #expect(try await store.streamNames(limit: 10) == ["soft-1", "soft-2"])
            #expect(try await globalOrder(of: "soft-1", in: store) == [4, 5])
            try await store.append(kept(1), to: "soft-1", expectedVersion: .exact(5))
            await expectError(.wrongExpectedVersion) { try await store.append(kept(1), to: "soft-1", expectedVersion: .noStream) }
            #expect(try await positions(store.load("soft-1")) == [4, 5, 6])
        },
        ConformanceCase("deletion", "createStartsASoftDeletedStreamAgainAndAScavengeRemovesItsEarlierEvents") { store in
            try await store.create("again-1", metadata: ["owner": "a"], events: kept(2))
            try await store.delete("again-1", mode: .soft)
            let created = try await store.create("again-1", metadata: ["owner": "b"], events: kept(1))
            #expect(created.streamVersion == 3)
            #expect(try await store.streamMetadata(of: "again-1") == ["owner": "b"])
            #expect(try await positions(store.load("again-1")) == [3])
            await expectError(.streamExists) { try await store.create("again-1", events: []) }
            // Retention set after the restart adds to what the soft delete hides.
            try await store.updateStreamMetadata([StreamRetention.truncateBeforeKey: .int(1)], of: "again-1")
            #expect(try await positions(store.load("again-1")) == [3])
            try await store.delete("again-1", mode: .soft)
            // The hidden events are a scavenge's to remove; the numbering stays.
            #expect(try await store.scavenging().scavenge() == ScavengeResult(streams: 1, events: 3))
            #expect(try await store.scavenging().scavenge() == ScavengeResult(), "nothing left to remove")
            #expect(try await store.append(kept(1), to: "again-1", expectedVersion: .noStream).streamVersion == 4)
            #expect(try await positions(store.load("again-1")) == [4])
            #expect(try await globalOrder(of: "again-1", in: store) == [4])
        },
        ConformanceCase("deletion", "hardDeleteLeavesATombstoneForGood") { store in
            try await store.create("tomb-1", metadata: ["owner": "a"], events: kept(3))
            try await store.create("tomb-2", events: kept(1))
            try await store.delete("tomb-1", mode: .hard)
            await expectEveryCall(on: "tomb-1", toFailWith: .streamDeleted, in: store)
            await expectError(.streamDeleted) { try await store.append(kept(1), to: "tomb-1", expectedVersion: .noStream) }
            await expectError(.streamDeleted) { try await store.create("tomb-1", events: kept(1)) }
            for mode in DeleteMode.allCases {
                await expectError(.streamDeleted) { try await store.delete("tomb-1", mode: mode) }
            }
            #expect(try await store.hasStream("tomb-1") == false)
            #expect(try await store.streamNames(limit: 10) == ["tomb-2"])
            #expect(try await globalOrder(of: "tomb-1", in: store) == [])
            #expect(try await store.scavenging().scavenge() == ScavengeResult(), "its events went with the delete")
            // A soft-deleted stream can be deleted for good, or purged, which frees the name.
            try await store.create("tomb-3", events: kept(2))
            try await store.delete("tomb-3", mode: .soft)
            try await store.delete("tomb-3", mode: .hard)
            await expectError(.streamDeleted) { try await store.append(kept(1), to: "tomb-3", expectedVersion: .noStream) }
            try await store.create("tomb-4", events: kept(2))
            try await store.delete("tomb-4", mode: .soft)
            try await store.delete("tomb-4", mode: .purge)
            #expect(try await store.create("tomb-4", events: kept(1)).streamVersion == 1, "a purged name starts at 1")
            await expectError(.streamNotFound) { try await store.delete("nothing-1", mode: .hard) }
        },
        ConformanceCase("deletion", "deletesInATransactionThatFailsAreUndone") { store in
            try await store.create("undo-1", events: kept(2))
            try await store.create("undo-2", events: kept(2))
            struct Undo: Error {}
            await #expect(throws: Undo.self) {
                try await store.transaction { tx in
                    try await tx.delete("undo-1", mode: .soft)
                    try await tx.delete("undo-2", mode: .hard)
                    await expectError(.streamDeleted) { try await tx.load("undo-2") }
                    #expect(try await tx.hasStream("undo-1") == false)
                    throw Undo()
                }
            }
            #expect(try await positions(store.load("undo-1")) == [1, 2])
            #expect(try await positions(store.load("undo-2")) == [1, 2])
            try await store.transaction { tx in
                try await tx.delete("undo-1", mode: .soft)
                try await tx.append(kept(1), to: "undo-1", expectedVersion: .noStream)
            }
            #expect(try await positions(store.load("undo-1")) == [3])
        },
    ]
}
