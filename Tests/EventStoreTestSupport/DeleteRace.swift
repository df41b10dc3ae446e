import EventStore
import Testing

/// The races of a delete and an append of one stream, written once for the SQL servers: an append is held
/// inside its insert by a trigger that sleeps, and the stream is deleted meanwhile.
public struct DeleteRace: Sendable {
    public let shell: SQLShell
    /// Installs the trigger that makes the store's event inserts sleep 5 s (long enough for the test's next step
    /// on a loaded machine: with 2 s, a full run once finished the append before its delete came).
    public let slowInserts: String
    /// Prints how many sessions sleep in that trigger.
    public let sleepingInserts: String
    /// Prints how many events have no stream.
    public let orphans: String
    /// Prints how many events there are.
    public let events: String
    /// Deletes the row of the named stream without the store (and its lock).
    public let deleteStreamRow: @Sendable (String) -> String

    public init(
        shell: SQLShell, slowInserts: String, sleepingInserts: String, orphans: String, events: String,
        deleteStreamRow: @escaping @Sendable (String) -> String
    ) {
        (self.shell, self.slowInserts, self.sleepingInserts, self.orphans, self.events) = (shell, slowInserts, sleepingInserts, orphans, events)
        self.deleteStreamRow = deleteStreamRow
    }

    /// Appends one event to `stream` in a task and returns it once the append sleeps inside its insert.
    private func sleepingAppend(_ store: any EventStore, to stream: StreamName) async throws -> Task<AppendResult, any Error> {
        try await store.create(stream)
        try await shell.run(slowInserts)
        let append = Task { try await store.append([EventMessage(messageName: "A")], to: stream, expectedVersion: .any) }
        try await shell.waitFor(sleepingInserts, toPrint: "1")
        Watchdog.step("the append sleeps inside its insert")
        return append
    }

    /// The store's delete waits for the append's lock: the append commits, the delete then removes its events
    /// with the stream, and no event is left without its stream (before the fix the delete took no lock and
    /// the acknowledged event was orphaned, invisible for good).
    public func deleteWaitsForTheAppend(_ store: any EventStore, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let append = try await sleepingAppend(store, to: "race-1")
        try await store.delete("race-1")
        #expect(try await append.value.streamVersion == 1, sourceLocation: sourceLocation)
        #expect(try await shell.run(orphans) == "0", sourceLocation: sourceLocation)
        #expect(try await store.hasStream("race-1") == false, sourceLocation: sourceLocation)
    }

    /// A stream row deleted behind the store's back while an append is inside its insert fails the append,
    /// and nothing of it stays: the append checks, in its transaction, that it set its stream's version.
    public func appendFailsWhenItsStreamRowVanishes(_ store: any EventStore, sourceLocation: SourceLocation = #_sourceLocation)
        async throws
    {
        let append = try await sleepingAppend(store, to: "race-2")
        try await shell.run(deleteStreamRow("race-2"))
        let error = await #expect(throws: EventStoreError.self, sourceLocation: sourceLocation) { try await append.value }
        #expect(error?.code == .streamNotFound, "\(String(describing: error))", sourceLocation: sourceLocation)
        #expect(try await shell.run(orphans) == "0", sourceLocation: sourceLocation)
        #expect(try await shell.run(events) == "0", sourceLocation: sourceLocation)
    }
}
