import EventStore
import Foundation
import Hummingbird
import HummingbirdCore
import HTTPTypes
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import Prometheus
import Tracing

/// Settings of the HTTP API.
public struct EventStoreHTTPConfiguration: Sendable {
    /// Tokens that may read and write. When both token sets are empty, no token is needed. An empty token
    /// is never accepted: a set holding only `""` lets nobody in (`eventstore serve` refuses one at start).
    public var tokens: Set<String> = []
    /// Tokens that may only read (GET requests).
    public var readOnlyTokens: Set<String> = []
    /// The largest request body, in bytes (8 MiB by default); larger ones get 413.
    public var maxBodySize: Int = 8 * 1024 * 1024
    /// How often a Server-Sent-Events stream sends a comment when there is nothing else (15 s by default),
    /// so that proxies keep it open and a client that went away is noticed.
    public var heartbeatInterval: Duration = .seconds(15)
    /// How long one write of a Server-Sent-Events stream may wait for its client to read (30 s by default):
    /// past it the stream's connection is closed, so a client that stopped reading holds neither the
    /// server's memory nor its shutdown.
    public var eventStreamWriteTimeout: Duration = .seconds(30)
    /// The registry `/metrics` reports (the one `MetricsSystem` was bootstrapped with); `nil` leaves `/metrics` out.
    public var metricsRegistry: PrometheusCollectorRegistry?
    /// The scheme, host and port `_links` are made of (`https://events.example.com`), never the request's
    /// `Host` header (which a client chooses). `nil` (the default): the address the application listens on.
    public var publicBaseURL: String?
    /// TLS for every connection (``EventStoreHTTPServer/serverTLS(certificateChainFile:privateKeyFile:)``
    /// reads PEM files), so that tokens and events never cross the network in the clear; `nil` (the
    /// default): plain HTTP, for loopback or behind a proxy that terminates TLS.
    public var tls: TLSConfiguration?
    /// Origins (`https://app.example.com`) whose pages may write. A write (any method but GET and HEAD) whose
    /// `Origin` header is neither the public base URL's origin nor one of these gets 403, so a page of
    /// another site cannot post to a store on `127.0.0.1`; requests without `Origin` (not from a browser) pass.
    public var allowedOrigins: Set<String> = []
    /// The most Server-Sent-Events streams open at once (1,000 by default); past it, 503.
    public var maxSubscribers: Int = 1000
    /// The largest `limit` of a listing (1,000 by default); a larger one is a 400.
    public var maxListingLimit: Int = 1000
    /// How long a connection may stay idle between requests before it is closed (60 s by default).
    public var idleTimeout: Duration = .seconds(60)
    /// How long `/health/ready` waits for the database's answer before it reports the store unready. 5
    /// seconds by default.
    public var readinessTimeout: Duration = .seconds(5)
    /// What `/health/ready` and `/metrics` (`eventstore_global_order_stall_seconds`) ask whether readers of
    /// the global order wait for an open transaction; readiness fails once they have waited past its
    /// threshold. `nil` (the default): a watch of the store with a 10 s threshold. Run the same watch
    /// (`GlobalOrderWatch.run(every:)`, as `eventstore serve` does) for a log line while nobody asks.
    public var globalOrderWatch: GlobalOrderWatch?
    /// The tracer of the API's spans (each request's, Hummingbird's `TracingMiddleware`, with the incoming W3C
    /// `traceparent` as its parent) and of the store's spans within a request, when the store's telemetry
    /// names no tracer of its own. `nil` (the default): the bootstrapped `InstrumentationSystem.tracer`.
    public var tracer: (any Tracer)?

    /// Settings with every default: no token needed, 8 MiB bodies, plain HTTP; change the properties after.
    public init() {}
}

/// The event store over HTTP: prooph's routes and JSON shapes, correct status codes with problem
/// documents, Server-Sent-Event subscriptions, health, metrics and an OpenAPI description.
public enum EventStoreHTTPServer {
    /// The router of the API for `store`.
    public static func router(
        store: any EventStore, configuration: EventStoreHTTPConfiguration = EventStoreHTTPConfiguration()
    ) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: APIVersionMiddleware())
        if let tracer = configuration.tracer { router.add(middleware: TracerScopeMiddleware(tracer: tracer)) }
        router.add(middleware: TracingMiddleware())
        router.add(middleware: LogRequestsMiddleware(.info))
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: ProblemMiddleware())
        router.add(middleware: TokenMiddleware(tokens: configuration.tokens, readOnlyTokens: configuration.readOnlyTokens))
        router.add(middleware: CrossSiteMiddleware(configuration: configuration))
        let routes = Routes(store: store, configuration: configuration)
        routes.register(on: router)
        return router
    }

    /// An application serving the API for `store` on `host:port`, over TLS when the configuration has it.
    /// Its `runService()` serves until SIGTERM or SIGINT, letting requests in flight finish.
    /// - Throws: when the TLS configuration cannot be used.
    public static func application(
        store: any EventStore, host: String = "127.0.0.1", port: Int = 8080,
        configuration: EventStoreHTTPConfiguration = EventStoreHTTPConfiguration(), logger: Logger
    ) throws -> some ApplicationProtocol {
        var configuration = configuration
        if configuration.publicBaseURL == nil {
            configuration.publicBaseURL = "\(configuration.tls == nil ? "http" : "https")://\(host):\(port)"
        }
        let http1 = HTTPServerBuilder.http1(configuration: .init(idleTimeout: .nanoseconds(configuration.idleTimeout.nanoseconds)))
        return Application(
            router: router(store: store, configuration: configuration),
            server: try configuration.tls.map { try .tls(http1, tlsConfiguration: $0) } ?? http1,
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "swift-event-store"),
            logger: logger)
    }
}

