import Foundation
import Testing

/// A throwaway database server that `scripts/test` starts and names in an environment variable. Without it
/// a suite skips, except in CI (`CI=true`), where a missing server is a failure.
public struct TestDatabaseServer: Sendable {
    /// The environment variable with the server's URL.
    public let variable: String
    /// What the server is, for messages ("a PostgreSQL database").
    public let what: String
    /// The URL, when the variable is set.
    public let url: String?

    public init(variable: String, what: String) {
        self.variable = variable
        self.what = what
        self.url = ProcessInfo.processInfo.environment[variable]
    }

    /// Whether this run is CI, where every server must be there.
    public static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

    /// Whether the suites of this server run: it is set, or this is CI (and they fail without it).
    public var shouldRun: Bool { url != nil || Self.isCI }

    /// Why the suites skip.
    public var skipMessage: String { "set \(variable) to \(what) (scripts/test starts one) to run these" }

    /// The URL. - Throws: a test failure when it is not set (in CI: the server did not start).
    public func requiredURL(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        try #require(url, "CI=true but \(variable) is not set: the server did not start", sourceLocation: sourceLocation)
    }

    /// A table prefix no other test uses.
    public static func uniquePrefix() -> String {
        "t" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased() + "_"
    }
}

/// The seeds of one chunk of the model check (``ModelCheckChunks/count`` chunks run side by side).
public enum ModelCheckChunks {
    public static let count = 4

    /// The seeds of chunk `index` out of `sequences`, from `first`.
    public static func seeds(_ index: Int, sequences: Int, first: UInt64) -> Range<UInt64> {
        let size = (sequences + count - 1) / count
        let start = first + UInt64(min(sequences, index * size))
        let end = first + UInt64(min(sequences, (index + 1) * size))
        return start..<end
    }
}
