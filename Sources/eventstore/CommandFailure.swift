import ArgumentParser
import EventStore
import Foundation

/// An error a command reports as one line on stderr with its exit status.
struct CommandFailure: Error, CustomStringConvertible {
    var message: String
    var exitCode: Int32

    var description: String { message }

    static func badInput(_ message: String) -> CommandFailure { CommandFailure(message: message, exitCode: 2) }

    /// Exit status by situation: 2 bad input, 3 not found, 4 conflict (or a projection running elsewhere), 1
    /// anything else.
    init(_ error: any Error) {
        switch error {
        case let failure as CommandFailure:
            self = failure
        case let error as EventStoreError:
            let code: Int32
            switch error.code {
            case .invalidArgument, .decodingFailed: code = 2
            case .streamNotFound, .streamDeleted, .projectionNotFound, .consumerGroupNotFound: code = 3
            case let c where c.isConflict || c == .projectionRunning: code = 4
            default: code = 1
            }
            self.init(message: error.description, exitCode: code)
        default:
            self.init(message: String(describing: error), exitCode: 1)
        }
    }

    init(message: String, exitCode: Int32) {
        self.message = message
        self.exitCode = exitCode
    }
}

/// Runs a command's work, turning any error into a one-line message and an exit status.
func reportingFailures(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch {
        let failure = CommandFailure(error)
        FileHandle.standardError.write(Data("eventstore: \(failure.message)\n".utf8))
        throw ExitCode(failure.exitCode)
    }
}
