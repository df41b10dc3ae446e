import ArgumentParser
import EventStore

struct QuickStart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quickstart",
        abstract: "Create the stream event_stream, append QuickStartSucceeded, load it and print its text.")

    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await reportingFailures {
            try await options.withStore { store in
                let stream: StreamName = "event_stream"
                if try await store.hasStream(stream) == false {
                    try await store.create(stream)
                }
                let version = try await store.loadReverse(stream, count: 1).collect().first?.position ?? 0
                try await store.append(
                    EventMessage(messageName: "QuickStartSucceeded", payload: ["text": "It works"]),
                    to: stream, expectedVersion: .exact(version))
                let matcher = try MetadataMatcher().property(.messageName, .equals, "QuickStartSucceeded")
                for try await event in try await store.loadReverse(stream, count: 1, matching: matcher) {
                    guard case let .string(text)? = try event.payload.value()["text"] else {
                        throw CommandFailure(message: "the event has no text", exitCode: 1)
                    }
                    print(text)
                }
            }
        }
    }
}