extension EventStoreHTTPServer {
    /// A server's TLS configuration from PEM files: the certificate chain (the server's certificate first)
    /// and its private key.
    /// - Throws: `EventStoreError.invalidArgument` naming the file that cannot be read.
    public static func serverTLS(certificateChainFile: String, privateKeyFile: String) throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateChainFile)
        } catch {
            throw EventStoreError.invalidArgument("cannot read a PEM certificate chain from \(certificateChainFile): \(error)")
        }
        guard !chain.isEmpty else { throw EventStoreError.invalidArgument("\(certificateChainFile) holds no PEM certificate") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: privateKeyFile, format: .pem)
        } catch {
            throw EventStoreError.invalidArgument("cannot read a PEM private key from \(privateKeyFile): \(error)")
        }
        return TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
    }
}

/// The API's version, so that later changes do not break old clients: every response, a problem too, says
/// `ES-API-Version: 1`, and a request that asks for a version this server does not speak gets 400 before any
/// route runs. A request without the header gets version 1.
struct APIVersionMiddleware<Context: RequestContext>: RouterMiddleware {
    static var header: HTTPField.Name { Routes.fieldName("ES-API-Version") }
    static var version: String { "1" }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            if let asked = request.headers[Self.header], asked.trimmingCharacters(in: .whitespaces) != Self.version {
                throw HTTPProblem.badRequest("this server speaks version \(Self.version) of the API (ES-API-Version), not \(asked)")
            }
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        response.headers[Self.header] = Self.version
        return response
    }
}

/// Makes `tracer` the instrument of the request's task (`withTracer`): for an API given a tracer of its own.
struct TracerScopeMiddleware<Context: RequestContext>: RouterMiddleware {
    let tracer: any Tracer

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try await withTracer(tracer) { try await next(request, context) }
    }
}

/// Bearer tokens: 401 without a known token, 403 when a read-only token tries to write.
struct TokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let tokens: Set<String>
    let readOnlyTokens: Set<String>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard !(tokens.isEmpty && readOnlyTokens.isEmpty), !Routes.healthPaths.contains(request.uri.path) else {
            return try await next(request, context)
        }
        // The scheme is case-insensitive (RFC 9110); an empty token is never one (an unset variable in
        // `--token "$TOKEN"` must not open the store).
        let header = request.headers[.authorization] ?? ""
        let scheme = header.prefix(7)
        let token = scheme.lowercased() == "bearer " ? header.dropFirst(7).trimmingCharacters(in: .whitespaces) : ""
        guard !token.isEmpty else {
            throw HTTPProblem(.unauthorized, "Unauthorized", detail: "send Authorization: Bearer <token>")
        }
        if Self.contains(tokens, token) { return try await next(request, context) }
        if Self.contains(readOnlyTokens, token) {
            guard request.method == .get || request.method == .head, !Routes.isWriteOnGet(request.uri.path) else {
                throw HTTPProblem(.forbidden, "Forbidden", detail: "this token may only read")
            }
            return try await next(request, context)
        }
        throw HTTPProblem(.unauthorized, "Unauthorized", detail: "send Authorization: Bearer <token>")
    }

    /// Whether `candidate` is one of `tokens`, in a time that depends on the tokens' lengths only, not on how
    /// much of a token a guess got right.
    static func contains(_ tokens: Set<String>, _ candidate: String) -> Bool {
        let guess = Array(candidate.utf8)
        var found = false
        for token in tokens {
            let bytes = Array(token.utf8)
            var difference = UInt8(truncatingIfNeeded: bytes.count ^ guess.count)
            for index in bytes.indices { difference |= bytes[index] ^ (index < guess.count ? guess[index] : 0) }
            found = found || difference == 0
        }
        return found
    }
}

/// The body types a page of another site may send without asking first.
private let crossSiteFormTypes: Set<String> = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]

/// Writes a page of another site could make (CSRF): a form or `fetch` in `no-cors` mode can send only
/// `text/plain`, `application/x-www-form-urlencoded` and `multipart/form-data` bodies without asking first,
/// and it always says where it comes from in `Origin`. Such bodies are refused on every write (415), and a
/// write from an origin other than the store's own or an allowed one gets 403.
struct CrossSiteMiddleware<Context: RequestContext>: RouterMiddleware {
    let ownOrigin: String?
    let allowedOrigins: Set<String>

    init(configuration: EventStoreHTTPConfiguration) {
        ownOrigin = configuration.publicBaseURL.map(Self.origin)
        allowedOrigins = Set(configuration.allowedOrigins.map(Self.origin))
    }

    /// `scheme://host[:port]` of a URL, lowercased, without a path.
    static func origin(_ url: String) -> String {
        var text = url.lowercased()
        if let schemeEnd = text.range(of: "://"), let slash = text[schemeEnd.upperBound...].firstIndex(of: "/") {
            text = String(text[..<slash])
        }
        return text
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method != .get, request.method != .head else { return try await next(request, context) }
        let type = (request.headers[.contentType] ?? "").split(separator: ";").first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }
        if let type, crossSiteFormTypes.contains(type) {
            throw HTTPProblem(
                .unsupportedMediaType, "Unsupported Media Type", detail: "writes take application/json (or no body), not \(type)")
        }
        if let origin = request.headers[.origin] {
            let origin = Self.origin(origin)
            guard origin == ownOrigin || allowedOrigins.contains(origin) else {
                throw HTTPProblem(.forbidden, "Forbidden", detail: "writes from the origin \(origin) are not allowed")
            }
        }
        return try await next(request, context)
    }
}
