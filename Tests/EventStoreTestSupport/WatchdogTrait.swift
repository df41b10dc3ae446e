import Testing

/// Runs each test (each case of a parameterized test) under a ``Watchdog``: past `limit` the test process
/// ends, naming the test and its step. On a suite it applies to every test inside.
public struct WatchdogTrait: SuiteTrait, TestTrait, TestScoping {
    /// The time each test may take.
    public var limit: Duration

    /// The limit of `.watchdog()`: 5 minutes, for the slowest test on a loaded two-core machine.
    public static let defaultLimit: Duration = .seconds(300)

    public var isRecursive: Bool { true }

    public func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
        // Once per test case: a suite's own scope would time the whole suite.
        testCase == nil ? nil : self
    }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        try await Watchdog.run(Self.name(of: test), limit: limit) { try await function() }
    }

    /// "Suite/test()" with the suite's display name where it has one.
    static func name(of test: Test) -> String {
        let components = test.id.nameComponents
        let suite = components.dropLast().joined(separator: ".")
        let function = components.last ?? test.name
        let display = test.displayName.map { " \"\($0)\"" } ?? ""
        return suite.isEmpty ? "\(function)\(display)" : "\(suite)/\(function)\(display)"
    }
}

extension Trait where Self == WatchdogTrait {
    /// Ends the test process when a test runs longer than `limit` (see ``Watchdog``).
    public static func watchdog(_ limit: Duration = WatchdogTrait.defaultLimit) -> Self { WatchdogTrait(limit: limit) }
}
