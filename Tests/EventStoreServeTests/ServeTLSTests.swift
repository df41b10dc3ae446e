import AsyncHTTPClient
import EventStore
import EventStoreClient
import EventStoreTestSupport
import Foundation
import NIOCore
import NIOSSL
import Testing

/// Issue 24: `eventstore serve --tls-certificate --tls-key` speaks only TLS, so that tokens and events never
/// cross the network in the clear; a client must trust its certificate.
@Suite("eventstore serve over TLS", .watchdog())
struct ServeTLSTests {
    /// A self-signed certificate for 127.0.0.1 (openssl, from Debian), and its key, in `directory`.
    static func certificate(in directory: URL) async throws -> (certificate: String, key: String) {
        let (certificate, key) = (directory.appendingPathComponent("cert.pem").path, directory.appendingPathComponent("key.pem").path)
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", certificate,
        ]
        // Nothing to read: a prompt ends at once instead of waiting for a terminal.
        openssl.standardInput = FileHandle.nullDevice
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        try ProcessLaunch.run(openssl)
        let deadline = ContinuousClock.now + .seconds(30)
        while openssl.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        guard !openssl.isRunning else {
            openssl.terminate()
            throw ServeFailure("openssl did not make a certificate within 30 s")
        }
        guard openssl.terminationStatus == 0 else { throw ServeFailure("openssl could not make a certificate") }
        return (certificate, key)
    }

    @Test func serveSpeaksOnlyTLSAndClientsMustTrustItsCertificate() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("es-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (certificatePath, keyPath) = try await Self.certificate(in: directory)
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(certificatePath))
        var settings = HTTPClient.Configuration(tlsConfiguration: tls)
        settings.connectionPool.retryConnectionEstablishment = false
        settings.timeout.connect = .seconds(5)
        let trusting = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: settings)
        let database = "sqlite:" + directory.appendingPathComponent("events.sqlite").path
        let serve = try await ServeProcess.start(
            database: database, in: directory, ["--tls-certificate", certificatePath, "--tls-key", keyPath, "--token", "secret"],
            client: trusting, scheme: "https")
        do {
            #expect(serve.output.contains("on https://127.0.0.1:\(serve.port)"), "\(serve.output)")
            // A write and a read over TLS, with the token; links say https.
            var post = HTTPClientRequest(url: "\(serve.baseURL)/stream/tls-1")
            post.method = .POST
            post.headers.add(name: "Authorization", value: "Bearer secret")
            post.headers.add(name: "Content-Type", value: "application/json")
            post.body = .bytes(ByteBuffer(string: #"[{"message_name":"Sealed","payload":{"n":1}}]"#))
            let posted = try await trusting.execute(post, timeout: .seconds(10))
            _ = try await posted.body.collect(upTo: 1 << 16)
            #expect(posted.status.code == 204)
            var get = HTTPClientRequest(url: "\(serve.baseURL)/stream/tls-1")
            get.headers.add(name: "Authorization", value: "Bearer secret")
            get.headers.add(name: "Accept", value: "application/json")
            let read = try await trusting.execute(get, timeout: .seconds(10))
            let body = String(buffer: try await read.body.collect(upTo: 1 << 20))
            #expect(read.status.code == 200 && body.contains("Sealed") && body.contains("https://127.0.0.1:\(serve.port)/"), "\(body)")
            // EventStoreClient over TLS: it trusts the certificate it is given, and no other.
            var clientSettings = EventStoreClientConfiguration(token: "secret")
            clientSettings.tls = tls
            let client = try EventStoreClient(url: serve.baseURL, configuration: clientSettings)
            try await client.append([EventMessage(messageName: "Sealed again")], to: "tls-1", expectedVersion: .exact(1))
            #expect(try await client.load("tls-1").collect().map(\.messageName) == ["Sealed", "Sealed again"])
            try await client.shutdown()
            var untrustingSettings = EventStoreClientConfiguration(token: "secret")
            untrustingSettings.retries = 0
            let untrusting = try EventStoreClient(url: serve.baseURL, configuration: untrustingSettings)
            await #expect(throws: EventStoreError.self) { try await untrusting.hasStream("tls-1") }
            try await untrusting.shutdown()
            // Plain HTTP on the same port gets no HTTP answer, and a client that does not trust the
            // certificate gets no connection.
            await #expect(throws: (any Error).self) {
                _ = try await testClient.execute(HTTPClientRequest(url: "http://127.0.0.1:\(serve.port)/health/live"), timeout: .seconds(10))
            }
            await #expect(throws: (any Error).self) {
                _ = try await testClient.execute(HTTPClientRequest(url: "\(serve.baseURL)/health/live"), timeout: .seconds(10))
            }
        } catch {
            Issue.record(error)
        }
        #expect(await serve.terminate(within: .seconds(30)) != nil, "serve exited on SIGTERM")
        try await trusting.shutdown()

        // Refused at start: half the pair, or a file that holds no key.
        for (arguments, says) in [
            (["--tls-certificate", certificatePath], "go together"),
            (["--tls-certificate", certificatePath, "--tls-key", certificatePath], "private key"),
        ] {
            let (status, output) = try await Self.refusal(["serve", "--database", database, "--port", "1"] + arguments)
            #expect(status == 2 && output.contains(says), "\(output)")
        }
    }

    /// The exit status and output of `eventstore ARGUMENTS…`, expected to end within 30 s.
    static func refusal(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = ServeProcess.executable
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try ProcessLaunch.run(process)
        let deadline = ContinuousClock.now + .seconds(30)
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        guard !process.isRunning else {
            process.terminate()
            throw ServeFailure("eventstore \(arguments.joined(separator: " ")) did not end within 30 s")
        }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus, output)
    }
}
