import Election
import Foundation
import KubeAPI
import KubeClient
import Lab
import LoadBalancerConfig
import NetCore
import PylonTestSupport
import Speaker
import Testing

/// `pylon speaker` on a virtual LAN (root only; CI runs it): three node namespaces and a client on one bridge, the
/// API server on the lab's management segment, the controller assigning addresses, one speaker per node. The
/// client's own `arping` and `ndisc6` must hear exactly the elected node.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root for network namespaces"))
struct SpeakerLANTests {
    static let family = "pyls"
    static let nodes = ["node-1", "node-2", "node-3"]

    /// A lab with the control plane running; `body` gets the lab, the server and each node's eth0 MAC.
    static func withLab(
        _ body: (LabNetwork, KubeClient, [String: String]) async throws -> Void
    ) async throws {
        LabNetwork.sweep(prefixFamily: family, olderThan: 3600)
        let prefix = "\(family)-\(String(UInt32.random(in: 0..<UInt32.max), radix: 36))"
        let lab = LabNetwork(topology: LabTopology(prefix: prefix, hosts: nodes + ["client"], management: true))
        defer { lab.down() }
        try lab.up()
        let server = try await TestAPIServer.start(bindAddress: LabTopology.managementHost.description)
        var processes: [BackgroundProcess] = []
        let client: KubeClient
        do { client = try server.client() } catch {
            await server.stop()
            throw error
        }
        do {
            #expect(try await server.kubectl("apply", "-f", PylonBinary.packageRoot + "/deploy/crds/").status == 0)
            _ = try await client.create(
                .namespaces, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "pylon-system"]])
            try await eventually("CRDs served") {
                (try? await client.list(.l2Advertisements, namespace: "pylon-system")) != nil
            }
            _ = try await client.create(
                .secrets, namespace: "pylon-system",
                [
                    "apiVersion": "v1", "kind": "Secret", "metadata": ["name": "memberlist"],
                    "data": ["secretkey": .string(Base64.encode(Array("lab-membership-key".utf8)))],
                ])
            _ = try await client.create(
                .ipAddressPools, namespace: "pylon-system",
                [
                    "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": ["name": "lan"],
                    "spec": ["addresses": ["192.0.2.100-192.0.2.119", "2001:db8::100-2001:db8::11f"]],
                ])
            _ = try await client.create(
                .l2Advertisements, namespace: "pylon-system",
                ["apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement", "metadata": ["name": "lan"]])
            var macs: [String: String] = [:]
            for node in nodes {
                let created = try await client.create(
                    .nodes, ["apiVersion": "v1", "kind": "Node", "metadata": ["name": .string(node)]])
                var withStatus = created
                withStatus["status"] = [
                    "addresses": [
                        ["type": "InternalIP", "address": .string(lab.topology.addresses(of: node).v4.description)]
                    ],
                    "conditions": [["type": "Ready", "status": "True"]],
                ]
                _ = try await client.updateStatus(.nodes, withStatus)
                macs[node] = try lab.exec(node, ["cat", "/sys/class/net/eth0/address"]).output
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            }
            processes.append(
                try BackgroundProcess(
                    PylonBinary.path,
                    ["controller", "--kubeconfig", server.kubeconfig, "--metrics-port", "0", "--no-leader-elect"]))
            for node in nodes {
                processes.append(
                    try BackgroundProcess(
                        "/usr/sbin/ip",
                        [
                            "netns", "exec", lab.topology.namespace(of: node), PylonBinary.path, "speaker",
                            "--kubeconfig", server.kubeconfig, "--node-name", node, "--interface", "eth0",
                            "--log-level", "info",
                        ]))
            }
            try await eventually("every speaker sees the other two", timeout: .seconds(30)) {
                processes.dropFirst().allSatisfy { $0.text.components(separatedBy: "member changed").count >= 3 }
            }
            try await body(lab, client, macs)
        } catch {
            for p in processes { print("---- \(p.text.suffix(3000))") }
            for p in processes { await p.stop() }
            try? await client.shutdown()
            await server.stop()
            throw error
        }
        for p in processes { await p.stop() }
        try? await client.shutdown()
        await server.stop()
    }

    static func loadBalancer(_ name: String, local: Bool = false) -> JSON {
        [
            "apiVersion": "v1", "kind": "Service", "metadata": ["name": .string(name), "namespace": "default"],
            "spec": [
                "type": "LoadBalancer", "ipFamilyPolicy": "RequireDualStack", "ipFamilies": ["IPv4", "IPv6"],
                "externalTrafficPolicy": local ? "Local" : "Cluster", "selector": ["app": .string(name)],
                "ports": [["port": 80, "protocol": "TCP"]],
            ],
        ]
    }

    static func endpoints(_ service: String, on nodes: [String]) -> JSON {
        [
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": [
                "name": .string("\(service)-1"), "namespace": "default",
                "labels": ["kubernetes.io/service-name": .string(service)],
            ],
            "endpoints": .array(
                nodes.enumerated().map { i, node in
                    ["addresses": [.string("10.42.\(i).10")], "nodeName": .string(node), "conditions": ["ready": true]]
                }),
            "ports": [["port": 80, "protocol": "TCP"]],
        ]
    }

    /// MACs that answered `arping` from the client (unicast replies only, at most 3 requests).
    static func arpAnswers(_ lab: LabNetwork, _ ip: String) throws -> Set<String> {
        let output = try lab.exec("client", ["arping", "-c", "2", "-w", "2", "-I", "eth0", ip]).output
        var macs = Set<String>()
        for line in output.split(separator: "\n") where line.contains("reply from") {
            if let open = line.firstIndex(of: "["), let close = line.firstIndex(of: "]") {
                macs.insert(line[line.index(after: open)..<close].lowercased())
            }
        }
        return macs
    }

    /// The target link-layer address `ndisc6` learns for `ip`, if any.
    static func ndpAnswer(_ lab: LabNetwork, _ ip: String) throws -> String? {
        let output = try lab.exec("client", ["ndisc6", "-1", "-r", "2", "-w", "1000", ip, "eth0"]).output
        guard let line = output.split(separator: "\n").first(where: { $0.contains("Target link-layer address") })
        else { return nil }
        return line.split(separator: " ").last.map { $0.lowercased() }
    }

    /// The MAC the client's kernel resolves `ip` to after sending it a datagram (nil if it does not resolve).
    static func kernelNeighbour(_ lab: LabNetwork, _ ip: String) async throws -> String? {
        let family = ip.contains(":") ? "AF_INET6" : "AF_INET"
        _ = try lab.exec(
            "client",
            [
                "python3", "-c",
                "import socket; socket.socket(socket.\(family), socket.SOCK_DGRAM).sendto(b'x', ('\(ip)', 9))",
            ])
        var mac: String? = nil
        try? await eventually("the client's kernel resolves \(ip)", timeout: .seconds(5)) {
            let line = try lab.exec("client", ["ip", "neigh", "show", ip]).output
            let words = line.split(separator: " ")
            mac = words.firstIndex(of: "lladdr").flatMap {
                words.indices.contains($0 + 1) ? String(words[$0 + 1]) : nil
            }
            return mac != nil
        }
        return mac
    }

    @Test func exactlyTheElectedNodeAnswersARPAndNDP() async throws {
        try await Self.withLab { lab, client, macs in
            _ = try await client.create(.services, namespace: "default", Self.loadBalancer("web"))
            _ = try await client.create(
                .endpointSlices, namespace: "default", Self.endpoints("web", on: Self.nodes))
            var ips: [IPAddress] = []
            try await eventually("web has two addresses") {
                let service = try await client.get(.services, namespace: "default", name: "web")
                ips = (service["status"]?["loadBalancer"]?["ingress"]?.arrayValue ?? []).compactMap {
                    $0["ip"]?.stringValue.flatMap(IPAddress.init)
                }
                return ips.count == 2
            }
            let service = try await client.get(.services, namespace: "default", name: "web")
            let nodes = try await client.list(.nodes)["items"]?.arrayValue ?? []
            let configuration = try Configuration.parse(
                pools: try await client.list(.ipAddressPools, namespace: "pylon-system")["items"]?.arrayValue ?? [],
                l2Advertisements: try await client.list(.l2Advertisements, namespace: "pylon-system")["items"]?
                    .arrayValue ?? []
            ).get()
            let decision = AnnouncementPlanner.plan(
                services: [service], endpointSlices: [Self.endpoints("web", on: Self.nodes)], nodes: nodes,
                configuration: configuration, members: Set(Self.nodes), loadBalancerClass: nil
            ).first
            guard case .announce(let winner, _, _, _) = decision?.outcome else {
                Issue.record("no winner: \(String(describing: decision))")
                return
            }
            let v4 = ips.first { $0.family == .ipv4 }!.description
            let v6 = ips.first { $0.family == .ipv6 }!.description
            var answers = Set<String>()
            try await eventually("the client's arping hears \(winner)", timeout: .seconds(20)) {
                answers = try Self.arpAnswers(lab, v4)
                return !answers.isEmpty
            }
            #expect(answers == [macs[winner]!], "ARP for \(v4) answered by \(answers), elected \(winner)")
            #expect(try await Self.kernelNeighbour(lab, v4) == macs[winner]!, "client's kernel resolves \(v4)")
            #expect(try await Self.kernelNeighbour(lab, v6) == macs[winner]!, "client's kernel resolves \(v6)")
            var ndp: String? = nil
            try await eventually("the client's ndisc6 hears \(winner)", timeout: .seconds(20)) {
                ndp = try Self.ndpAnswer(lab, v6)
                return ndp != nil
            }
            #expect(ndp == macs[winner]!, "NDP for \(v6) answered with \(String(describing: ndp))")
            // An address of the pool that no Service holds is never answered.
            #expect(try Self.arpAnswers(lab, "192.0.2.119").isEmpty)
        }
    }
}
