import Logging
import ServiceLifecycle

#if OTel
import OTel
#endif

/// `serve --otlp-endpoint`: spans exported over OTLP/HTTP with swift-otel, in builds with the `OTel` trait.
enum TraceExport {
    /// The encodings `--otlp-protocol` takes.
    static let protocols = ["http/protobuf", "http/json"]

    /// Bootstraps the process's tracer to export to `endpoint` (the URL spans are posted to, as given:
    /// `http://collector:4318/v1/traces`) and returns the service that exports them; it flushes what is left
    /// when it shuts down. Logs and metrics stay as they are (the console, and `/metrics`).
    /// - Throws: `CommandFailure.badInput` for a URL that is not http(s), an unknown protocol, or a build
    ///   without the trait.
    static func start(endpoint: String, protocol name: String, logger: Logger) throws -> any Service {
        guard endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://") else {
            throw CommandFailure.badInput("--otlp-endpoint must be an http:// or https:// URL, not \(endpoint)")
        }
        guard protocols.contains(name) else {
            throw CommandFailure.badInput("--otlp-protocol must be one of \(protocols.joined(separator: ", ")), not \(name)")
        }
        #if OTel
        var configuration = OTel.Configuration.default
        configuration.serviceName = "eventstore"
        configuration.diagnosticLogger = .custom(logger)
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.otlpExporter.endpoint = endpoint
        configuration.traces.otlpExporter.protocol = name == "http/json" ? .httpJSON : .httpProtobuf
        return try OTel.bootstrap(configuration: configuration)
        #else
        throw CommandFailure.badInput("this build exports no traces: build with --traits OTel for --otlp-endpoint")
        #endif
    }
}
