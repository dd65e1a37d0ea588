import Foundation
import KubeAPI
import PylonTestSupport
import Testing

/// Pylon's plugin and the reference plugins (Debian's containernetworking-plugins: `bridge`, which runs
/// `host-local`) given the same configuration, each on a node namespace of its own with two pods: the results, the
/// links, addresses, routes, sysctls and IPAM store files they leave must be the same, and the pods must reach their
/// gateway and each other.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root for network namespaces"))
struct ReferenceConformanceTests {
    static let bridgePlugin = CNIInvoker.referenceDirectory + "/bridge"

    /// A configuration as both plugins take it (`TYPE` and `DATADIR` are filled in per plugin).
    struct Scenario: Sendable, CustomTestStringConvertible {
        let name: String
        let body: String
        let pings: [String]
        var testDescription: String { name }

        func config(type: String, dataDirectory: String) -> String {
            body.replacingOccurrences(of: "TYPE", with: type).replacingOccurrences(of: "DATADIR", with: dataDirectory)
        }
    }

    static let scenarios = [
        Scenario(
            name: "flannel's delegate in K3s",
            body: """
                {"cniVersion":"1.0.0","name":"cbr0","type":"TYPE","bridge":"cni0","isGateway":true,
                 "isDefaultGateway":true,"hairpinMode":true,"forceAddress":true,"mtu":1450,"ipMasq":false,
                 "ipam":{"type":"host-local","ranges":[[{"subnet":"10.42.0.0/24"}]],
                         "routes":[{"dst":"10.42.0.0/16"}],"dataDir":"DATADIR"}}
                """, pings: ["10.42.0.1", "10.42.0.3"]),
        Scenario(
            name: "dual-stack ranges",
            body: """
                {"cniVersion":"1.0.0","name":"dual","type":"TYPE","bridge":"cni0","isDefaultGateway":true,"mtu":1400,
                 "ipam":{"type":"host-local","dataDir":"DATADIR",
                         "ranges":[[{"subnet":"10.42.1.0/24"}],[{"subnet":"2001:db8:42:1::/64"}]]}}
                """, pings: ["10.42.1.1", "10.42.1.3", "2001:db8:42:1::1", "2001:db8:42:1::3"]),
        Scenario(
            name: "explicit ranges, promiscuous bridge, no default route",
            body: """
                {"cniVersion":"0.4.0","name":"explicit","type":"TYPE","bridge":"br-test","isGateway":true,
                 "promiscMode":true,"ipam":{"type":"host-local","dataDir":"DATADIR","ranges":[[
                   {"subnet":"10.42.2.0/24","rangeStart":"10.42.2.100","rangeEnd":"10.42.2.100","gateway":"10.42.2.1"},
                   {"subnet":"10.42.2.0/24","rangeStart":"10.42.2.200","rangeEnd":"10.42.2.210"}]],
                   "routes":[{"dst":"198.51.100.0/24"}]}}
                """, pings: ["10.42.2.1", "10.42.2.200"]),
    ]

    /// The result with what differs by nature (MACs, the veth's random name) blanked.
    static func normalized(_ result: JSON?) -> JSON? {
        guard var result, var interfaces = result["interfaces"]?.arrayValue else { return result }
        for i in interfaces.indices {
            interfaces[i]["mac"] = "…"
            if interfaces[i]["name"]?.stringValue?.hasPrefix("veth") == true { interfaces[i]["name"] = "veth…" }
            if interfaces[i]["sandbox"] != nil { interfaces[i]["sandbox"] = "…" }
        }
        result["interfaces"] = .array(interfaces)
        return result
    }

    @Test(arguments: scenarios)
    func theSameConfigurationBuildsTheSameNetwork(scenario: Scenario) async throws {
        try await ScratchNamespaces.run(family: "pylc", count: 6) { scratch in
            let work = try TemporaryDirectory()
            var snapshots: [NodeSnapshot] = []
            var results: [[JSON?]] = []
            for (plugin, first) in [(PylonBinary.path, 0), (Self.bridgePlugin, 3)] {
                let node = scratch.names[first]
                let pods = [scratch.names[first + 1], scratch.names[first + 2]]
                let store = work.path + (first == 0 ? "/pylon" : "/reference")
                let invoker = CNIInvoker(plugin: plugin, node: node)
                let config = scenario.config(type: first == 0 ? "pylon" : "bridge", dataDirectory: store)
                var answers: [JSON?] = []
                for (n, pod) in pods.enumerated() {
                    let answer = try await invoker.run(
                        "ADD", container: "pod-\(n + 1)", netns: "/var/run/netns/\(pod)", config: config)
                    #expect(answer.status == 0, "\(plugin) ADD: \(answer.output) \(answer.standardError)")
                    answers.append(Self.normalized(answer.json))
                }
                for address in scenario.pings {
                    try await eventually("\(plugin): pod 1 reaches \(address)", timeout: .seconds(15)) {
                        let ping = try await ChildProcess.run(
                            "/usr/sbin/ip", ["netns", "exec", pods[0], "ping", "-c", "1", "-W", "1", address])
                        return ping.succeeded
                    }
                }
                results.append(answers)
                snapshots.append(
                    try await NodeSnapshot.take(node: node, pods: pods, bridge: scenario.bridge, store: store))
            }
            #expect(results[0] == results[1])
            #expect(snapshots[0].facts == snapshots[1].facts)
        }
    }
}

extension ReferenceConformanceTests.Scenario {
    var bridge: String { body.contains("br-test") ? "br-test" : "cni0" }
}
