// swift-tools-version: 6.1
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "swift-event-store",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "EventStore", targets: ["EventStore"]),
        .library(name: "EventStoreSQLite", targets: ["EventStoreSQLite"]),
        .library(name: "EventStorePostgres", targets: ["EventStorePostgres"]),
        .library(name: "EventStoreMySQL", targets: ["EventStoreMySQL"]),
        .library(name: "EventSourcing", targets: ["EventSourcing"]),
        .library(name: "EventStoreHTTP", targets: ["EventStoreHTTP"]),
        .library(name: "EventStoreConformance", targets: ["EventStoreConformance"]),
        .library(name: "EventStoreClient", targets: ["EventStoreClient"]),
        .executable(name: "eventstore", targets: ["eventstore"]),
    ],
    traits: [
        .trait(
            name: "MySQL",
            description: "The MySQL/MariaDB store and the mysql:// and mariadb:// URLs; needs libmariadb (apt-get install libmariadb-dev)."
        ),
        .trait(
            name: "OTel",
            description: "eventstore serve --otlp-endpoint: spans exported over OTLP/HTTP with swift-otel (a longer clean build)."
        ),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-async-algorithms", from: "1.1.4"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        // OTLP over HTTP only: its gRPC exporter would build gRPC as well.
        .package(url: "https://github.com/swift-otel/swift-otel", from: "1.6.0", traits: ["OTLPHTTP"]),
        // `swift package generate-documentation`: the DocC catalogs (scripts/docs).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .target(
            name: "EventStore",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "EventStoreSQL",
            dependencies: ["EventStore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]
        ),
        .target(
            name: "EventStoreSQLite",
            dependencies: ["EventStore", "EventStoreSQL", "CSQLite", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        // libpq, loaded at run time when installed: the PostgreSQL store's reader (no headers needed to build).
        .target(
            name: "CLibPQ",
            linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]
        ),
        .target(
            name: "EventStorePostgres",
            dependencies: [
                "EventStore", "EventStoreSQL", "CLibPQ",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .systemLibrary(
            name: "CMariaDB",
            pkgConfig: "libmariadb",
            providers: [.apt(["libmariadb-dev"]), .brew(["mariadb-connector-c"])]
        ),
        .target(
            name: "EventStoreMySQL",
            dependencies: [
                "EventStore", "EventStoreSQL", .product(name: "Logging", package: "swift-log"),
                .target(name: "CMariaDB", condition: .when(traits: ["MySQL"])),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "EventStoreHTTP",
            dependencies: [
                "EventStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: strictSettings
        ),
        // A remote store: `eventstore serve` over HTTP, behind the same protocols as a local one.
        .target(
            name: "EventStoreClient",
            dependencies: [
                "EventStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "EventSourcing",
            dependencies: ["EventStore"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "EventStoreConformance",
            dependencies: [
                "EventStore", "EventSourcing", .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The backends the command line opens by URL scheme (not a product): adding one is one entry here.
        .target(
            name: "EventStoreBackends",
            dependencies: [
                "EventStore", "EventStoreSQLite", "EventStorePostgres",
                .target(name: "EventStoreMySQL", condition: .when(traits: ["MySQL"])),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // `eventstore bench` (not a product): the workloads, and the raw baselines that call each database's
        // plain driver.
        .target(
            name: "EventStoreBenchmarks",
            dependencies: [
                "EventStore", "EventStoreBackends", "EventStoreClient", "EventStoreHTTP", "EventStoreSQLite", "EventStorePostgres",
                .target(name: "EventStoreMySQL", condition: .when(traits: ["MySQL"])),
                "CSQLite", "CLibPQ",
                .target(name: "CMariaDB", condition: .when(traits: ["MySQL"])),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "eventstore",
            dependencies: [
                "EventStore",
                "EventStoreBackends",
                "EventStoreBenchmarks",
                "EventStoreHTTP",
                "EventStoreSQL",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "OTel", package: "swift-otel", condition: .when(traits: ["OTel"])),
            ],
            swiftSettings: strictSettings
        ),
        // A writer that pauses before its commit, for the SQLite process tests (not a product).
        .executableTarget(
            name: "sqlite-test-writer",
            dependencies: ["EventStore", "EventStoreSQLite"],
            path: "Tests/SQLiteTestWriter",
            swiftSettings: strictSettings
        ),
        // What the test targets share: the watchdog that ends a stalled test run (not a product).
        .target(
            name: "EventStoreTestSupport",
            dependencies: [
                "EventStore", .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/EventStoreTestSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "EventStoreTests",
            dependencies: [
                "EventStore", "EventSourcing", "EventStoreSQLite", "EventStoreConformance", "EventStoreTestSupport",
                .product(name: "MetricsTestKit", package: "swift-metrics"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "EventStorePostgresTests",
            dependencies: [
                "EventStore", "EventStoreSQL", "EventStorePostgres", "EventStoreConformance", "EventStoreTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "EventStoreMySQLTests",
            dependencies: [
                "EventStore", "EventStoreSQL", "EventStoreConformance", "EventStoreTestSupport",
                .target(name: "EventStoreMySQL", condition: .when(traits: ["MySQL"])),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "EventStoreHTTPTests",
            dependencies: [
                "EventStore", "EventStoreHTTP", "EventStoreSQLite", "EventStoreTestSupport", "EventStoreConformance",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            // AsyncHTTPClient's types come from NIOHTTP1, which this target reaches only through it.
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        // The conformance suite through EventStoreClient, against a live server over each backend.
        .testTarget(
            name: "EventStoreClientTests",
            dependencies: [
                "EventStore", "EventStoreClient", "EventStoreHTTP", "EventStoreSQLite", "EventStorePostgres",
                "EventStoreConformance", "EventStoreTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // `eventstore serve` run as a process while its database is frozen, crashed or restarted.
        .testTarget(
            name: "EventStoreServeTests",
            dependencies: [
                "EventStore", "EventStoreBackends", "EventStoreClient", "EventStoreTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            // AsyncHTTPClient's types come from NIOHTTP1, which this target reaches only through it.
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        .testTarget(
            name: "EventStorePartitionTests",
            dependencies: [
                "EventStore", "EventStoreSQLite", "EventStorePostgres", "EventStoreConformance", "EventStoreTestSupport",
                .target(name: "EventStoreMySQL", condition: .when(traits: ["MySQL"])),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "EventStoreSQLTests",
            dependencies: ["EventStore", "EventStoreSQL", "EventStoreTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "EventStoreSQLiteTests",
            dependencies: [
                "EventStore", "EventSourcing", "EventStoreSQL", "EventStoreSQLite", "EventStoreConformance",
                "EventStoreTestSupport", "EventStoreBackends", "sqlite-test-writer",
            ],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
