// swift-tools-version:6.1
// Pylon's modules, layer by layer. Sources/ is grouped by product area (Basics, Kube, LoadBalancer, Lab,
// Executables, TestSupport; later PodNetwork, ServiceProxy, DNS, Ingress); this file by layer, each saying what it
// may import. tests/python/test_layers.py checks the rules of the pure layer on every run of the suite.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// A module in `Sources/<area>/<name>`. A pure one is marked with the `PYLON_PURE_MODULE` condition, which the
/// layer check reads.
func module(_ name: String, in area: String, pure: Bool, _ dependencies: [Target.Dependency] = []) -> Target {
    .target(
        name: name, dependencies: dependencies, path: "Sources/\(area)/\(name)",
        swiftSettings: swiftSettings + (pure ? [.define("PYLON_PURE_MODULE")] : []))
}

func product(_ name: String, _ package: String) -> Target.Dependency { .product(name: name, package: package) }

let nio = [product("NIOCore", "swift-nio"), product("NIOPosix", "swift-nio")]
let logging = product("Logging", "swift-log")
let metrics = product("Metrics", "swift-metrics")
let lifecycle = product("ServiceLifecycle", "swift-service-lifecycle")
let collections = product("Collections", "swift-collections")
let crypto = product("Crypto", "swift-crypto")

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
        .library(name: "CNI", targets: ["CNI"]),
        .library(name: "Overlay", targets: ["Overlay"]),
        .library(name: "Proxy", targets: ["Proxy"]),
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
        // MARK: 1. C shims — kernel and library interfaces Glibc does not expose. Used by the I/O layer only.
        .target(name: "CLinuxNet", path: "Sources/Basics/CLinuxNet"),
        .systemLibrary(name: "CSQLite", path: "Sources/Kube/CSQLite", providers: [.apt(["libsqlite3-dev"])]),

        // MARK: 2. Pure modules — values, codecs, decisions and state machines; no I/O. They may import only other
        // pure modules, the Swift standard library, Synchronization, swift-collections and swift-crypto: never
        // Foundation, Glibc, Dispatch, NIO or a C shim.
        module("NetCore", in: "Basics", pure: true),
        module("Netlink", in: "Basics", pure: true, ["NetCore"]),
        module("NFTables", in: "Basics", pure: true, ["Netlink", "NetCore"]),
        module("KubeAPI", in: "Kube", pure: true, [collections]),
        module("LoadBalancerConfig", in: "LoadBalancer", pure: true, ["KubeAPI", "NetCore", collections]),
        module("Allocator", in: "LoadBalancer", pure: true, ["LoadBalancerConfig", "NetCore"]),
        module("Election", in: "LoadBalancer", pure: true, ["NetCore", "LoadBalancerConfig", crypto]),
        module("Membership", in: "LoadBalancer", pure: true, [crypto]),
        module("Layer2", in: "LoadBalancer", pure: true, ["NetCore", "Netlink"]),
        module("BGP", in: "LoadBalancer", pure: true, ["NetCore"]),
        module("BFD", in: "LoadBalancer", pure: true, ["NetCore"]),
        module(
            "Announcement", in: "LoadBalancer", pure: true,
            ["Allocator", "BGP", "Election", "KubeAPI", "LoadBalancerConfig", "NetCore", collections]),
        module(
            "Explain", in: "LoadBalancer", pure: true,
            ["Allocator", "Announcement", "BGP", "Election", "KubeAPI", "LoadBalancerConfig", "NetCore", collections]),
        module(
            "CNI", in: "PodNetwork", pure: true,
            ["KubeAPI", "NetCore", "NFTables", product("OrderedCollections", "swift-collections")]),
        module(
            "Overlay", in: "PodNetwork", pure: true,
            ["CNI", "KubeAPI", "NetCore", "Netlink", "NFTables", product("OrderedCollections", "swift-collections")]),
        module("Lab", in: "Lab", pure: true, ["NetCore", "KubeAPI", collections]),
        module("Proxy", in: "ServiceProxy", pure: true, ["KubeAPI", "NetCore", "Netlink", "NFTables", collections]),

        // MARK: 3. I/O — sockets, files, processes, the kernel; each long-running piece a `Service`. They may import
        // anything below them.
        module("Processes", in: "Basics", pure: false, ["CLinuxNet"]),
        module("Kernel", in: "Basics", pure: false, ["CLinuxNet", "Netlink", "NetCore"]),
        module("Files", in: "Basics", pure: false),
        module(
            "CNIPlugin", in: "PodNetwork", pure: false,
            [
                "CNI", "Kernel", "Netlink", "NFTables", "NetCore", "KubeAPI",
                product("OrderedCollections", "swift-collections"),
            ]),
        module(
            "OverlayAgent", in: "PodNetwork", pure: false,
            [
                "Overlay", "CNI", "Files", "Kernel", "Netlink", "NFTables", "NetCore", "KubeAPI", "KubeClient",
                "Processes",
                product("OrderedCollections", "swift-collections"), logging, metrics, lifecycle,
            ]),
        module(
            "Telemetry", in: "Basics", pure: false,
            [
                "CLinuxNet", product("Hummingbird", "hummingbird"), product("Prometheus", "swift-prometheus"), metrics,
                logging, product("NIOCore", "swift-nio"), lifecycle,
            ]),
        module(
            "KubeClient", in: "Kube", pure: false,
            [
                "KubeAPI", product("DequeModule", "swift-collections"), product("NIOHTTP1", "swift-nio"),
                product("NIOSSL", "swift-nio-ssl"), product("NIOTLS", "swift-nio"), logging, metrics, lifecycle,
            ] + nio),
        module(
            "KubeServer", in: "Kube", pure: false,
            [
                "KubeAPI", "NetCore", "Files", "CSQLite", product("Hummingbird", "hummingbird"),
                product("HummingbirdCore", "hummingbird"), product("HTTPTypes", "swift-http-types"),
                product("NIOSSL", "swift-nio-ssl"), product("NIOTLS", "swift-nio"), crypto,
                product("X509", "swift-certificates"), product("SwiftASN1", "swift-asn1"), logging, lifecycle,
            ] + nio),
        module(
            "Controller", in: "LoadBalancer", pure: false,
            [
                "Allocator", "Announcement", "LoadBalancerConfig", "KubeClient", "KubeAPI", "NetCore",
                product("DequeModule", "swift-collections"), logging, metrics, lifecycle,
            ]),
        module(
            "Speaker", in: "LoadBalancer", pure: false,
            [
                "CLinuxNet", "Kernel", "Netlink", "Layer2", "Election", "Membership", "LoadBalancerConfig",
                "KubeClient",
                "KubeAPI", "NetCore", "BGP", "BFD", "Announcement", crypto, logging, metrics, lifecycle,
            ] + nio),
        module(
            "ProxyAgent", in: "ServiceProxy", pure: false,
            [
                "Proxy", "Kernel", "Netlink", "NFTables", "NetCore", "KubeAPI", "KubeClient", "Processes", logging,
                metrics, lifecycle, product("NIOHTTP1", "swift-nio"),
            ] + nio),
        module(
            "LabRuntime", in: "Lab", pure: false,
            ["Lab", "Processes", "KubeClient", "KubeAPI", "NetCore", "CLinuxNet", logging, lifecycle] + nio),

        // MARK: 4. Executables — argument parsing and wiring only.
        .executableTarget(
            name: "pylon",
            dependencies: [
                "KubeServer", "KubeClient", "Controller", "Speaker", "Layer2", "NetCore", "Telemetry", "Lab",
                "LabRuntime", "KubeAPI", "Explain", "CNIPlugin", "CNI", "Files", "Kernel", "Overlay", "OverlayAgent",
                "ProxyAgent",
                product("ArgumentParser", "swift-argument-parser"), product("UnixSignals", "swift-service-lifecycle"),
                logging, lifecycle,
            ],
            path: "Sources/Executables/pylon",
            swiftSettings: swiftSettings,
            // Linked by lld (the toolchain's; gold cannot pack) with relative relocations packed (DT_RELR, glibc
            // 2.36+): 1.7 MB of relocation entries that every process would read at start shrink to a few kilobytes.
            linkerSettings: [.unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"])]
        ),
        .executableTarget(
            name: "pylon-bench",
            dependencies: [
                "KubeClient", "KubeAPI", "PylonTestSupport", "Processes", "CLinuxNet", "Layer2", "Lab", "LabRuntime",
                "NetCore", "BGP", "Speaker", "Kernel", "Netlink", "Overlay", "OverlayAgent", "Proxy", "NFTables",
                logging, lifecycle,
                product("NIOCore", "swift-nio"),
            ],
            path: "Sources/Executables/pylon-bench",
            swiftSettings: swiftSettings
        ),

        // MARK: 5. Test support — the light kit (seeded generator, byte mutator, `eventually`) depends on nothing,
        // for pure tests; the heavy harness (API servers, LANs, routers, processes) is for integration tests and
        // re-exports the kit.
        .target(name: "PylonTestKit", path: "Sources/TestSupport/PylonTestKit", swiftSettings: swiftSettings),
        .target(
            name: "PylonTestSupport",
            dependencies: [
                "PylonTestKit", "Processes", "Kernel", "KubeServer", "KubeAPI", "KubeClient", "NetCore", "Lab",
                "LabRuntime",
                "LoadBalancerConfig", "Speaker", logging, lifecycle,
            ] + nio,
            path: "Sources/TestSupport/PylonTestSupport",
            swiftSettings: swiftSettings
        ),

        // MARK: 6. Tests — a pure module's tests depend on pure modules and PylonTestKit only.
        .testTarget(name: "NetCoreTests", dependencies: ["NetCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "NetlinkTests", dependencies: ["Netlink", "NFTables", "CNI", "Overlay", "NetCore", "PylonTestKit"],
            exclude: ["Captures"],
            swiftSettings: swiftSettings),
        // Yams (libyaml) only as the reference that Pylon's own YAML reader is compared with.
        .testTarget(
            name: "KubeAPITests", dependencies: ["KubeAPI", product("Yams", "Yams")], swiftSettings: swiftSettings),
        .testTarget(
            name: "LoadBalancerConfigTests", dependencies: ["LoadBalancerConfig", "KubeAPI", "NetCore"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "AllocatorTests",
            dependencies: ["Allocator", "LoadBalancerConfig", "KubeAPI", "NetCore", "PylonTestKit"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "ElectionTests", dependencies: ["Election", "LoadBalancerConfig", "KubeAPI", "NetCore", crypto],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "MembershipTests", dependencies: ["Membership", "PylonTestKit", crypto], swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "Layer2Tests", dependencies: ["Layer2", "Netlink", "NetCore", "PylonTestKit"], exclude: ["Captures"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "BGPTests", dependencies: ["BGP", "NetCore", "PylonTestKit"], exclude: ["Captures"],
            swiftSettings: swiftSettings),
        .testTarget(name: "BFDTests", dependencies: ["BFD", "PylonTestKit"], swiftSettings: swiftSettings),
        .testTarget(
            name: "AnnouncementTests",
            dependencies: ["Announcement", "Allocator", "BGP", "Election", "KubeAPI", "LoadBalancerConfig", "NetCore"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "ExplainTests", dependencies: ["Explain", "KubeAPI"], exclude: ["Golden"],
            swiftSettings: swiftSettings),
        .testTarget(name: "CNITests", dependencies: ["CNI", "KubeAPI", "NetCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ProxyAgentTests",
            dependencies: [
                "ProxyAgent", "Kernel", "NetCore", "KubeAPI", "KubeClient", "PylonTestSupport", "PylonTestKit",
                "Processes", logging,
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "ProxyTests",
            dependencies: ["Proxy", "KubeAPI", "NetCore", "Netlink", "NFTables", "PylonTestKit", collections],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "OverlayTests", dependencies: ["Overlay", "CNI", "KubeAPI", "NetCore", "Netlink"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "OverlayAgentTests",
            dependencies: [
                "OverlayAgent", "Overlay", "Kernel", "Netlink", "NetCore", "KubeAPI", "KubeClient", "PylonTestSupport",
                "PylonTestKit", "Processes", logging,
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "CNIPluginTests", dependencies: ["CNI", "KubeAPI", "NetCore", "PylonTestSupport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "KernelTests", dependencies: ["Kernel", "Netlink", "NFTables", "NetCore", "PylonTestSupport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "ProcessesTests", dependencies: ["Processes", "PylonTestKit"], swiftSettings: swiftSettings),
        .testTarget(name: "TelemetryTests", dependencies: ["Telemetry"], swiftSettings: swiftSettings),
        .testTarget(
            name: "KubeClientTests",
            dependencies: [
                "KubeClient", "KubeAPI", "PylonTestSupport", product("NIOHTTP1", "swift-nio"),
                product("NIOEmbedded", "swift-nio"),
            ] + nio,
            swiftSettings: swiftSettings),
        .testTarget(
            name: "KubeServerTests",
            dependencies: [
                "KubeServer", "KubeAPI", "KubeClient", "PylonTestSupport", "NetCore", logging,
                product("NIOCore", "swift-nio"), product("NIOEmbedded", "swift-nio"), product("NIOTLS", "swift-nio"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "ControllerTests",
            dependencies: [
                "Controller", "Announcement", "Allocator", "KubeClient", "KubeAPI", "NetCore", "PylonTestSupport",
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "SpeakerTests",
            dependencies: [
                "Speaker", "Announcement", "Lab", "LabRuntime", "Layer2", "Election", "LoadBalancerConfig",
                "KubeClient", "KubeAPI", "NetCore", "PylonTestSupport", "BGP", logging, lifecycle,
                product("NIOEmbedded", "swift-nio"),
            ] + nio,
            swiftSettings: swiftSettings),
        .testTarget(
            name: "LabTests", dependencies: ["Lab", "NetCore", "KubeAPI", collections], swiftSettings: swiftSettings),
        .testTarget(
            name: "LabRuntimeTests",
            dependencies: [
                "Lab", "LabRuntime", "Explain", "LoadBalancerConfig", "KubeAPI", "KubeClient", "NetCore", "Files",
                "PylonTestSupport",
            ],
            swiftSettings: swiftSettings),
    ]
)
