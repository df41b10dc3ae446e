import EventStore
import Foundation
import Testing

/// What a conformance case needs of the store it is given.
public struct StoreSettings: Sendable, Hashable {
    /// How many events a load may fetch at a time. Paging cases set it small to cross page boundaries.
    public var readBatchSize: Int

    /// Settings for a case.
    /// - Parameter readBatchSize: how many events a load may fetch at a time (100 by default).
    public init(readBatchSize: Int = 100) {
        self.readBatchSize = readBatchSize
    }

    /// The old name of ``readBatchSize``.
    @available(*, deprecated, renamed: "readBatchSize")
    public var loadBatchSize: Int {
        get { readBatchSize }
        set { readBatchSize = newValue }
    }

    /// The old spelling of ``init(readBatchSize:)``.
    @available(*, deprecated, renamed: "init(readBatchSize:)")
    public init(loadBatchSize: Int) { self.init(readBatchSize: loadBatchSize) }
}

/// Opens a fresh, empty store with the given settings, runs the body on it and cleans up after it.
public typealias StoreProvider = @Sendable (
    _ settings: StoreSettings, _ body: @Sendable (any EventStore) async throws -> Void
) async throws -> Void

/// One behaviour every backend must show.
public struct ConformanceCase: Sendable, CustomTestStringConvertible, CustomStringConvertible {
    /// The feature the case belongs to (`streams`, `load`, `matcher`, …).
    public let feature: String
    /// The behaviour, named as a sentence in camel case (`loadReverseReturnsNewestFirst`).
    public let name: String
    let settings: StoreSettings
    let body: @Sendable (any EventStore) async throws -> Void

    init(
        _ feature: String, _ name: String, settings: StoreSettings = StoreSettings(),
        _ body: @escaping @Sendable (any EventStore) async throws -> Void
    ) {
        self.feature = feature
        self.name = name
        self.settings = settings
        self.body = body
    }

    /// How Swift Testing names the case among a test's arguments: `feature: name`
    /// (`load: loadReverseReturnsNewestFirst`).
    public var testDescription: String { "\(feature): \(name)" }
    /// The case as text: `feature: name`, as ``testDescription``.
    public var description: String { testDescription }

    /// Runs the case on a fresh store from `provider`.
    public func run(with provider: StoreProvider) async throws {
        try await provider(settings, body)
    }
}

/// The behaviour suite every backend must pass.
///
/// A backend's test target runs every case on a fresh store:
/// ```swift
/// @Test(arguments: EventStoreConformance.cases)
/// func conformance(_ testCase: ConformanceCase) async throws {
///     try await testCase.run { settings, body in
///         try await body(InMemoryEventStore(readBatchSize: settings.readBatchSize))
///     }
/// }
/// ```
public enum EventStoreConformance {
    /// The cases a backend's tests run: every case, or those whose `feature/name` contains the environment
    /// variable `EVENTSTORE_CONFORMANCE_CASE` when it is set (to run one case while working on it).
    public static var cases: [ConformanceCase] {
        guard let only = ProcessInfo.processInfo.environment["EVENTSTORE_CONFORMANCE_CASE"], !only.isEmpty else { return allCases }
        return allCases.filter { "\($0.feature)/\($0.name)".contains(only) }
    }

    /// Every case, whatever the environment says.
    public static var allCases: [ConformanceCase] {
        streamCases + expectedVersionCases + duplicateCases + loadCases + payloadCases + matcherCases
            + listingCases + transactionCases + concurrencyCases + validationCases + typedEventCases + pluginCases + subscriptionCases
            + eventSourcingCases + projectionCases + integrityCases + telemetryCases + consumerGroupCases + retentionCases + deletionCases
    }
}
