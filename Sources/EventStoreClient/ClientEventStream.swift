import AsyncHTTPClient
import EventStore
import Foundation
import Logging
import NIOCore

extension EventStoreClient {
    /// Follows `target` over Server-Sent Events (`GET /subscribe/all`): first what is stored after `position`
    /// (from the start when `nil`), then new events as they commit, in global order, each once, until the
    /// consuming task is cancelled.
    ///
    /// A connection that drops, or stays silent past ``EventStoreClientConfiguration/requestTimeout`` (the
    /// server sends a comment every 15 s), is opened again with `Last-Event-ID`, the position of the last
    /// event delivered: nothing is skipped or repeated. A server that cannot be reached is tried again with a
    /// doubling pause of at most 5 s, for as long as the consumer waits, and so is a transient error the server
    /// ends the stream with (its `event: error` frame naming `backend`, `busy` or `wrongPartition`, or no
    /// code at all). Any other error of a frame, or a request the server refuses (a 4xx), ends the sequence
    /// with that error.
    ///
    /// Each event is the JSON the stream carries on one line: a payload whose whitespace held line breaks
    /// (outside its strings) arrives with spaces there, the same JSON value. `subscribe(to:from:readBatchSize:clock:logger:)`
    /// reads pages with `GET /all` instead, and keeps every payload byte for byte.
    public func follow(_ target: SubscriptionTarget, after position: GlobalPosition? = nil) -> ClientEventStream {
        ClientEventStream(client: self, target: target, after: position)
    }
}

/// The events ``EventStoreClient/follow(_:after:)`` delivers.
public struct ClientEventStream: AsyncSequence, Sendable {
    /// The sequence's element: an event as the server stored it, with its stream position and global position.
    public typealias Element = RecordedEvent

    let client: EventStoreClient
    let target: SubscriptionTarget
    let after: GlobalPosition?

    /// An iterator that opens its own connection on its first ``Iterator/next()`` and reads from the sequence's
    /// start position: each iterator receives every event.
    public func makeAsyncIterator() -> Iterator { Iterator(stream: self, last: after) }

    /// Reads the Server-Sent Events of one connection at a time and hands out their events, opening the
    /// connection again after the last event delivered when it drops.
    public struct Iterator: AsyncIteratorProtocol {
        let stream: ClientEventStream
        /// The position of the last event delivered: where a new connection resumes.
        var last: GlobalPosition?
        private var body: HTTPClientResponse.Body.AsyncIterator?
        private var pending: [UInt8] = []
        private var frame = Frame()
        private var pause: Duration

        init(stream: ClientEventStream, last: GlobalPosition?) {
            self.stream = stream
            self.last = last
            pause = stream.client.configuration.retryDelay
        }

        /// The fields of the frame being read.
        private struct Frame {
            var event = ""
            var data: [String] = []
        }

        /// The next event: one read already, or the next the server sends, waiting for as long as it takes.
        ///
        /// A dropped or silent connection, a server that cannot be reached, or a transient store error
        /// (`backend`, `busy`, `wrongPartition`, also from an `event: error` frame, and a frame that names no
        /// code counts as `backend`) is waited out, with a pause of ``EventStoreClientConfiguration/retryDelay``
        /// doubling up to 5 s, and the connection is opened again with `Last-Event-ID`.
        /// - Returns: the event, or `nil` once the task is cancelled.
        /// - Throws: any other `EventStoreError` an `event: error` frame or a refused request names (such as
        ///   `invalidArgument`); `corrupt` for an event whose JSON cannot be read.
        public mutating func next() async throws -> RecordedEvent? {
            while true {
                if Task.isCancelled { return nil }
                do {
                    // An `event: error` frame is thrown here, and waited out below when it is transient.
                    if let line = takeLine() {
                        if let event = try dispatch(line) { return event }
                        continue
                    }
                    if body == nil { body = try await connect() }
                    guard let chunk = try await body?.next() else {
                        // The server ended the stream (a shutdown): open it again.
                        try await reconnect(after: nil)
                        continue
                    }
                    pending.append(contentsOf: chunk.readableBytesView)
                    pause = stream.client.configuration.retryDelay
                } catch let failure as ClientTransport.TransportFailure {
                    if Task.isCancelled { return nil }
                    try await reconnect(after: failure.underlying)
                } catch is CancellationError {
                    return nil
                } catch let error as EventStoreError where error.code.isTransient {
                    try await reconnect(after: error)
                } catch let error as EventStoreError {
                    throw error
                } catch {
                    if Task.isCancelled { return nil }
                    try await reconnect(after: error)
                }
            }
        }

        /// Drops the connection and the partial frame, and waits before the next one.
        private mutating func reconnect(after error: (any Error)?) async throws {
            body = nil
            pending.removeAll()
            frame = Frame()
            if let error {
                stream.client.logger.debug("an event stream failed: opening it again", metadata: ["error": "\(error)"])
            }
            do {
                try await Task.sleep(for: pause)
            } catch {
                return
            }
            pause = Swift.min(pause * 2, .seconds(5))
        }

        private func connect() async throws -> HTTPClientResponse.Body.AsyncIterator {
            var headers: [(String, String)] = [("Accept", "text/event-stream")]
            if let last { headers.append(("Last-Event-ID", last.description)) }
            let response = try await stream.client.transport.open(
                "/subscribe/all", query: EventStoreClient.targetQuery(stream.target), headers: headers)
            return response.makeAsyncIterator()
        }

        /// The next whole line of what was read (CR, LF or CRLF ends one), `nil` until one is whole.
        private mutating func takeLine() -> String? {
            guard let end = pending.firstIndex(where: { $0 == 0x0A || $0 == 0x0D }) else { return nil }
            // A CR last in what was read may be the first half of a CRLF: wait for the next byte.
            if pending[end] == 0x0D, end == pending.count - 1 { return nil }
            let line = String(decoding: pending[..<end], as: UTF8.self)
            let skip = pending[end] == 0x0D && pending[end + 1] == 0x0A ? 2 : 1
            pending.removeFirst(end + skip)
            return line
        }

        /// Takes one line of the stream: a field, a comment, or the blank line that ends a frame (an event
        /// returned, or an error frame thrown).
        private mutating func dispatch(_ line: String) throws -> RecordedEvent? {
            if line.isEmpty {
                defer { frame = Frame() }
                guard !frame.data.isEmpty else { return nil }
                let data = frame.data.joined(separator: "\n")
                if frame.event == "error" {
                    throw ClientTransport.error(from: ClientResponse(status: 500, body: data))
                }
                let event = try EventJSON.recordedEvent(fromObject: data)
                last = event.globalPosition
                return event
            }
            if line.hasPrefix(":") { return nil }
            let (field, value) = Self.field(line)
            switch field {
            case "event": frame.event = value
            case "data": frame.data.append(value)
            default: break  // `id` is the event's global position, which its data holds too
            }
            return nil
        }

        private static func field(_ line: String) -> (String, String) {
            guard let colon = line.firstIndex(of: ":") else { return (line, "") }
            var value = line[line.index(after: colon)...]
            if value.first == " " { value = value.dropFirst() }
            return (String(line[..<colon]), String(value))
        }
    }
}
