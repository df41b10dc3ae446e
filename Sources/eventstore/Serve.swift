import ArgumentParser
import EventStore
import EventStoreHTTP
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import UnixSignals

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the event store over HTTP until SIGTERM or SIGINT (requests in flight finish).")

    @Option(help: "The address to listen on.") var host = "127.0.0.1"
    @Option(help: "The port to listen on.") var port = 8080
    @Option(name: .customLong("token"), help: "A bearer token that may read and write (repeatable).")
    var tokens: [String] = []
    @Option(name: .customLong("read-only-token"), help: "A bearer token that may only read (repeatable).")
    var readOnlyTokens: [String] = []
    @Option(
        name: .customLong("token-file"),
        help: "A file of bearer tokens that may read and write, one per line (repeatable; kept out of `ps`).")
    var tokenFiles: [String] = []
    @Option(name: .customLong("read-only-token-file"), help: "A file of read-only bearer tokens, one per line (repeatable).")
    var readOnlyTokenFiles: [String] = []
    @Flag(help: "Serve a non-loopback --host without tokens (anyone who reaches it may read and write).")
    var allowAnonymous = false
    @Option(help: "The scheme, host and port links are made of (default: http://HOST:PORT, https:// with TLS).")
    var publicURL: String?
    @Option(help: "Serve over TLS with this PEM certificate chain (the server's certificate first); needs --tls-key.")
    var tlsCertificate: String?
    @Option(help: "The PEM private key of --tls-certificate.") var tlsKey: String?
    @Option(name: .customLong("allowed-origin"), help: "An origin whose web pages may write (repeatable).")
    var allowedOrigins: [String] = []
    @Option(
        help: """
            Export spans over OTLP/HTTP to this URL, as given (http://collector:4318/v1/traces); needs a build \
            with --traits OTel.
            """)
    var otlpEndpoint: String?
    @Option(help: "The OTLP encoding: http/protobuf or http/json.") var otlpProtocol = "http/protobuf"
    @Option(help: "The largest request body, in bytes.") var maxBodySize = 8 * 1024 * 1024
    @Option(help: "The most Server-Sent-Events streams open at once.") var maxSubscribers = 1000
    @Option(help: "Seconds a connection may stay idle between requests.") var idleTimeout = 60
    @Option(
        help: """
            Seconds requests in flight have after SIGTERM or SIGINT before they are cancelled (a cancelled write \
            answers that its outcome is unknown).
            """)
    var shutdownTimeout = 10
    @Option(
        help: """
            Seconds readers of the global order may wait for an open transaction (PostgreSQL: anywhere in the \
            cluster) before it is logged as a warning and /health/ready reports it.
            """)
    var readerStallThreshold = 10
    @Option(
        help: """
            Seconds between scavenges, which remove the events past their stream's retention ($maxAge, \
            $maxCount, $tb); 0 never scavenges (run `eventstore scavenge` instead).
            """)
    var scavengeInterval = 3600
    @OptionGroup var options: DatabaseOptions

    /// The tokens of `--token`, the files and `variable` (comma- or line-separated).
    /// - Throws: `badInput` for an empty one (`--token "$TOKEN"` with TOKEN unset must not open the store)
    ///   or a file that cannot be read.
    static func tokens(_ given: [String], files: [String], variable: String, option: String) throws -> Set<String> {
        if given.contains(where: \.isEmpty) { throw CommandFailure.badInput("--\(option) must not be empty") }
        var tokens = Set(given)
        for file in files {
            guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
                throw CommandFailure.badInput("cannot read the token file \(file)")
            }
            let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            if lines.isEmpty { throw CommandFailure.badInput("the token file \(file) holds no token") }
            tokens.formUnion(lines)
        }
        if let value = ProcessInfo.processInfo.environment[variable] {
            let listed = value.split(whereSeparator: { $0 == "," || $0.isNewline }).map { $0.trimmingCharacters(in: .whitespaces) }
            if listed.isEmpty || listed.contains(where: \.isEmpty) {
                throw CommandFailure.badInput("\(variable) is set but holds an empty token")
            }
            tokens.formUnion(listed)
        }
        return tokens
    }

    /// Whether `host` is only reachable from this machine.
    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    func run() async throws {
        try await reportingFailures {
            let tokens = try Self.tokens(self.tokens, files: tokenFiles, variable: "EVENTSTORE_TOKENS", option: "token")
            let readOnlyTokens = try Self.tokens(
                self.readOnlyTokens, files: readOnlyTokenFiles, variable: "EVENTSTORE_READ_ONLY_TOKENS", option: "read-only-token")
            if !Self.isLoopback(host), tokens.isEmpty, readOnlyTokens.isEmpty, !allowAnonymous {
                throw CommandFailure.badInput(
                    "--host \(host) is reachable from other machines: give --token (or --token-file), or --allow-anonymous")
            }
            guard (1...65535).contains(port) else { throw CommandFailure.badInput("--port must be from 1 to 65535") }
            guard maxBodySize >= 1 else { throw CommandFailure.badInput("--max-body-size must be 1 or more") }
            guard maxSubscribers >= 1 else { throw CommandFailure.badInput("--max-subscribers must be 1 or more") }
            guard idleTimeout >= 1 else { throw CommandFailure.badInput("--idle-timeout must be 1 or more") }
            guard shutdownTimeout >= 1 else { throw CommandFailure.badInput("--shutdown-timeout must be 1 or more") }
            guard readerStallThreshold >= 1 else { throw CommandFailure.badInput("--reader-stall-threshold must be 1 or more") }
            guard scavengeInterval >= 0 else { throw CommandFailure.badInput("--scavenge-interval must be 0 or more") }
            guard (tlsCertificate == nil) == (tlsKey == nil) else {
                throw CommandFailure.badInput("--tls-certificate and --tls-key go together")
            }
            let tls = try tlsCertificate.map { try EventStoreHTTPServer.serverTLS(certificateChainFile: $0, privateKeyFile: tlsKey ?? "") }
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            var configuration = EventStoreHTTPConfiguration()
            configuration.tokens = tokens
            configuration.readOnlyTokens = readOnlyTokens
            configuration.maxBodySize = maxBodySize
            configuration.maxSubscribers = maxSubscribers
            configuration.idleTimeout = .seconds(idleTimeout)
            configuration.publicBaseURL = publicURL
            configuration.allowedOrigins = Set(allowedOrigins)
            configuration.metricsRegistry = registry
            configuration.tls = tls
            var logger = Logger(label: "eventstore")
            logger.logLevel = .info
            if tls == nil, !Self.isLoopback(host), !(tokens.isEmpty && readOnlyTokens.isEmpty) {
                logger.warning(
                    "tokens cross the network in the clear on --host \(host): give --tls-certificate and --tls-key, or serve behind a proxy that terminates TLS")
            }
            let serverLogger = logger
            // First, so that the tracer is the process's before any span; and first among the services, so
            // that it shuts down last and exports the spans of the requests that finish during shutdown.
            let traceExport = try otlpEndpoint.map { try TraceExport.start(endpoint: $0, protocol: otlpProtocol, logger: serverLogger) }
            let (host, port, url, shutdownTimeout) = (self.host, self.port, options.url, self.shutdownTimeout)
            let stallThreshold = Duration.seconds(readerStallThreshold)
            let scavengeInterval = self.scavengeInterval
            try await options.withStore(logger: serverLogger) { [configuration] store in
                serverLogger.info("serving \(url) on \(configuration.tls == nil ? "http" : "https")://\(host):\(port)")
                var configuration = configuration
                // Readers of the global order are watched for stalls: a store's, or each member's of a partitioned
                // store (whose stalls are logged; `/health/ready` and `/metrics` report a single store's).
                var watches: [GlobalOrderWatch] = []
                if let single = store as? any GlobalOrderEventStore {
                    watches = [GlobalOrderWatch(store: single, threshold: stallThreshold, logger: serverLogger)]
                    configuration.globalOrderWatch = watches.first
                } else if let partitioned = store as? PartitionedEventStore {
                    watches = partitioned.members.map { member in
                        var logger = serverLogger
                        logger[metadataKey: "eventstore.member"] = .string(member.name)
                        return GlobalOrderWatch(store: member.store, threshold: stallThreshold, logger: logger)
                    }
                }
                let app = try EventStoreHTTPServer.application(
                    store: store, host: host, port: port, configuration: configuration, logger: serverLogger)
                // On SIGTERM or SIGINT the server stops accepting and lets requests in flight finish; past the
                // shutdown timeout they are cancelled.
                var services: [any Service] = (traceExport.map { [$0] } ?? []) + [app] + watches.map(GlobalOrderWatchService.init)
                if scavengeInterval > 0, let scavenging = store as? any ScavengingEventStore {
                    services.append(ScavengeService(store: scavenging, interval: .seconds(scavengeInterval), logger: serverLogger))
                }
                var group = ServiceGroupConfiguration(
                    services: services,
                    gracefulShutdownSignals: [.sigterm, .sigint], logger: serverLogger)
                group.maximumGracefulShutdownDuration = .seconds(shutdownTimeout)
                try await ServiceGroup(configuration: group).run()
                serverLogger.info("stopped serving")
            }
        }
    }
}

/// Scavenges every `interval` (the first one `interval` after the start), logging what it removed; a
/// failed scavenge is logged and tried again at the next one. Ends at shutdown, a scavenge in progress
/// cancelled with it (what it removed stays removed: each batch is a transaction).
struct ScavengeService: Service {
    let store: any ScavengingEventStore
    let interval: Duration
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while (try? await Task.sleep(for: interval)) != nil {
                do {
                    let result = try await store.scavenge()
                    if result.events > 0 {
                        logger.info("scavenge removed \(result.events) event(s) past retention from \(result.streams) stream(s)")
                    }
                } catch where !Task.isCancelled {
                    logger.error("scavenge failed; the next runs in \(interval)", metadata: ["error": "\(error)"])
                } catch {
                    return
                }
            }
        }
    }
}

/// Checks every 2 seconds whether readers of the global order wait, so that a stall is logged while nobody
/// asks `/health/ready`; ends at shutdown.
struct GlobalOrderWatchService: Service {
    let watch: GlobalOrderWatch

    func run() async throws {
        await cancelWhenGracefulShutdown { await watch.run(every: .seconds(2)) }
    }
}
