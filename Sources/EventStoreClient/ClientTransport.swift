import AsyncHTTPClient
import EventStore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// What a request does to the store: which of its failures may be tried again.
enum RequestKind: Sendable {
    /// Changes nothing: every transient failure is tried again.
    case read
    /// Changes the store so that sending it twice changes it once (an append carries its events' uuids;
    /// metadata, checkpoints and snapshots are replaced): every transient failure is tried again.
    case idempotentWrite
    /// A second try could do what the first did, or fail because it did (a create, a delete, a write of
    /// several streams): tried again only when the first try surely never reached the server.
    case write
}

/// A server's answer: status and body.
struct ClientResponse: Sendable {
    var status: Int
    var body: String
}

/// The HTTP side of ``EventStoreClient``: one pool of connections, deadlines, retries and the mapping of
/// problem documents back to ``EventStoreError``s.
final class ClientTransport: Sendable {
    let http: HTTPClient
    /// `scheme://host:port`, without a trailing slash.
    let base: String
    let configuration: EventStoreClientConfiguration
    let instruments: StoreInstruments

    init(base: String, configuration: EventStoreClientConfiguration, instruments: StoreInstruments) {
        self.base = base
        self.configuration = configuration
        self.instruments = instruments
        var settings = HTTPClient.Configuration()
        settings.timeout = .init(
            connect: .nanoseconds(configuration.connectTimeout.nanoseconds),
            read: .nanoseconds(configuration.requestTimeout.nanoseconds))
        settings.connectionPool = .init(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: configuration.maximumConnections)
        // A connection that cannot be made fails its requests at once, and ``send`` tries again after its own
        // pause (``EventStoreClientConfiguration/retries``): left to the pool, a refused connection was tried
        // again with its back-off for the whole connect timeout, each try of ours over again.
        settings.connectionPool.retryConnectionEstablishment = false
        settings.httpVersion = .http1Only
        settings.redirectConfiguration = .disallow
        if let tls = configuration.tls { settings.tlsConfiguration = tls }
        http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: settings)
    }

    func shutdown() async throws { try await http.shutdown() }

    /// Sends a request, trying it again as its kind allows (``RequestKind``) on a connection that failed or
    /// a 503, with a doubling pause; an answer of 400 or more is thrown as the ``EventStoreError`` it names.
    /// A request whose outcome is unknown after its last try throws `backend`, saying so. Statuses in
    /// `answered` are returned, not thrown. A write shielded from its caller's cancellation
    /// (``EventStoreClient/shielded(_:)``) makes no further try once the caller is cancelled.
    func send(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: String? = nil, kind: RequestKind,
        answered: Set<Int> = [], accept: String = "application/json"
    ) async throws -> ClientResponse {
        var delay = configuration.retryDelay
        var tries = 0
        while true {
            tries += 1
            // A write whose caller was cancelled makes no further try.
            let last = tries > configuration.retries || CancellationFlag.current?.isSet == true
            do {
                let response = try await once(method, path, query: query, body: body, accept: accept)
                if response.status == 503, kind != .write, !last {
                    instruments.logger.debug("the server answered 503: trying again", metadata: ["path": "\(path)"])
                } else if response.status >= 400, !answered.contains(response.status) {
                    throw Self.error(from: response)
                } else {
                    return response
                }
            } catch let failure as TransportFailure {
                let retryable = kind != .write || failure.neverSent
                if last || !retryable {
                    let unknown = kind != .read && !failure.neverSent
                    throw EventStoreError.backend(
                        "\(method) \(path) to \(base) failed after \(tries) tries"
                            + (unknown ? "; its outcome is unknown: read before writing again" : ""),
                        underlying: failure.underlying)
                }
                instruments.logger.debug("\(method) \(path) failed: trying again", metadata: ["error": "\(failure.underlying)"])
            }
            try await Task.sleep(for: delay)
            delay *= 2
        }
    }

    /// A failed exchange: the connection broke or the deadline passed.
    struct TransportFailure: Error {
        /// `true` when the request surely never reached the server (its connection was never made).
        var neverSent: Bool
        var underlying: any Error & Sendable
    }

    private func once(_ method: HTTPMethod, _ path: String, query: [(String, String)], body: String?, accept: String)
        async throws -> ClientResponse
    {
        let request = self.request(method, path, query: query, body: body, headers: [("Accept", accept)])
        let timeout = TimeAmount.nanoseconds(configuration.requestTimeout.nanoseconds)
        do {
            let response = try await http.execute(request, timeout: timeout, logger: instruments.logger)
            let bytes = try await response.body.collect(upTo: configuration.maximumResponseSize)
            return ClientResponse(status: Int(response.status.code), body: String(buffer: bytes))
        } catch {
            throw Self.classify(error, request)
        }
    }

    /// Opens a long answer (an event stream): no deadline for the whole of it, but the connection's read
    /// timeout (``EventStoreClientConfiguration/requestTimeout``) between its bytes. A status other than 200
    /// is thrown as the error it names.
    func open(_ path: String, query: [(String, String)], headers: [(String, String)]) async throws -> HTTPClientResponse.Body {
        let request = self.request(.GET, path, query: query, body: nil, headers: headers)
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, deadline: .distantFuture, logger: instruments.logger)
        } catch {
            throw Self.classify(error, request)
        }
        guard response.status == .ok else {
            let bytes = try? await response.body.collect(upTo: 1 << 20)
            throw Self.error(from: ClientResponse(status: Int(response.status.code), body: bytes.map { String(buffer: $0) } ?? ""))
        }
        return response.body
    }

    private func request(_ method: HTTPMethod, _ path: String, query: [(String, String)], body: String?, headers: [(String, String)])
        -> HTTPClientRequest
    {
        var url = base + path
        if !query.isEmpty {
            url += "?" + query.map { Self.encoded($0.0) + "=" + Self.encoded($0.1) }.joined(separator: "&")
        }
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.headers.add(name: "ES-API-Version", value: "1")
        if let token = configuration.token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let traceParent = instruments.traceParent() { request.headers.add(name: "traceparent", value: traceParent) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        return request
    }

    /// What a failed exchange means: the caller's cancellation, a request that never left (its connection was
    /// never made), a bad URL, or a failure whose outcome is unknown.
    private static func classify(_ error: any Error, _ request: HTTPClientRequest) -> any Error {
        switch error {
        case let error as HTTPClientError where error == .cancelled: return CancellationError()
        case is CancellationError: return CancellationError()
        case let error as HTTPClientError where error == .connectTimeout: return TransportFailure(neverSent: true, underlying: error)
        case let error as NIOConnectionError: return TransportFailure(neverSent: true, underlying: error)
        case let error as HTTPClientError where error == .invalidURL:
            return EventStoreError.invalidArgument("\(request.method) \(request.url): \(error)")
        default:
            if Task.isCancelled { return CancellationError() }
            return TransportFailure(neverSent: false, underlying: error)
        }
    }

    /// The store error a problem document names (its `code`, `stream`, `expected_version` and
    /// `actual_version`), or the status's closest code when it names none.
    static func error(from response: ClientResponse) -> EventStoreError {
        let problem = try? JSONValue(parsing: response.body)
        func text(_ key: String) -> String? {
            if case let .string(value)? = problem?[key] { return value }
            return nil
        }
        let detail = text("detail") ?? text("title") ?? "the server answered \(response.status)"
        let code: EventStoreError.Code
        if let label = text("code"), let named = EventStoreError.Code(label: label) {
            code = named
        } else {
            code = (400..<500).contains(response.status) ? .invalidArgument : .backend
        }
        var actual: Int?
        if case let .number(number)? = problem?["actual_version"] { actual = Int(number) }
        return EventStoreError(
            code: code, reason: response.status == 401 || response.status == 403 ? "the server refused the token: \(detail)" : detail,
            streamName: text("stream").flatMap { try? StreamName($0) }, expectedVersion: text("expected_version").flatMap(ExpectedVersion.init),
            actualVersion: actual, projectionName: text("projection"))
    }

    /// Text for a path segment or a query value: everything but RFC 3986's unreserved characters escaped.
    static func encoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}
