// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "pylon",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "pylon", targets: ["pylon"]),
        .library(name: "NetCore", targets: ["NetCore"]),
        .library(name: "KubeAPI", targets: ["KubeAPI"]),
        .library(name: "LoadBalancerConfig", targets: ["LoadBalancerConfig"]),
        .library(name: "Allocator", targets: ["Allocator"]),
        .library(name: "KubeClient", targets: ["KubeClient"]),
        .library(name: "KubeServer", targets: ["KubeServer"]),
        .library(name: "PylonTestKit", targets: ["PylonTestKit"]),
        .library(name: "PylonTestSupport", targets: ["PylonTestSupport"]),
        // Decoders the fuzz targets (Fuzz/) link.
        .library(name: "Layer2", targets: ["Layer2"]),
        .library(name: "Netlink", targets: ["Netlink"]),
        .library(name: "BGP", targets: ["BGP"]),
        .library(name: "BFD", targets: ["BFD"]),
        .library(name: "Membership", targets: ["Membership"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // No default traits: FullFoundation would link Foundation and ICU for URL-encoded forms' date formatters,
        // ConfigurationSupport swift-configuration; Pylon uses neither.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),  // tests only
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // MARK: C shims
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", providers: [.apt(["libsqlite3-dev"])]),

        // MARK: Pure modules (no I/O)
        .target(name: "NetCore", swiftSettings: swiftSettings),
        .target(
            name: "KubeAPI",
            dependencies: [
                .product(name: "Collections", package: "swift-collections")
            ],
            swiftSettings: swiftSettings
        ),

        .target(name: "LoadBalancerConfig", dependencies: ["KubeAPI", "NetCore"], swiftSettings: swiftSettings),
        .target(name: "Allocator", dependencies: ["LoadBalancerConfig", "NetCore"], swiftSettings: swiftSettings),

        // MARK: I/O
        .target(
            name: "KubeClient",
            dependencies: [
                "KubeAPI",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Telemetry",
            dependencies: [
                "CLinuxNet",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Controller",
            dependencies: [
                "Allocator", "LoadBalancerConfig", "KubeClient", "KubeAPI", "NetCore",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KubeServer",
            dependencies: [
                "KubeAPI", "NetCore", "CSQLite",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Executable
        .executableTarget(
            name: "pylon",
            dependencies: [
                "KubeServer", "KubeClient", "Controller", "Speaker", "Layer2", "NetCore", "Telemetry", "Lab",
                "LabRuntime", "KubeAPI", "Explain",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings,
            // Linked by lld (the toolchain's; gold cannot pack) with relative relocations packed (DT_RELR, glibc
            // 2.36+): 1.7 MB of relocation entries that every process would read at start shrink to a few kilobytes.
            linkerSettings: [.unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"])]
        ),

        .executableTarget(
            name: "pylon-bench",
            dependencies: [
                "KubeClient", "KubeAPI", "PylonTestSupport", "CLinuxNet", "Layer2", "Lab", "NetCore", "BGP", "Speaker",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        .target(name: "CLinuxNet"),
        .target(name: "Netlink", swiftSettings: swiftSettings),
        .target(name: "Layer2", dependencies: ["NetCore", "Netlink"], swiftSettings: swiftSettings),
        .target(
            name: "Speaker",
            dependencies: [
                "CLinuxNet", "Netlink", "Layer2", "Election", "Membership", "LoadBalancerConfig", "KubeClient",
                "KubeAPI",
                "NetCore", "BGP", "BFD",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(name: "Lab", dependencies: ["NetCore"], swiftSettings: swiftSettings),
        .target(name: "BGP", dependencies: ["NetCore"], swiftSettings: swiftSettings),
        .target(name: "BFD", dependencies: ["NetCore"], swiftSettings: swiftSettings),
        .target(
            name: "Explain",
            dependencies: [
                "Allocator", "BGP", "Controller", "Election", "KubeAPI", "LoadBalancerConfig", "NetCore", "Speaker",
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "LabRuntime",
            dependencies: [
                "Lab", "KubeClient", "KubeAPI", "NetCore", "CLinuxNet",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Membership", dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Election",
            dependencies: ["NetCore", "LoadBalancerConfig", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),

        // MARK: Test support
        // The light kit (seeded generator, byte mutator, `eventually`) depends on nothing, for pure tests; the heavy
        // harness (API servers, LANs, routers, processes) is for integration tests and re-exports the kit.
        .target(name: "PylonTestKit", swiftSettings: swiftSettings),
        .target(
            name: "PylonTestSupport",
            dependencies: [
                "PylonTestKit", "KubeServer", "KubeAPI", "KubeClient", "NetCore", "Lab", "LoadBalancerConfig",
                "Speaker",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Tests
        .testTarget(name: "NetCoreTests", dependencies: ["NetCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "Layer2Tests", dependencies: ["Layer2", "Netlink", "NetCore", "PylonTestKit"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "NetlinkTests", dependencies: ["Netlink", "PylonTestKit"], swiftSettings: swiftSettings),
        .testTarget(
            name: "SpeakerTests",
            dependencies: [
                "Speaker", "Lab", "Layer2", "Election", "LoadBalancerConfig", "KubeClient", "KubeAPI", "NetCore",
                "PylonTestSupport", "BGP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LabTests",
            dependencies: [
                "Lab", "LabRuntime", "Explain", "LoadBalancerConfig", "KubeAPI", "NetCore", "PylonTestSupport",
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "MembershipTests",
            dependencies: ["Membership", "PylonTestKit", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ElectionTests",
            dependencies: [
                "Election", "LoadBalancerConfig", "KubeAPI", "NetCore",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LoadBalancerConfigTests", dependencies: ["LoadBalancerConfig", "KubeAPI", "NetCore"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "AllocatorTests",
            dependencies: ["Allocator", "LoadBalancerConfig", "KubeAPI", "NetCore", "PylonTestKit"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "ControllerTests",
            dependencies: ["Controller", "Allocator", "KubeClient", "KubeAPI", "NetCore", "PylonTestSupport"],
            swiftSettings: swiftSettings
        ),
        // Yams (libyaml) only as the reference that Pylon's own YAML reader is compared with.
        .testTarget(
            name: "KubeAPITests", dependencies: ["KubeAPI", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "BGPTests", dependencies: ["BGP", "NetCore", "PylonTestKit"], swiftSettings: swiftSettings),
        .testTarget(name: "BFDTests", dependencies: ["BFD", "PylonTestKit"], swiftSettings: swiftSettings),
        .testTarget(name: "ExplainTests", dependencies: ["Explain", "KubeAPI"], swiftSettings: swiftSettings),
        .testTarget(
            name: "KubeServerTests",
            dependencies: [
                "KubeServer", "KubeAPI", "KubeClient", "PylonTestSupport", "NetCore",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TelemetryTests",
            dependencies: ["Telemetry"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KubeClientTests",
            dependencies: ["KubeClient", "KubeAPI", "PylonTestSupport"],
            swiftSettings: swiftSettings
        ),
    ]
)
