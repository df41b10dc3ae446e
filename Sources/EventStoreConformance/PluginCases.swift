import EventStore
import Foundation
import Synchronization
import Testing

/// Records what listeners saw, from any task.
final class Recorder: Sendable {
    private let entries = Mutex<[String]>([])
    func record(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.withLock { $0 } }
}

struct ListenerFailure: Error {}

/// Adds `key: value` to every event it reads.
struct TaggingUpcaster: SingleEventUpcaster {
    let key: String
    func canUpcast(_ event: RecordedEvent) -> Bool { true }
    func doUpcast(_ event: RecordedEvent) throws -> [EventMessage] {
        [event.message.withAddedMetadata(key, .string(key))]
    }
}

extension EventStoreConformance {
    static let pluginCases: [ConformanceCase] = [
        ConformanceCase("action events", "aLoadStoppedWithoutEventsIsStreamNotFound") { inner in
            let store = ActionEventEmitterEventStore(inner)
            try await store.create(userStream, events: [userEvent(1)])
            store.attach(.load, priority: 1000) { $0.stopPropagation() }
            store.attach(.loadReverse, priority: 1000) { $0.stopPropagation() }
            await expectError(.streamNotFound) { try await store.load(userStream) }
            await expectError(.streamNotFound) { try await store.loadReverse(userStream) }
        },
        ConformanceCase("action events", "aLoadStoppedWithEventsReturnsThem") { inner in
            let store = ActionEventEmitterEventStore(inner)
            try await store.create(userStream, events: [userEvent(1)])
            let own = RecordedEvent(
                streamName: userStream, position: 1, globalPosition: GlobalPosition(sequence: 99), message: userEvent(1))
            let handle = store.attach(.load, priority: 1000) { event in
                event.result = .success(.of([own]))
                event.stopPropagation()
            }
            let loaded = try await store.all(userStream)
            #expect(loaded.map(\.uuid) == [own.uuid])
            store.detach(handle)
            store.attach(.load, priority: 1000) { event in
                event.result = .success(.empty)
                event.stopPropagation()
            }
            #expect(try await store.all(userStream).isEmpty)
        },
        ConformanceCase("action events", "anAppendStoppedBeforeTheStoreWritesNothing") { inner in
            let store = ActionEventEmitterEventStore(inner)
            try await store.create(userStream, events: [userEvent(1)])
            store.attach(.append, priority: 1000) { $0.stopPropagation() }
            let result = try await store.append([userEvent(2)], to: userStream)
            #expect(result.lastGlobalPosition == nil)
            #expect(try await inner.all(userStream).count == 1)
        },
        ConformanceCase("action events", "theStoresConflictSurfacesUnchanged") { inner in
            let store = ActionEventEmitterEventStore(inner)
            let seen = Recorder()
            store.attach(.append, priority: -10) { event in
                if let error = event.error as? EventStoreError { seen.record("\(error.code)") }
            }
            try await store.create(userStream, events: [userEvent(1)])
            let error = await expectError(.wrongExpectedVersion) {
                try await store.append([userEvent(2)], to: userStream, expectedVersion: .exact(0))
            }
            #expect(error?.actualVersion == 1)
            #expect(seen.all == ["wrong expected version"])
        },
        ConformanceCase("action events", "stoppedStreamMetadataIsStreamNotFoundAndStoppedListingsAreEmpty") { inner in
            let store = ActionEventEmitterEventStore(inner)
            try await store.create(userStream, metadata: ["foo": "bar"], events: [])
            for action in [Action<StreamInput, Metadata>.streamMetadata] {
                store.attach(action, priority: 1) { $0.stopPropagation() }
            }
            store.attach(.hasStream, priority: 1) { $0.stopPropagation() }
            store.attach(.streamNames, priority: 1) { $0.stopPropagation() }
            store.attach(.categoryNamesRegex, priority: 1) { $0.stopPropagation() }
            await expectError(.streamNotFound) { try await store.streamMetadata(of: userStream) }
            #expect(try await store.hasStream(userStream) == false)
            #expect(try await store.streamNames().isEmpty)
            #expect(try await store.categoryNames(.regex(".")).isEmpty)
            #expect(try await inner.streamMetadata(of: userStream) == ["foo": "bar"])
        },
        ConformanceCase("action events", "listenersRunByPriorityThenAttachOrderAroundTheStore") { inner in
            let store = ActionEventEmitterEventStore(inner)
            let order = Recorder()
            for (name, priority) in [("low", -5), ("zero", 0), ("high", 10), ("high2", 10), ("mid", 1)] {
                store.attach(.hasStream, priority: priority) { event in
                    order.record("\(name):\(event.result.map { (try? $0.get()) == true ? "after" : "after-false" } ?? "before")")
                }
            }
            try await store.create(userStream)
            #expect(try await store.hasStream(userStream))
            #expect(order.all == ["high:before", "high2:before", "mid:before", "zero:after", "low:after"])
        },
        ConformanceCase("action events", "listenersCanReplaceInputsAndResults") { inner in
            let store = ActionEventEmitterEventStore(inner)
            try await store.create("real-1", events: [userEvent(1)])
            store.attach(.hasStream, priority: 5) { event in event.input.stream = "real-1" }
            #expect(try await store.hasStream("alias-1"))
            store.attach(.streamNames, priority: -1) { event in
                event.result = .success((try event.result?.get() ?? []) + ["extra-1"])
            }
            #expect(try await store.streamNames() == ["real-1", "extra-1"])
        },
        ConformanceCase("action events", "aListenerErrorEndsTheOperation") { inner in
            let store = ActionEventEmitterEventStore(inner)
            try await store.create(userStream, events: [userEvent(1)])
            let handle = store.attach(.append, priority: 10) { _ in throw ListenerFailure() }
            await #expect(throws: ListenerFailure.self) { try await store.append([userEvent(2)], to: userStream) }
            #expect(try await inner.all(userStream).count == 1)
            store.detach(handle)
            store.attach(.load, priority: -10) { _ in throw ListenerFailure() }
            await #expect(throws: ListenerFailure.self) { try await store.load(userStream) }
        },
        ConformanceCase("action events", "detachingReallyDetaches") { inner in
            let store = ActionEventEmitterEventStore(inner)
            let calls = Recorder()
            let handle = store.attach(.hasStream) { _ in calls.record("called") }
            _ = try await store.hasStream(userStream)
            #expect(store.detach(handle))
            #expect(store.detach(handle) == false)
            _ = try await store.hasStream(userStream)
            #expect(calls.all == ["called"])
        },
        ConformanceCase("action events", "transactionsGoThroughListenersAndNotify") { inner in
            let store = ActionEventEmitterEventStore(inner)
            let seen = Recorder()
            for action in [Action<NoValue, NoValue>.beginTransaction, .commit, .rollback] {
                store.attach(action, priority: 1) { seen.record("\($0.action.rawValue):before") }
                store.attach(action, priority: -1) { seen.record("\($0.action.rawValue):after") }
            }
            store.attach(.create, priority: 1) { seen.record("create \($0.input.stream)") }
            try await store.transaction { tx in try await tx.create("tx-1") }
            #expect(seen.all == ["beginTransaction:before", "beginTransaction:after", "create tx-1", "commit:before", "commit:after"])
            #expect(try await inner.hasStream("tx-1"))
        },
        ConformanceCase("action events", "aCommitListenerThatThrowsRollsBack") { inner in
            let store = ActionEventEmitterEventStore(inner)
            let seen = Recorder()
            store.attach(.commit, priority: 1) { _ in throw ListenerFailure() }
            store.attach(.rollback, priority: -1) { seen.record("rolled back: \($0.error is ListenerFailure)") }
            await #expect(throws: ListenerFailure.self) {
                try await store.transaction { tx in try await tx.create("tx-2") }
            }
            let committed = try await inner.hasStream("tx-2")
            #expect(committed == false)
            #expect(seen.all == ["rolled back: true"])
            await expectError(.nestedTransaction) {
                try await store.transaction { tx in try await tx.transaction { _ in } }
            }
        },
        ConformanceCase("metadata enrichers", "enrichersAddMetadataOnCreateAndAppendInOrder") { inner in
            let store = ActionEventEmitterEventStore(inner)
            let plugin = store.attach(
                MetadataEnricherPlugin([
                    ClosureMetadataEnricher { $0.withAddedMetadata("tenant", "acme") },
                    ClosureMetadataEnricher { message in
                        message.withAddedMetadata("_causation_id", .string("cmd-1"))
                            .withAddedMetadata("seen_tenant", message.metadata["tenant"] ?? false)
                    },
                ]))
            try await store.create(userStream, events: [userEvent(1)])
            try await store.append([userEvent(2)], to: userStream)
            try await store.transaction { tx in try await tx.append([userEvent(3)], to: userStream) }
            let events = try await inner.all(userStream)
            #expect(events.allSatisfy { $0.metadata["tenant"] == "acme" && $0.metadata["_causation_id"] == "cmd-1" })
            #expect(events.allSatisfy { $0.metadata["seen_tenant"] == "acme" })
            #expect(store.detach(plugin))
            try await store.append([userEvent(4)], to: userStream)
            #expect(try await inner.all(userStream).last?.metadata["tenant"] == nil)
        },
        ConformanceCase("upcasting", "upcastersApplyOnLoadAndLoadReverseKeepingPositions") { inner in
            let store = ActionEventEmitterEventStore(inner)
            try await store.create(userStream, events: userEvents(1...3))
            let plugin = store.attach(UpcastingPlugin(TaggingUpcaster(key: "upcasted")))
            let forward = try await store.all(userStream)
            #expect(forward.map { $0.metadata["upcasted"] } == ["upcasted", "upcasted", "upcasted"])
            #expect(positions(forward) == [1, 2, 3])
            let backward = try await store.allReverse(userStream, count: 2)
            #expect(positions(backward) == [3, 2])
            #expect(backward.allSatisfy { $0.metadata["upcasted"] == "upcasted" })
            await expectError(.streamNotFound) { try await store.load("missing-1") }
            store.detach(plugin)
            #expect(try await store.all(userStream).allSatisfy { $0.metadata["upcasted"] == nil })
        },
        ConformanceCase("upcasting", "anUpcasterSplitsOneEventAndDropsAnother", settings: StoreSettings(readBatchSize: 2)) { inner in
            let store = ActionEventEmitterEventStore(inner)
            try await store.create(
                "split-1",
                events: ["Keep", "Split", "Drop", "Keep"].map { EventMessage(messageName: $0, payload: ["v": 1]) })
            store.attach(
                UpcastingPlugin(
                    ClosureUpcaster { event in
                        switch event.messageName {
                        case "Split":
                            return [
                                EventMessage(messageName: "SplitA", metadata: event.metadata),
                                EventMessage(messageName: "SplitB", metadata: event.metadata),
                            ]
                        case "Drop": return []
                        default: return [event.message]
                        }
                    }))
            let events = try await store.all("split-1")
            #expect(events.map(\.messageName) == ["Keep", "SplitA", "SplitB", "Keep"])
            #expect(positions(events) == [1, 2, 2, 4])
            #expect(events[1].metadata["_position"] == 2)
            // count counts stored events: two stored events, one of which splits.
            #expect(try await store.all("split-1", count: 2).map(\.messageName) == ["Keep", "SplitA", "SplitB"])
        },
        ConformanceCase("upcasting", "upcasterChainsPipeEveryOutputAndAnEmptyChainPassesThrough") { _ in
            let event = RecordedEvent(
                streamName: "chain-1", position: 7, globalPosition: GlobalPosition(sequence: 7), message: EventMessage(messageName: "A"))
            let double = ClosureUpcaster { [$0.message, $0.message.withAddedMetadata("copy", true)] }
            let chain = UpcasterChain([TaggingUpcaster(key: "one"), double, TaggingUpcaster(key: "two")])
            let out = try chain.upcast(event)
            #expect(out.count == 2)
            #expect(out.allSatisfy { $0.metadata["one"] == "one" && $0.metadata["two"] == "two" })
            #expect(out[1].metadata["copy"] == true)
            #expect(try UpcasterChain([]).upcast(event) == [event.message])
            let dropFirst = ClosureUpcaster { $0.metadata["copy"] == nil ? [] : [$0.message] }
            #expect(try UpcasterChain([double, dropFirst]).upcast(event).count == 1)
            #expect(TaggingUpcaster(key: "x").canUpcast(event))
        },
        ConformanceCase("read-only", "theReadOnlyWrapperDelegatesEveryRead") { inner in
            try await inner.create("user-1", metadata: ["a": 1], events: userEvents(1...3))
            let store: any ReadOnlyEventStore = ReadOnlyEventStoreWrapper(inner)
            #expect(try await store.hasStream("user-1"))
            #expect(try await store.streamMetadata(of: "user-1") == ["a": 1])
            #expect(positions(try await store.load("user-1", from: 2).collect()) == [2, 3])
            #expect(positions(try await store.loadReverse("user-1", count: 1).collect()) == [3])
            #expect(try await store.streamNames() == ["user-1"])
            #expect(try await store.categoryNames() == ["user"])
            #expect((store as? any EventStore) == nil)
        },
    ]
}
