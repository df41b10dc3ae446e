import AsyncHTTPClient
@_spi(Backend) import EventStore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// Settings of an ``EventStoreClient``.
public struct EventStoreClientConfiguration: Sendable {
    /// The bearer token `eventstore serve` was given (`--token`), `nil` for a server that asks for none.
    public var token: String?
    /// How long one request may take, from its send to the last byte of its answer (30 s by default).
    public var requestTimeout: Duration = .seconds(30)
    /// How long opening a connection may take (5 s by default).
    public var connectTimeout: Duration = .seconds(5)
    /// How many times a request is tried again after a connection failed, its deadline passed or the
    /// server answered 503 (3 by default), pausing ``retryDelay`` and then twice as long each time. Reads
    /// and appends are always tried again (an append carries its events' uuids, so the store keeps it once);
    /// a create, a delete and a transaction only when their first try never reached the server.
    public var retries: Int = 3
    /// The first pause between tries (100 ms by default).
    public var retryDelay: Duration = .milliseconds(100)
    /// The most connections open to the server at once (8 by default).
    public var maximumConnections: Int = 8
    /// The largest answer read, in bytes (64 MiB by default).
    public var maximumResponseSize: Int = 64 * 1024 * 1024
    /// How many events a load or a subscription asks for at a time (100 by default).
    public var readBatchSize: Int = 100
    /// How many names a listing asks for at a time: the server's `maxListingLimit` (1,000 by default).
    public var listingPageSize: Int = 1000
    /// How long a live subscription waits for a wake-up before it reads again (250 ms by default): this
    /// client's own writes wake its subscriptions at once, other writers' within this interval.
    public var pollInterval: Duration = .milliseconds(250)
    /// TLS for `https` URLs: the roots to trust, a client certificate (NIOSSL); `nil`: the system's defaults.
    public var tls: TLSConfiguration?
    /// Where the client logs (tries that failed and were tried again, at debug level).
    public var logger = Logger(label: "eventstore.client")
    /// Where each operation's timing, failures and span go, as a local store's do, with `backend` `http`;
    /// a request made in a span carries its `traceparent`, so the server's spans join the caller's trace.
    public var telemetry = EventStoreTelemetry()

    /// Settings with every default and the server's bearer token.
    /// - Parameter token: the token `eventstore serve` was given (`--token`); `nil` (the default) for a server
    ///   that asks for none.
    public init(token: String? = nil) { self.token = token }
}

/// A store served by `eventstore serve`, reached over HTTP: the same protocols as a local store
/// (`EventStore`, `GlobalOrderEventStore` with subscriptions, `SnapshotStore` and
/// `ScavengingEventStore`), the same `EventStoreError` codes, proved by the same conformance suite.
///
/// ```swift
/// let store = try EventStoreClient(url: "https://events.example.com", configuration: .init(token: token))
/// defer { Task { try await store.shutdown() } }
/// try await store.append([EventMessage(messageName: "Registered")], to: "user-1", expectedVersion: .noStream)
/// ```
///
/// Connections are pooled and every request has a deadline. An append is tried again after a failure whose
/// outcome is unknown: each event carries its uuid from the first try, so the store keeps it once.
///
/// A transaction (``transaction(_:)``) is one request, `POST /append`: its writes are held in the client
/// and sent together when its body returns, all or none. So its body reads only before it writes (a read
/// after a write fails with `invalidArgument`), no lock is held while it runs, and a write inside it returns
/// the version it will give where its expectation tells (an exact version, a create), -1 where it cannot.
///
/// Call ``shutdown()`` once done: it closes the connections.
public final class EventStoreClient: GlobalOrderEventStore, SnapshotStore, ScavengingEventStore, Sendable {
    let transport: ClientTransport
    let configuration: EventStoreClientConfiguration
    package let instruments: StoreInstruments
    @_spi(Backend) public let appendNotifier = AppendNotifier()

