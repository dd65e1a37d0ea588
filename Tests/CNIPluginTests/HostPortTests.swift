import Foundation
import KubeAPI
import PylonTestSupport
import Testing

/// Host ports (`runtimeConfig.portMappings`): Pylon's plugin alone against the reference chain `bridge` then
/// `portmap`, each on a node with a client on its LAN and a pod serving HTTP on port 80. The same connections must
/// work — from the client, from the node, from the node's localhost, from the pod to itself (hairpin) — the same
/// ones must not (a mapping bound to one host address), and after DEL none may.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root for network namespaces"))
struct HostPortTests {
    static let mappings = """
        "runtimeConfig":{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"},
          {"hostPort":8081,"containerPort":80,"protocol":"tcp","hostIP":"198.51.100.1"}]}
        """

    static func bridgeConfig(type: String, store: String, mappings: Bool) -> String {
        """
        {"cniVersion":"1.0.0","name":"cbr0","type":"\(type)","isDefaultGateway":true,"hairpinMode":true,
         "ipam":{"type":"host-local","ranges":[[{"subnet":"10.42.0.0/24"}]],"dataDir":"\(store)"}\(mappings ? "," + Self.mappings : "")}
        """
    }

    /// (who, URL) pairs tried after ADD: client over the LAN, the node itself, the node's localhost, the pod
    /// through the node (hairpin), and localhost on a port bound to the LAN address only.
    static let attempts = [
        ("client", "http://198.51.100.1:8080/"), ("node", "http://198.51.100.1:8080/"),
        ("node", "http://127.0.0.1:8080/"), ("pod", "http://198.51.100.1:8080/"),
        ("client", "http://198.51.100.1:8081/"),
        ("node", "http://127.0.0.1:8081/"),
    ]

    static func reaches(_ namespace: String, _ url: String) async throws -> Bool {
        let result = try await ChildProcess.run(
            "/usr/sbin/ip",
            ["netns", "exec", namespace, "curl", "-s", "-m", "2", "-o", "/dev/null", "-w", "%{http_code}", url])
        return result.standardOutput == "200"
    }

    @Test func hostPortsReachThePodAsThePortmapPluginsDo() async throws {
        try await ScratchNamespaces.run(family: "pylh", count: 6) { scratch in
            let work = try TemporaryDirectory()
            var outcomes: [[Bool]] = []
            var afterDelete: [[Bool]] = []
            for (first, isPylon) in [(0, true), (3, false)] {
                let (node, pod, client) = (scratch.names[first], scratch.names[first + 1], scratch.names[first + 2])
                _ = try await ChildProcess.run(
                    "/usr/sbin/ip",
                    ["link", "add", "eth0", "netns", node, "type", "veth", "peer", "name", "eth0", "netns", client])
                _ = try scratch.ip(first, "addr", "add", "198.51.100.1/24", "dev", "eth0")
                _ = try scratch.ip(first + 2, "addr", "add", "198.51.100.2/24", "dev", "eth0")
                _ = try scratch.ip(first, "link", "set", "eth0", "up")
                _ = try scratch.ip(first + 2, "link", "set", "eth0", "up")
                let store = work.path + "/\(first)"
                let netns = "/var/run/netns/\(pod)"
                let add: CNIInvoker.Answer
                let portmapConfig: String
                if isPylon {
                    let config = Self.bridgeConfig(type: "pylon", store: store, mappings: true)
                    add = try await CNIInvoker(plugin: PylonBinary.path, node: node).run(
                        "ADD", container: "web", netns: netns, config: config)
                    portmapConfig = config
                } else {
                    let bridge = CNIInvoker(plugin: ReferenceConformanceTests.bridgePlugin, node: node)
                    let made = try await bridge.run(
                        "ADD", container: "web", netns: netns,
                        config: Self.bridgeConfig(type: "bridge", store: store, mappings: false))
                    #expect(made.status == 0, "\(made.output)")
                    var portmap = try JSONParser.parse(
                        "{\"cniVersion\":\"1.0.0\",\"name\":\"cbr0\",\"type\":\"portmap\",\"snat\":true,\"capabilities\":{\"portMappings\":true},\(Self.mappings)}"
                    )
                    portmap["prevResult"] = made.json
                    portmapConfig = portmap.text()
                    add = try await CNIInvoker(plugin: CNIInvoker.referenceDirectory + "/portmap", node: node).run(
                        "ADD", container: "web", netns: netns, config: portmapConfig)
                }
                #expect(add.status == 0, "\(add.output) \(add.standardError)")
                let server = try BackgroundProcess(
                    "/usr/sbin/ip", ["netns", "exec", pod, "python3", "-m", "http.server", "80", "--bind", "10.42.0.2"])
                try await eventually("the pod serves HTTP", timeout: .seconds(15)) {
                    try await Self.reaches(pod, "http://10.42.0.2:80/")
                }
                let names = ["client": client, "node": node, "pod": pod]
                outcomes.append(try await Self.attempts.asyncMap { try await Self.reaches(names[$0.0]!, $0.1) })
                if isPylon {
                    let deleted = try await CNIInvoker(plugin: PylonBinary.path, node: node).run(
                        "DEL", container: "web", netns: netns, config: portmapConfig)
                    #expect(deleted.status == 0, "\(deleted.output)")
                    let rules = try await ChildProcess.run(
                        "/usr/sbin/ip", ["netns", "exec", node, "nft", "list", "ruleset"])
                    #expect(!rules.standardOutput.contains("comment"), "no rule is left: \(rules.standardOutput)")
                } else {
                    let deleted = try await CNIInvoker(plugin: CNIInvoker.referenceDirectory + "/portmap", node: node)
                        .run(
                            "DEL", container: "web", netns: netns, config: portmapConfig)
                    #expect(deleted.status == 0, "\(deleted.output)")
                }
                afterDelete.append(
                    try await Self.attempts.prefix(2).asyncMap { try await Self.reaches(names[$0.0]!, $0.1) })
                await server.stop()
            }
            #expect(outcomes[0] == [true, true, true, true, true, false], "Pylon")
            #expect(outcomes[0] == outcomes[1], "Pylon \(outcomes[0]), reference \(outcomes[1])")
            #expect(afterDelete == [[false, false], [false, false]])
        }
    }
}
