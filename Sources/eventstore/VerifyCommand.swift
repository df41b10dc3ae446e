import ArgumentParser
import EventStore
import EventStoreSQL
import Foundation

/// `eventstore verify`: what an older build may have left broken, found by reading everything once.
struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that every stored stream and event reads back; print what does not (exit status 1 when anything).",
        discussion: "See \"What the store promises\" in the EventStore documentation for what to do about each finding.")

    @Option(help: "Events per read.") var readBatchSize = 1000
    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await reportingFailures {
            guard readBatchSize >= 1 else { throw CommandFailure.badInput("--read-batch-size must be 1 or more") }
            let batch = readBatchSize
            let findings = try await options.withStore { store in
                // A partitioned store is checked member by member: each is a whole store, whose SQL-only checks
                // run too, and each finding names its member.
                guard let partitioned = store as? PartitionedEventStore else {
                    return try await IntegrityScan(store: store, readBatchSize: batch).run()
                }
                var findings: [String] = []
                for member in partitioned.members {
                    findings += try await IntegrityScan(store: member.store, readBatchSize: batch).run().map { "\(member.name): \($0)" }
                }
                return findings
            }
            for finding in findings { emit(finding) }
            if !findings.isEmpty {
                throw CommandFailure(message: "verify found \(findings.count) problem(s)", exitCode: 1)
            }
            emit("ok: every stream and event reads back")
        }
    }
}

/// `eventstore scavenge`: removes the events past their stream's retention now.
struct Scavenge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove for good the events past their stream's retention ($maxAge, $maxCount, $tb); print what was removed as JSON.",
        discussion: """
            Reads already do not show those events. Writers go on meanwhile: each stream's events go in batches of \
            1000, a transaction each. The space is reused by later writes; to return it to the operating system, \
            run VACUUM (SQLite, PostgreSQL) or OPTIMIZE TABLE (MariaDB) yourself.
            """)

    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await reportingFailures {
            let result = try await options.withStore { store in
                guard let scavenging = store as? any ScavengingEventStore else { throw CommandFailure.badInput("this store does not scavenge") }
                return try await scavenging.scavenge()
            }
            emit("{\"streams\":\(result.streams),\"events\":\(result.events)}")
        }
    }
}

/// Reads every stream name and every event of a store, and asks a SQL store what only SQL sees.
struct IntegrityScan {
    let store: any EventStore
    let readBatchSize: Int

    /// One line per problem: `unreadable-name`, `unreadable-event`, `orphan-events`, `wrong-version`.
    func run() async throws -> [String] {
        var findings: [String] = []
        var streams: [StreamName] = []
        var offset = 0
        while true {
            do {
                let page = try await store.streamNames(.all, matching: nil, limit: readBatchSize, offset: offset)
                streams += page
                if page.count < readBatchSize { break }
                offset += page.count
            } catch let error as EventStoreError where error.code == .corrupt {
                // One at a time through this page, to name what does not read.
                for index in offset..<(offset + readBatchSize) {
                    do {
                        let one = try await store.streamNames(.all, matching: nil, limit: 1, offset: index)
                        guard let name = one.first else { break }
                        streams.append(name)
                    } catch let error as EventStoreError where error.code == .corrupt {
                        findings.append("unreadable-name: stream number \(index + 1) in name order: \(error.reason)")
                    }
                }
                offset += readBatchSize
            }
        }
        for stream in streams { findings += try await scan(stream) }
        if let sql = store as? SQLEventStore {
            let orphans = try await sql.orphanEventCount()
            if orphans > 0 { findings.append("orphan-events: \(orphans) event(s) belong to no stream") }
            for name in try await sql.streamsWithWrongVersions() {
                findings.append("wrong-version: stream \"\(name)\" holds events past its version, or fewer than its version less those a scavenge removed")
            }
        }
        return findings
    }

    /// The events of `stream` that do not read back, by position.
    private func scan(_ stream: StreamName) async throws -> [String] {
        var findings: [String] = []
        var position = 1
        while true {
            do {
                let page = try await store.load(stream, from: position, count: readBatchSize, matching: nil).collect()
                guard let last = page.last else { break }
                position = last.position + 1
                if page.count < readBatchSize { break }
            } catch let error as EventStoreError where error.code == .corrupt {
                var version = position + readBatchSize - 1
                if let head = try? await store.loadReverse(stream, from: nil, count: 1, matching: nil).collect().first {
                    version = min(version, head.position)
                }
                for candidate in position...max(position, version) {
                    do {
                        _ = try await store.load(stream, from: candidate, count: 1, matching: nil).collect()
                    } catch let error as EventStoreError where error.code == .corrupt {
                        findings.append("unreadable-event: \"\(stream)\" at position \(candidate): \(error.reason)")
                    }
                }
                position = max(position, version) + 1
            } catch let error as EventStoreError where error.code == .streamNotFound {
                break
            }
        }
        return findings
    }
}
