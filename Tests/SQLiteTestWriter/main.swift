// A writer for the SQLite process tests, not a product: test hooks never ship in the `eventstore` command.
//
//     sqlite-test-writer PATH STREAM COUNT NAME PAUSE_MS
//
// Appends COUNT events named NAME to STREAM (created when missing) of the SQLite file PATH in one batch, and after writing their
// rows, before the commit, says "paused before commit" on standard error and waits PAUSE_MS: so that a test
// can make another process wait for the write lock at that moment, or kill this one there.
//
//     sqlite-test-writer memory load|subscribe PATH COUNT
//
// The memory checks (SQLiteMemoryTests), in a process of their own, where no other test allocates: exits 1
// with what failed on standard error.
import EventStore
import EventStoreSQLite
import Foundation

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "memory" {
    guard arguments.count == 4, let count = Int(arguments[3]) else {
        FileHandle.standardError.write(Data("usage: sqlite-test-writer memory load|subscribe PATH COUNT\n".utf8))
        exit(2)
    }
    do {
        switch arguments[1] {
        case "load": try await MemoryChecks.loadALongStream(path: arguments[2], count: count)
        case "subscribe": try await MemoryChecks.consumeAfterSleeping(path: arguments[2], count: count)
        default: MemoryChecks.fail("unknown memory check \(arguments[1])")
        }
    } catch {
        MemoryChecks.fail("\(error)")
    }
    exit(0)
}
guard arguments.count == 5, let count = Int(arguments[2]), let pause = UInt32(arguments[4]) else {
    FileHandle.standardError.write(Data("usage: sqlite-test-writer PATH STREAM COUNT NAME PAUSE_MS\n".utf8))
    exit(2)
}
var configuration = SQLiteConfiguration(path: arguments[0])
configuration._beforeCommit = {
    FileHandle.standardError.write(Data("sqlite-test-writer: paused before commit\n".utf8))
    usleep(pause * 1000)
}
do {
    let store = try await SQLiteEventStore(configuration: configuration)
    let stream = try StreamName(arguments[1])
    let events = (0..<count).map { _ in EventMessage(messageName: arguments[3]) }
    if try await store.hasStream(stream) {
        try await store.append(events, to: stream, expectedVersion: .any)
    } else {
        try await store.create(stream, events: events)
    }
} catch {
    FileHandle.standardError.write(Data("sqlite-test-writer: \(error)\n".utf8))
    exit(1)
}
