// swift-tools-version:6.1
// Coverage-guided fuzz targets (libFuzzer with AddressSanitizer) for Pylon's decoders. Built and run by
// scripts/fuzz, which passes `-sanitize=fuzzer,address`; each target's main hands its test function to libFuzzer
// (`FuzzDriver.runFuzzer`). A separate package so that the product's own builds never carry the sanitizers.
import PackageDescription

let targets = [
    "fuzz-yaml": ["KubeAPI"], "fuzz-json": ["KubeAPI"], "fuzz-patch": ["KubeAPI"], "fuzz-selectors": ["KubeAPI"],
    "fuzz-ethernet": ["Layer2"], "fuzz-netlink": ["Netlink"], "fuzz-bgp": ["BGP"], "fuzz-bfd": ["BFD"],
    "fuzz-membership": ["Membership"], "fuzz-http": ["KubeAPI", "KubeClient"], "fuzz-protobuf": ["KubeAPI"],
    "fuzz-schema": ["KubeAPI"], "fuzz-regex": ["KubeAPI"], "fuzz-kubeconfig": ["KubeClient"],
    "fuzz-cni": ["CNI", "KubeAPI"], "fuzz-overlay": ["Overlay", "KubeAPI", "NetCore"],
    "fuzz-proxy": ["Proxy", "KubeAPI", "NetCore"],
]

let package = Package(
    name: "pylon-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "pylon", path: ".."),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [.target(name: "FuzzDriver")]
        + targets.sorted { $0.key < $1.key }.map { name, modules in
            .executableTarget(
                name: name,
                dependencies: ["FuzzDriver"] + modules.map { .product(name: $0, package: "pylon") }
                    + (name == "fuzz-membership" ? [.product(name: "Crypto", package: "swift-crypto")] : [])
                    + (name == "fuzz-http" ? [.product(name: "NIOCore", package: "swift-nio")] : []),
                path: "Sources/\(name)")
        }
)
