// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "discovery-bridge",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "discovery-bridge", targets: ["discovery-bridge"]),
        .executable(name: "discovery-bridge-bench", targets: ["discovery-bridge-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        // Dependency-free helpers every target shares: trimming, duration units, whole-file reads.
        .target(name: "Basics", path: "Sources/Basics", swiftSettings: strict),
        // HAProxy's vocabulary as plain values (endpoint, admin state, live server, slot action); no text, no I/O.
        .target(name: "HAProxyModel", dependencies: ["Basics"], path: "Sources/HAProxyModel", swiftSettings: strict),
        // Core: model, config, provider protocol, desired state, the pure slot planner, the guard.
        .target(
            name: "DiscoveryCore",
            dependencies: ["Basics", "HAProxyModel", .product(name: "Logging", package: "swift-log")],
            path: "Sources/DiscoveryCore",
            swiftSettings: strict
        ),
        // The only code that speaks the HAProxy Runtime API.
        .target(
            name: "HAProxyRuntime",
            dependencies: ["Basics", "HAProxyModel", .product(name: "Logging", package: "swift-log")],
            path: "Sources/HAProxyRuntime",
            swiftSettings: strict
        ),
        // The bridge's memory: the slot table on disk, written atomically.
        .target(
            name: "StateStore",
            dependencies: ["Basics", "DiscoveryCore"],
            path: "Sources/StateStore",
            swiftSettings: strict
        ),
        // Version, git commit and compiler of this build, generated from VERSION before every build (no dependencies).
        .target(name: "BuildInfo", path: "Sources/BuildInfo", swiftSettings: strict, plugins: ["BuildInfoPlugin"]),
        .plugin(name: "BuildInfoPlugin", capability: .buildTool(), path: "Plugins/BuildInfoPlugin"),
        // The reconciler and the long-running services.
        .target(
            name: "Bridge",
            dependencies: [
                "DiscoveryCore", "HAProxyRuntime", "StateStore", "BuildInfo",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Sources/Bridge",
            swiftSettings: strict
        ),
        // libcurl's headers, as Debian ships them (libcurl4-openssl-dev); the library itself is loaded when the first HTTP
        // client starts (shim.h), so a bridge without HTTP providers never maps it.
        .systemLibrary(
            name: "CCurl",
            path: "Sources/CCurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // A small async HTTP client over libcurl, shared by the cloud providers.
        .target(
            name: "CurlHTTP",
            dependencies: ["CCurl", "Basics", .product(name: "Logging", package: "swift-log")],
            path: "Sources/CurlHTTP",
            swiftSettings: strict
        ),
        // Providers: one target each; the core never imports them.
        .target(
            name: "FileProvider",
            dependencies: ["Basics", "DiscoveryCore", .product(name: "Logging", package: "swift-log")],
            path: "providers/file",
            swiftSettings: strict
        ),
        .target(
            name: "ConsulProvider",
            dependencies: ["DiscoveryCore", "CurlHTTP", .product(name: "Logging", package: "swift-log")],
            path: "providers/consul",
            swiftSettings: strict
        ),
        .target(
            name: "EC2Provider",
            dependencies: ["DiscoveryCore", "CurlHTTP", .product(name: "Logging", package: "swift-log")],
            path: "providers/ec2",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "discovery-bridge",
            dependencies: [
                "DiscoveryCore", "Bridge", "HAProxyRuntime", "StateStore", "CurlHTTP",
                "FileProvider", "ConsulProvider", "EC2Provider", "BuildInfo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/discovery-bridge",
            swiftSettings: strict
        ),
        // Test support: starting real HAProxy, free ports, temp dirs, waiting with deadlines.
        .target(
            name: "TestSupport",
            dependencies: ["HAProxyRuntime", "DiscoveryCore", "CurlHTTP"],
            path: "Tests/TestSupport",
            swiftSettings: strict
        ),
        // `make bench`: propagation latency, reload comparison, cold sync, cost, EC2 (never timed unit tests).
        .executableTarget(
            name: "discovery-bridge-bench",
            dependencies: [
                "Bridge", "DiscoveryCore", "HAProxyRuntime", "StateStore", "FileProvider", "ConsulProvider", "EC2Provider", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/Bench",
            swiftSettings: strict
        ),
        .testTarget(name: "DiscoveryCoreTests", dependencies: ["DiscoveryCore", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "HAProxyRuntimeTests", dependencies: ["HAProxyRuntime", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "StateStoreTests", dependencies: ["StateStore", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "FileProviderTests", dependencies: ["FileProvider", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "CurlHTTPTests", dependencies: ["CurlHTTP", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "ConsulProviderTests", dependencies: ["ConsulProvider", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "EC2ProviderTests", dependencies: ["EC2Provider", "TestSupport"], swiftSettings: strict),
        // Fault drills (`make drills` runs them at full scale; `make test` at CI scale).
        .testTarget(
            name: "DrillTests",
            dependencies: ["Bridge", "FileProvider", "ConsulProvider", "EC2Provider", "StateStore", "HAProxyRuntime", "DiscoveryCore", "TestSupport", "discovery-bridge"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "BridgeTests",
            dependencies: ["Bridge", "FileProvider", "ConsulProvider", "EC2Provider", "TestSupport", "discovery-bridge"],
            swiftSettings: strict
        ),
    ]
)
