@_spi(Backend) import EventStore
import EventStoreTestSupport
import Foundation
import Testing

/// Issue 25: projections of a partitioned store.
@Suite("Partitioned projections", .watchdog())
struct PartitionProjectionTests {
    /// An emitting projection over every member keeps its row on its home member with a composite
    /// position; run again after a bucket moved and more was written, it handles each event once (none of
    /// the copies) and its emitted events land where their stream lives. A move of the bucket its name
    /// hashes to changes no projection's home. (Members are never removed, and a later member gets buckets
    /// only by moves, so the first owner of every bucket, and so every home, stays.)
    @Test(arguments: MemberKind.allCases)
    func aProjectionKeepsItsRowOnItsHomeAndHandlesEachEventOnceAcrossAMove(_ kind: MemberKind) async throws {
        if !kind.shouldRun { return }
        try await PartitionTests.withStreamOnEachMember(kind, events: 3) { store, streams in
            let manager = ProjectionManager(store: store)
            let handled = Shared(0)
            // Pages of two events: the runner reads on from each page's end, across the move below.
            var options = ProjectionOptions()
            options.readBatchSize = 2
            func run() async throws {
                try await manager.createProjection("counts", options: options).initialState([String: Int]())
                    .fromCategory("s")
                    .whenAny { counts, event, context in
                        handled.withLock { $0 += 1 }
                        var counts = counts
                        counts[event.streamName.rawValue, default: 0] += 1
                        try await context.linkTo(try StreamName("tally-\(event.streamName.rawValue.dropFirst(2))"), event.message)
                        return counts
                    }
                    .run(keepRunning: false)
            }
            let written = try await store.headPosition()
            try await run()
            let home = store.members[store.placement.firstOwner(of: PartitionKey.bucket(of: "counts", count: 64))]
            let row = try #require(try await home.store.projectionRecord(named: "counts"), "the row is on its home member")
            guard case let .composite(position)? = row.position else {
                Issue.record("the row keeps a composite position, not \(String(describing: row.position))")
                return
            }
            #expect(position.isAtOrAfter(written), "\(position) is past every event written before the run (\(written))")
            for member in store.members where member.name != home.name {
                #expect(try await member.store.projectionRecord(named: "counts") == nil, "no row on \(member.name)")
            }
            #expect(try await store.projectionNames(.all, limit: 10, offset: 0) == ["counts"])

            #expect(handled.withLock { $0 } == 9)
            // A stream's bucket moves, and so does the bucket the projection's name hashes to: its row stays on
            // its home (the bucket's first owner), where the next run finds it and resumes.
            let moved = store.location(of: streams[0]).bucket
            _ = try await store.move(bucket: moved, to: "c")
            let homeBucket = PartitionKey.bucket(of: "counts", count: 64)
            if homeBucket != moved {
                _ = try await store.move(bucket: homeBucket, to: home.name == "b" ? "c" : "b")
            }
            #expect(store.home(of: "counts").name == home.name, "a move changes no home")
            try await store.append(PartitionMoveTests.events(2), to: streams[0], expectedVersion: .exact(3))
            try await store.append(PartitionMoveTests.events(1), to: streams[1], expectedVersion: .exact(3))
            try await run()
            #expect(handled.withLock { $0 } == 12, "the second run handled the three new events only")
            let state = try #require(try await manager.record("counts").state)
            let counts = try JSONDecoder().decode([String: Int].self, from: Data(state.utf8))
            #expect(counts == Dictionary(uniqueKeysWithValues: zip(streams.map(\.rawValue), [5, 4, 3])), "each event once, no copy")
            for (stream, count) in zip(streams, [5, 4, 3]) {
                let tally = try StreamName("tally-\(stream.rawValue.dropFirst(2))")
                #expect(try await store.load(tally).collect().count == count, "every event linked once to \(tally)")
            }
        }
    }

    /// The text of a projection's position reads back as what it was; positions of different kinds never
    /// compare; a row a partitioned store wrote is refused, clearly, by a runner on one of its members alone.
    @Test func positionsKeepTheirKindAndARowOfAnotherKindOfStoreIsRefused() async throws {
        let global = ProjectionPosition.global(GlobalPosition(commit: 7, sequence: 42))
        let composite = ProjectionPosition.composite(try #require(CompositePosition("a=5,b=7:3")))
        for position in [global, composite, .global(GlobalPosition(sequence: 3)), .global(.start), .composite(.start)] {
            #expect(ProjectionPosition(position.description) == position)
            let stored = try JSONEncoder().encode([position])
            #expect(try JSONDecoder().decode([ProjectionPosition].self, from: stored) == [position], "\(position) as JSON")
        }
        // A global position stored before positions could be composite (a number, or its text) reads back.
        #expect(try JSONDecoder().decode([ProjectionPosition].self, from: Data(#"[42,"7:42"]"#.utf8)) == [
            .global(GlobalPosition(sequence: 42)), global,
        ])
        #expect(ProjectionPosition("a=x") == nil && ProjectionPosition("x") == nil && ProjectionPosition(",") == nil)
        #expect(!global.isAtOrAfter(composite) && !composite.isAtOrAfter(global))
        let later = ProjectionPosition.composite(try #require(CompositePosition("a=6,b=7:3")))
        #expect(later.isAtOrAfter(composite) && !composite.isAtOrAfter(later))
        #expect(!later.isPast(composite), "b did not move")
        #expect(ProjectionPosition.composite(try #require(CompositePosition("a=6,b=7:4"))).isPast(composite))
        let other = ProjectionPosition.composite(try #require(CompositePosition("a=4,b=8:1")))
        #expect(composite.joined(with: other) == .composite(try #require(CompositePosition("a=5,b=8:1"))))

        try await PartitionTests.withStore(.sqlite) { store in
            try await store.create(try PartitionTests.stream(on: "a", of: store), events: PartitionMoveTests.events(2))
            try await ProjectionManager(store: store).createProjection("mixed").initialState(0).fromAll()
                .whenAny { n, _, _ in n + 1 }.run(keepRunning: false)
            // Through the action-event decorator, a projection reads the merged order as well.
            let decorated = ActionEventEmitterEventStore(store)
            try await ProjectionManager(store: decorated).createProjection("decorated").initialState(0).fromAll()
                .whenAny { n, _, _ in n + 1 }.run(keepRunning: false)
            #expect(try await ProjectionManager(store: store).state(of: "decorated") == 2)
            let home = store.home(of: "mixed").store
            await #expect {
                try await ProjectionManager(store: home).createProjection("mixed").initialState(0).fromAll()
                    .whenAny { n, _, _ in n + 1 }.run(keepRunning: false)
            } throws: { error in
                (error as? EventStoreError)?.code == .corrupt
            }
        }
    }
}
