import Foundation
import KubeAPI
import PylonTestSupport
import Testing

/// K3s' `10-flannel.conflist` entry with `"type": "pylon"`: the plugin reads the node's `subnet.env` and builds what
/// flannel's plugin would have delegated to the reference `bridge` — compared here with `bridge` given that
/// delegate — and keeps flannel's per-container record so a node can go back to flannel's plugin.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root for network namespaces"))
struct FlannelModeTests {
    @Test func k3sConflistEntryBuildsWhatFlannelDelegates() async throws {
        try await ScratchNamespaces.run(family: "pylc", count: 4) { scratch in
            let work = try TemporaryDirectory()
            try "FLANNEL_NETWORK=10.42.0.0/16\nFLANNEL_SUBNET=10.42.5.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n"
                .write(toFile: work.path + "/subnet.env", atomically: true, encoding: .utf8)
            let pylonConfig = """
                {"cniVersion":"1.0.0","name":"cbr0","type":"pylon","subnetFile":"\(work.path)/subnet.env",
                 "dataDir":"\(work.path)/flannel","ipam":{"dataDir":"\(work.path)/pylon"},
                 "delegate":{"hairpinMode":true,"forceAddress":true,"isDefaultGateway":true}}
                """
            // What flannel's plugin hands to bridge for the same subnet.env and conflist entry.
            let delegated = """
                {"cniVersion":"1.0.0","name":"cbr0","type":"bridge","hairpinMode":true,"forceAddress":true,
                 "isDefaultGateway":true,"isGateway":true,"ipMasq":false,"mtu":1450,
                 "ipam":{"type":"host-local","ranges":[[{"subnet":"10.42.5.0/24"}]],"routes":[{"dst":"10.42.0.0/16"}],
                         "dataDir":"\(work.path)/reference"}}
                """
            var snapshots: [NodeSnapshot] = []
            var results: [JSON?] = []
            for (plugin, config, first, store) in [
                (PylonBinary.path, pylonConfig, 0, "pylon"),
                (ReferenceConformanceTests.bridgePlugin, delegated, 2, "reference"),
            ] {
                let invoker = CNIInvoker(plugin: plugin, node: scratch.names[first])
                let answer = try await invoker.run(
                    "ADD", container: "pod-1", netns: "/var/run/netns/\(scratch.names[first + 1])", config: config)
                #expect(answer.status == 0, "\(answer.output)")
                results.append(ReferenceConformanceTests.normalized(answer.json))
                snapshots.append(
                    try await NodeSnapshot.take(
                        node: scratch.names[first], pods: [scratch.names[first + 1]], store: work.path + "/" + store))
            }
            #expect(results[0] == results[1])
            #expect(snapshots[0].facts == snapshots[1].facts)

            let record = try JSONParser.parse(try String(contentsOfFile: work.path + "/flannel/pod-1", encoding: .utf8))
            #expect(record["type"] == "bridge" && record["ipMasq"] == false && record["mtu"] == 1450)
            #expect(record[path: ["ipam", "ranges"]] == [[["subnet": "10.42.5.0/24"]]])
            #expect(record[path: ["ipam", "routes"]] == [["dst": "10.42.0.0/16"]])

            let pylon = CNIInvoker(plugin: PylonBinary.path, node: scratch.names[0])
            let deleted = try await pylon.run(
                "DEL", container: "pod-1", netns: "/var/run/netns/\(scratch.names[1])", config: pylonConfig)
            #expect(deleted.status == 0, "\(deleted.output)")
            #expect(!FileManager.default.fileExists(atPath: work.path + "/flannel/pod-1"))
            let held = try FileManager.default.contentsOfDirectory(atPath: work.path + "/pylon/cbr0")
            #expect(held.allSatisfy { $0 == "lock" || $0.hasPrefix("last_reserved_ip") }, "\(held)")
        }
    }
}