    /// A client of the server at `url` (`http://127.0.0.1:8080`, `https://events.example.com`).
    /// - Throws: `invalidArgument` when the URL is not an `http` or `https` URL with a host.
    public init(url: String, configuration: EventStoreClientConfiguration = EventStoreClientConfiguration()) throws {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), scheme == "http" || scheme == "https",
            parsed.host != nil
        else {
            throw EventStoreError.invalidArgument("the server's URL is http:// or https:// with a host, not \(url)")
        }
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        self.configuration = configuration
        instruments = StoreInstruments(backend: "http", logger: configuration.logger, telemetry: configuration.telemetry)
        transport = ClientTransport(base: base, configuration: configuration, instruments: instruments)
    }

    /// Closes the client's connections; requests after it fail.
    public func shutdown() async throws { try await transport.shutdown() }

    /// Where the client logs, and subscriptions and consumers on it log by default:
    /// ``EventStoreClientConfiguration/logger``.
    public var logger: Logger { instruments.logger }
    @_spi(Backend) public var pollInterval: Duration { configuration.pollInterval }

    // MARK: Writing

    /// Creates a stream with its metadata and, optionally, its first events (positions 1, 2, …), with
    /// `POST /append`.
    ///
    /// Tried again only when its first try never reached the server: a second create could fail with
    /// `streamExists` because the first one did its work.
    /// - Parameters:
    ///   - stream: the name of the new stream.
    ///   - metadata: the stream's metadata.
    ///   - events: the stream's first events; none for an empty stream.
    /// - Returns: the stream's version and the global position of its last event.
    /// - Throws: `streamExists` when a stream of that name exists; `invalidArgument` for an event that cannot
    ///   be stored; `duplicateEvent` when two of the events share a uuid or aggregate version;
    ///   `nestedTransaction` inside one of this client's transactions; `backend` when the server could not be
    ///   reached, saying when the outcome is unknown.
    @discardableResult
    public func create(_ stream: StreamName, metadata: Metadata, events: [EventMessage]) async throws -> AppendResult {
        try ClientTransaction.refuseInside(self)
        return try await instruments.measure(.create, stream: stream, events: events.count) {
            let events = instruments.withTraceParent(events)
            return try await write([.init(stream: stream, operation: .create(metadata: metadata, events: events))])[0]!
        }
    }

    /// Appends events to a stream, all or none of them, with `POST /append`.
    ///
    /// Tried again after any transient failure: each event carries its uuid from the first try, so the store
    /// keeps it once and a second try gets the first one's result.
    /// - Parameters:
    ///   - events: the events, in order; none to only check the stream and the expected version.
    ///   - stream: the stream to append to.
    ///   - expectedVersion: what the stream's version must be; `.noStream` creates the stream.
    /// - Returns: the stream's version and the global position of the last event written.
    /// - Throws: `streamNotFound` when the stream does not exist (unless `expectedVersion` is `.noStream`);
    ///   `wrongExpectedVersion` when the stream is not as expected; `duplicateEvent` when an event's uuid or
    ///   aggregate version is already in the stream or twice in the list; `invalidArgument` for an event that
    ///   cannot be stored; `nestedTransaction` inside one of this client's transactions; `backend` when the
    ///   server could not be reached.
    @discardableResult
    public func append(_ events: [EventMessage], to stream: StreamName, expectedVersion: ExpectedVersion) async throws
        -> AppendResult
    {
        try ClientTransaction.refuseInside(self)
        return try await instruments.measure(.append, stream: stream, events: events.count) {
            let events = instruments.withTraceParent(events)
            return try await write([.init(stream: stream, operation: .append(events, expectedVersion: expectedVersion))])[0]!
        }
    }

    /// Deletes a stream as `mode` says, with `POST /delete/{name}?mode=…`; tried again only when its first try
    /// never reached the server.
    /// - Parameters:
    ///   - stream: the stream to delete.
    ///   - mode: how: `purge`, a soft delete or a delete for good.
    /// - Throws: `streamNotFound` when the stream does not exist (or, for a soft delete, was soft-deleted);
    ///   `streamDeleted` when it was deleted for good; `nestedTransaction` inside one of this client's
    ///   transactions; `backend` when the server could not be reached.
    public func delete(_ stream: StreamName, mode: DeleteMode) async throws {
        try ClientTransaction.refuseInside(self)
        try await instruments.measure(.delete, stream: stream) {
            _ = try await shielded {
                try await self.transport.send(
                    .POST, "/delete/\(ClientTransport.encoded(stream.rawValue))", query: [("mode", mode.rawValue)], kind: .write)
            }
        }
        appendNotifier.signal()
    }

    /// Replaces the stream's metadata, with `POST /streammetadata/{name}`; tried again after any transient
    /// failure (the same metadata sent twice replaces it once).
    /// - Parameters:
    ///   - metadata: the new metadata, replacing all of the old.
    ///   - stream: the stream whose metadata changes.
    /// - Throws: `streamNotFound` when the stream does not exist; `nestedTransaction` inside one of this
    ///   client's transactions; `backend` when the server could not be reached.
    public func updateStreamMetadata(_ metadata: Metadata, of stream: StreamName) async throws {
        try ClientTransaction.refuseInside(self)
        try await instruments.measure(.updateStreamMetadata, stream: stream) {
            _ = try await shielded {
                try await self.transport.send(
                    .POST, "/streammetadata/\(ClientTransport.encoded(stream.rawValue))", body: metadata.jsonText, kind: .idempotentWrite)
            }
        }
    }

    /// Runs `body` with a store that holds its writes, then sends them together as one `POST /append`, all
    /// or none; nothing is sent when `body` throws or wrote nothing.
    ///
    /// Inside `body`, reads go to the server at once, and only before the first write: a read after a
    /// write throws `invalidArgument`, since the writes are not sent yet. A create or an append with an exact
    /// expectation returns the version it will give; one that cannot tell returns -1. The body's store
    /// throws `transactionClosed` when used after the body returned. The request is tried again only when
    /// its first try never reached the server.
    /// - Parameter body: the work of the transaction; it must read and write through the store it is given.
    /// - Returns: what `body` returns.
    /// - Throws: what `body` throws; `nestedTransaction` when called inside one of this client's
    ///   transactions; the writes' errors (`wrongExpectedVersion`, `streamExists`, …), and then none of the
    ///   writes is stored; `CancellationError` when the task is cancelled before the writes are sent;
    ///   `backend` when the server could not be reached.
    @discardableResult
    public func transaction<T: Sendable>(_ body: @Sendable (any EventStore) async throws -> T) async throws -> T {
        try ClientTransaction.refuseInside(self)
        let transaction = ClientTransaction(client: self)
        let result: T
        do {
            result = try await ClientTransaction.$current.withValue(transaction) { try await body(transaction) }
        } catch {
            transaction.close()
            throw error
        }
        let writes = transaction.close()
        if !writes.isEmpty {
            try Task.checkCancellation()
            try await instruments.measure(.transaction) { _ = try await write(writes) }
        }
        return result
    }

    /// Sends writes as one `POST /append`, whatever cancels the caller once it is sent: its answer says
    /// what the store did. An append alone is tried again on any transient failure (its uuids make it
    /// idempotent); anything else only when it never reached the server.
    @discardableResult
    func write(_ writes: [EventJSON.StreamWrite]) async throws -> [AppendResult?] {
        let idempotent = writes.count == 1 && { if case .append = writes[0].operation { true } else { false } }()
        let response = try await shielded {
            try await self.transport.send(
                .POST, "/append", body: EventJSON.array(of: writes), kind: idempotent ? .idempotentWrite : .write)
        }
        appendNotifier.signal()
        guard case let .array(items)? = try JSONValue(parsing: response.body)["results"], items.count == writes.count else { throw EventStoreError.corrupt("the server's answer to POST /append has no result per write") }
        return items.map { item in
            guard let streamVersion = item["version"]?.wholeNumber else { return nil }
            return AppendResult(streamVersion: streamVersion, lastGlobalPosition: item["position"]?.globalPosition)
        }
    }

    /// Runs `work` to its end even when the calling task is cancelled (a write sent cannot be called back:
    /// its answer says what the store did), within the request's deadline; once cancelled, it makes no
    /// further try (``ClientTransport/send(_:_:query:body:kind:answered:accept:)``). A task cancelled before
    /// it begins throws `CancellationError`.
    func shielded<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async throws -> T {
        try Task.checkCancellation()
        let flag = CancellationFlag()
        let task = Task { try await CancellationFlag.$current.withValue(flag) { try await work() } }
        return try await withTaskCancellationHandler { try await task.value } onCancel: { flag.set() }
    }

    // MARK: Reading

    /// The events of a stream from position `from` on, oldest first: at most `count` of those that meet the
    /// matcher, read with `GET /stream/{name}/{start}/forward/{count}` in pages of
    /// ``EventStoreClientConfiguration/readBatchSize`` events.
    ///
    /// The first page is read before the sequence is returned, so a missing stream or a bad argument throws
    /// here.
    /// - Parameters:
    ///   - stream: the stream to read.
    ///   - from: the first position to read, 1 or more.
    ///   - count: how many matching events at most; `nil` for all of them.
    ///   - matching: the conditions on metadata and message properties the events meet; `nil` for every event.
    /// - Throws: `streamNotFound` when the stream does not exist; `invalidArgument` when `from` < 1 or
    ///   `count` < 1.
    public func load(_ stream: StreamName, from: Int, count: Int?, matching: MetadataMatcher?) async throws
        -> RecordedEventSequence
    {
        try await sequence(stream, direction: .forward, from: from, count: count, matching: matching)
    }

    /// The events of a stream from position `from` back, newest first: at most `count` of those that meet the
    /// matcher, read with `GET /stream/{name}/{start}/backward/{count}` in pages of
    /// ``EventStoreClientConfiguration/readBatchSize`` events (`head` for the start when `from` is `nil`).
    ///
    /// The first page is read before the sequence is returned, so a missing stream or a bad argument throws
    /// here.
    /// - Parameters:
    ///   - stream: the stream to read.
    ///   - from: the first position to read, 1 or more; `nil` for the newest event.
    ///   - count: how many matching events at most; `nil` for all of them.
    ///   - matching: the conditions on metadata and message properties the events meet; `nil` for every event.
    /// - Throws: `streamNotFound` when the stream does not exist; `invalidArgument` when `from` < 1 or
    ///   `count` < 1.
    public func loadReverse(_ stream: StreamName, from: Int?, count: Int?, matching: MetadataMatcher?) async throws
        -> RecordedEventSequence
    {
        try await sequence(stream, direction: .backward, from: from, count: count, matching: matching)
    }

    /// A load read a page at a time with `GET /stream/{name}/{start}/{direction}/{count}`; the first page is
    /// read at once, so that a missing stream or a bad argument throws here.
    private func sequence(
        _ stream: StreamName, direction: RecordedEventSequence.Direction, from: Int?, count: Int?, matching: MetadataMatcher?
    ) async throws -> RecordedEventSequence {
        try StoreValidation.load(from: from, count: count)
        let name = ClientTransport.encoded(stream.rawValue)
        let query = try Self.matcherQuery(matching, properties: true)
        let way = direction == .forward ? "forward" : "backward"
        let transport = self.transport
        @Sendable func page(_ bound: Int?, _ limit: Int) async throws -> [RecordedEvent] {
            let response = try await transport.send(
                .GET, "/stream/\(name)/\(bound.map(String.init) ?? "head")/\(way)/\(limit)", query: query, kind: .read)
            return try EventJSON.entries(ofStreamPage: response.body)
        }
        let batch = configuration.readBatchSize
        let firstLimit = min(batch, count ?? Int.max)
        let first = try await instruments.measure(.load, stream: stream) { try await page(from, firstLimit) }
        let start = from ?? (direction == .forward ? 1 : Int.max)
        let firstPage = FirstPage(first)
        return RecordedEventSequence(direction: direction, start: start, count: count, readBatchSize: batch) { bound, limit in
            if bound == start, limit == firstLimit, let events = firstPage.take() { return events }
            return try await page(bound == Int.max ? nil : bound, limit)
        }
    }

    /// `true` when the stream exists, asked with `GET /has-stream/{name}` (404 for `false`).
    /// - Parameter stream: the stream to look for.
    public func hasStream(_ stream: StreamName) async throws -> Bool {
        try await instruments.measure(.findStream, stream: stream) {
            let response = try await transport.send(
                .GET, "/has-stream/\(ClientTransport.encoded(stream.rawValue))", kind: .read, answered: [404])
            return response.status == 200
        }
    }

    /// The stream's metadata, read with `GET /streammetadata/{name}`.
    /// - Parameter stream: the stream whose metadata is read.
    /// - Throws: `streamNotFound` when the stream does not exist.
    public func streamMetadata(of stream: StreamName) async throws -> Metadata {
        try await instruments.measure(.streamMetadata, stream: stream) {
            let response = try await transport.send(.GET, "/streammetadata/\(ClientTransport.encoded(stream.rawValue))", kind: .read)
            return try Metadata(storedJSON: response.body)
        }
    }

    /// Stream names in byte order, read with `GET /streams` (`/streams/{name}`, `/streams-regex/{pattern}`) in
    /// pages of at most ``EventStoreClientConfiguration/listingPageSize`` names.
    /// - Parameters:
    ///   - filter: all names, one exact name, or those a regular expression finds.
    ///   - matching: conditions on the streams' metadata; `nil` for every stream.
    ///   - limit: how many names at most, 1 or more.
    ///   - offset: how many names to skip first, 0 or more.
    /// - Throws: `invalidArgument` when `limit` < 1, `offset` < 0, the regex does not compile or the matcher
    ///   tests message properties.
    public func streamNames(_ filter: NameFilter, matching: MetadataMatcher?, limit: Int, offset: Int) async throws -> [StreamName] {
        try await instruments.measure(.listStreams) {
            try StoreValidation.listing(filter, matching: matching, limit: limit, offset: offset)
            return try await listing("/streams", filter, matcher: try Self.matcherQuery(matching, properties: false), limit: limit, offset: offset)
                .map { try StreamName($0) }
        }
    }

    /// Category names (the part of stream names before the first `-`) in byte order, each once, read with
    /// `GET /categories` (`/categories/{name}`, `/categories-regex/{pattern}`) in pages of at most
    /// ``EventStoreClientConfiguration/listingPageSize`` names.
    /// - Parameters:
    ///   - filter: all names, one exact name, or those a regular expression finds.
    ///   - limit: how many names at most, 1 or more.
    ///   - offset: how many names to skip first, 0 or more.
    /// - Throws: `invalidArgument` when `limit` < 1, `offset` < 0 or the regex does not compile.
    public func categoryNames(_ filter: NameFilter, limit: Int, offset: Int) async throws -> [String] {
        try await instruments.measure(.listCategories) {
            try StoreValidation.listing(filter, limit: limit, offset: offset)
            return try await listing("/categories", filter, matcher: [], limit: limit, offset: offset)
        }
    }

    /// A listing read in pages of at most ``EventStoreClientConfiguration/listingPageSize`` names.
    func listing(_ path: String, _ filter: NameFilter, matcher: [(String, String)], limit: Int, offset: Int) async throws
        -> [String]
    {
        let route: String
        switch filter {
        case .all: route = path
        case let .exact(name): route = path + "/" + ClientTransport.encoded(name)
        case let .regex(pattern): route = path + "-regex/" + ClientTransport.encoded(pattern)
        }
        var names: [String] = []
        while names.count < limit {
            let size = min(configuration.listingPageSize, limit - names.count)
            let query = matcher + [("limit", String(size)), ("offset", String(offset + names.count))]
            let response = try await transport.send(.GET, route, query: query, kind: .read)
            guard case let .array(items) = try JSONValue(parsing: response.body) else {
                throw EventStoreError.corrupt("the server's listing is not a JSON array")
            }
            for item in items {
                guard case let .string(name) = item else { throw EventStoreError.corrupt("the server's listing holds a name that is not a string") }
                names.append(name)
            }
            if items.count < size { break }
        }
        return names
    }

    /// A matcher as the API's query: `meta_N_field`, `meta_N_operator`, `meta_N_value` (and `property_N_…`).
    static func matcherQuery(_ matcher: MetadataMatcher?, properties: Bool) throws -> [(String, String)] {
        guard let matcher else { return [] }
        var query: [(String, String)] = []
        for (index, condition) in matcher.conditions.enumerated() {
            let prefix: String
            let field: String
            switch condition.field {
            case let .metadata(key): (prefix, field) = ("meta_\(index)", key)
            case let .property(property):
                guard properties else { throw EventStoreError.invalidArgument("a listing's matcher tests metadata, not \(condition.field)") }
                (prefix, field) = ("property_\(index)", property.rawValue)
            }
            let value: String
            switch (condition.op, condition.value) {
            case let (.regex, .scalar(.string(pattern))): value = pattern
            case let (_, .scalar(scalar)): value = scalar.jsonText
            case let (_, .list(values)): value = "[" + values.map(\.jsonText).joined(separator: ",") + "]"
            }
            query += [("\(prefix)_field", field), ("\(prefix)_operator", condition.op.rawValue), ("\(prefix)_value", value)]
        }
        return query
    }

    // MARK: The global order

    /// The events of `target` after `position`, in global order: the events of ``readPage(after:of:limit:)``.
    /// - Parameters:
    ///   - position: the global position to read after; `.start` for the first event.
    ///   - target: every event, or those of some streams or categories.
    ///   - limit: how many events at most, 1 or more; one request reads at most 10,000.
    /// - Throws: `invalidArgument` when `limit` < 1, `position` has a negative part or a category holds U+0000.
    public func readAll(after position: GlobalPosition, of target: SubscriptionTarget, limit: Int) async throws -> [RecordedEvent] {
        try await readPage(after: position, of: target, limit: limit).events
    }

    /// A page of `target`'s events after `position`, in global order, read with `GET /all`, and how far the
    /// server's read looked (its `read_through`).
    /// - Parameters:
    ///   - position: the global position to read after; `.start` for the first event.
    ///   - target: every event, or those of some streams or categories.
    ///   - limit: how many events at most, 1 or more; a page holds at most 10,000, the server's bound.
    /// - Throws: `invalidArgument` when `limit` < 1, `position` has a negative part or a category holds U+0000.
    public func readPage(after position: GlobalPosition, of target: SubscriptionTarget, limit: Int) async throws -> GlobalOrderPage {
        try StoreValidation.globalRead(after: position, of: target, limit: limit)
        let size = min(limit, 10_000)
        return try await instruments.measure(.readAll) {
            let response = try await transport.send(
                .GET, "/all", query: [("after", position.description), ("limit", String(size))] + Self.targetQuery(target), kind: .read)
            let page = try EventJSON.globalOrderPage(response.body)
            return GlobalOrderPage(events: page.events, after: position, limit: size, readable: page.readThrough)
        }
    }

    /// How many events of `target` are stored after `position`, counted by the server up to `limit`
    /// (`GET /all/count`) without sending them.
    /// - Parameters:
    ///   - position: the global position to count after.
    ///   - target: every event, or those of some streams or categories.
    ///   - limit: where the count stops, 1 or more.
    /// - Throws: `invalidArgument` when `limit` < 1, `position` has a negative part or a category holds U+0000.
    public func eventCount(after position: GlobalPosition, of target: SubscriptionTarget, limit: Int) async throws -> Int {
        try StoreValidation.globalRead(after: position, of: target, limit: limit)
        return try await instruments.measure(.countEvents) {
            let response = try await transport.send(
                .GET, "/all/count", query: [("after", position.description), ("limit", String(limit))] + Self.targetQuery(target),
                kind: .read)
            guard case let .number(text)? = try JSONValue(parsing: response.body)["count"], let count = Int(text) else {
                throw EventStoreError.corrupt("the server's count is not a number")
            }
            return count
        }
    }

    /// The global position of the last event committed, `.start` when there is none, read with `GET /head`.
    public func headPosition() async throws -> GlobalPosition { try await heads().head }

    @_spi(Backend) public func readableHead() async throws -> GlobalPosition { try await heads().readable }

    private func heads() async throws -> (head: GlobalPosition, readable: GlobalPosition) {
        let body = try await instruments.measure(.headPosition) {
            try JSONValue(parsing: try await transport.send(.GET, "/head", kind: .read).body)
        }
        guard let head = body["head"]?.globalPosition, let readable = body["readable"]?.globalPosition else {
            throw EventStoreError.corrupt("the server's head is not a global position")
        }
        return (head, readable)
    }

    /// The checkpoint saved on the server under `name`, `nil` when there is none (`GET /checkpoints/{name}`).
    /// - Parameter name: the checkpoint's name.
    public func checkpoint(named name: String) async throws -> GlobalPosition? {
        try await instruments.measure(.checkpoint) {
            let body = try JSONValue(parsing: try await transport.send(.GET, "/checkpoints/\(ClientTransport.encoded(name))", kind: .read).body)
            return body["position"]?.globalPosition
        }
    }

    /// Saves a checkpoint on the server under `name`, replacing the one before (`PUT /checkpoints/{name}`);
    /// tried again after any transient failure.
    /// - Parameters:
    ///   - position: the global position to keep.
    ///   - name: the checkpoint's name.
    public func saveCheckpoint(_ position: GlobalPosition, named name: String) async throws {
        let body = "{\"position\":\"\(position)\"}"
        try await instruments.measure(.saveCheckpoint) {
            _ = try await shielded {
                try await self.transport.send(.PUT, "/checkpoints/\(ClientTransport.encoded(name))", body: body, kind: .idempotentWrite)
            }
        }
    }

    /// A target as `GET /all`'s query: `stream` or `category`, each given once per name; nothing for all.
    static func targetQuery(_ target: SubscriptionTarget) -> [(String, String)] {
        switch target {
        case .all: return []
        case let .stream(stream): return [("stream", stream.rawValue)]
        case let .streams(streams): return streams.map { ("stream", $0.rawValue) }
        case let .category(category): return [("category", category)]
        case let .categories(categories): return categories.map { ("category", $0) }
        }
    }

    // MARK: Snapshots and scavenging

    /// The latest snapshot of an aggregate, `nil` when there is none (`GET /snapshots/{type}/{id}`, 404 for
    /// none).
    /// - Parameters:
    ///   - aggregateType: the aggregate's type.
    ///   - aggregateID: the aggregate's id.
    public func snapshot(ofType aggregateType: String, id aggregateID: String) async throws -> Snapshot? {
        let path = "/snapshots/\(ClientTransport.encoded(aggregateType))/\(ClientTransport.encoded(aggregateID))"
        return try await instruments.measure(.readSnapshot) {
            let response = try await transport.send(.GET, path, kind: .read, answered: [404])
            return response.status == 404 ? nil : try EventJSON.snapshot(fromObject: response.body)
        }
    }

    /// Saves snapshots, each replacing the one before for its aggregate, with one `POST /snapshots`; tried
    /// again after any transient failure.
    /// - Parameter snapshots: the snapshots to keep.
    public func save(_ snapshots: [Snapshot]) async throws {
        let body = "[" + snapshots.map { EventJSON.object(for: $0) }.joined(separator: ",") + "]"
        try await instruments.measure(.saveSnapshots) {
            _ = try await shielded { try await self.transport.send(.POST, "/snapshots", body: body, kind: .idempotentWrite) }
        }
    }

    /// Removes every snapshot of an aggregate type (`DELETE /snapshots/{type}`).
    /// - Parameter aggregateType: the aggregate type whose snapshots go.
    public func removeAll(ofType aggregateType: String) async throws {
        try await instruments.measure(.removeSnapshots) {
            _ = try await shielded {
                try await self.transport.send(.DELETE, "/snapshots/\(ClientTransport.encoded(aggregateType))", kind: .idempotentWrite)
            }
        }
    }

    /// Has the server remove the events past their stream's retention now (`POST /scavenge`).
    /// - Returns: how many streams lost events and how many events were removed.
    @discardableResult
    public func scavenge() async throws -> ScavengeResult {
        let body = try await instruments.measure(.scavenge) {
            try JSONValue(parsing: try await shielded { try await self.transport.send(.POST, "/scavenge", kind: .idempotentWrite) }.body)
        }
        // Counts that are not whole numbers are a wrong answer, never 0.
        guard case let .number(streams)? = body["streams"], case let .number(events)? = body["events"],
            let streamCount = Int(streams), let eventCount = Int(events), streamCount >= 0, eventCount >= 0
        else {
            throw EventStoreError.corrupt("the server's scavenge result is not {streams, events} as two counts: \(body.jsonText)")
        }
        return ScavengeResult(streams: streamCount, events: eventCount)
    }
}

/// Set when the caller of a shielded write is cancelled: the write makes no further try.
final class CancellationFlag: Sendable {
    /// The flag of the shielded write the current task runs.
    @TaskLocal static var current: CancellationFlag?

    private let value = Atomic(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}

/// The first page of a load, read before the sequence is handed out, and served once.
private final class FirstPage: Sendable {
    private let events: Mutex<[RecordedEvent]?>
    init(_ events: [RecordedEvent]) { self.events = Mutex(events) }
    func take() -> [RecordedEvent]? { events.withLock { value in defer { value = nil }; return value } }
}
