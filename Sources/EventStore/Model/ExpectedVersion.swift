/// What a writer expects of a stream when it appends: optimistic concurrency.
///
/// A stream's version is the position of its last event, 0 for a stream without events.
public enum ExpectedVersion: Sendable, Hashable, CustomStringConvertible {
    /// No expectation; the stream must exist.
    case any
    /// The stream must not exist; the append creates it (with empty stream metadata).
    case noStream
    /// The stream must exist, at any version.
    case streamExists
    /// The stream must exist and be at exactly this version.
    case exact(Int)

    /// The text form of the CLI and HTTP API: `any`, `no-stream`, `exists` or the version number.
    public var description: String {
        switch self {
        case .any: return "any"
        case .noStream: return "no-stream"
        case .streamExists: return "exists"
        case let .exact(version): return String(version)
        }
    }

    /// Reads `any`, `no-stream`, `exists` or a version number (the text form of the CLI and HTTP API).
    public init?(_ text: String) {
        switch text.lowercased() {
        case "any": self = .any
        case "no-stream", "nostream", "no_stream": self = .noStream
        case "exists", "stream-exists": self = .streamExists
        default:
            guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let version = Int(text) else {
                return nil
            }
            self = .exact(version)
        }
    }
}
