import ArgumentParser
import EventStore
import EventStoreHTTP
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the event store over HTTP until SIGTERM or SIGINT (requests in flight finish).")

    @Option(help: "The address to listen on.") var host = "127.0.0.1"
    @Option(help: "The port to listen on.") var port = 8080
    @Option(name: .customLong("token"), help: "A bearer token that may read and write (repeatable).")
    var tokens: [String] = []
    @Option(name: .customLong("read-only-token"), help: "A bearer token that may only read (repeatable).")
    var readOnlyTokens: [String] = []
    @Option(help: "The largest request body, in bytes.") var maxBodySize = 8 * 1024 * 1024
    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await reportingFailures {
            // `--token "$TOKEN"` with TOKEN unset must not serve an open store.
            if tokens.contains(where: \.isEmpty) || readOnlyTokens.contains(where: \.isEmpty) {
                throw CommandFailure.badInput("--token and --read-only-token must not be empty")
            }
            guard (1...65535).contains(port) else { throw CommandFailure.badInput("--port must be from 1 to 65535") }
            guard maxBodySize >= 1 else { throw CommandFailure.badInput("--max-body-size must be 1 or more") }
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            var configuration = EventStoreHTTPConfiguration()
            configuration.tokens = Set(tokens)
            configuration.readOnlyTokens = Set(readOnlyTokens)
            configuration.maxBodySize = maxBodySize
            configuration.metricsRegistry = registry
            var logger = Logger(label: "eventstore")
            logger.logLevel = .info
            let serverLogger = logger
            let (host, port, url) = (self.host, self.port, options.url)
            try await options.withStore { [configuration] store in
                serverLogger.info("serving \(url) on http://\(host):\(port)")
                let app = EventStoreHTTPServer.application(
                    store: store, host: host, port: port, configuration: configuration, logger: serverLogger)
                try await app.runService()
            }
        }
    }
}
