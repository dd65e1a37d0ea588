import Announcement
import Election
import Foundation
import KubeAPI
import KubeClient
import Lab
import LabRuntime
import LoadBalancerConfig
import NetCore
import Speaker
import Synchronization

/// A virtual LAN running the load balancer, for tests and benchmarks (root only): three node namespaces and a client
/// on one bridge, the API server on the lab's management segment with the metallb.io CRDs, a pool and an
/// L2Advertisement, the controller, and one speaker per node. Everything is removed when `run` returns or throws.
///
/// Methods block on child processes (`ip netns exec`); they are meant for test and benchmark tasks. Run one at a
/// time: every lab gives the machine the same management address (198.18.0.1).
public struct LoadBalancerLAN: Sendable {
    /// Prefix of the lab's namespaces (leftovers older than an hour are swept).
    public static let family = "pyls"
    public static let nodes = ["node-1", "node-2", "node-3"]

    public let lab: LabNetwork
    public let client: KubeClient
    public let server: TestAPIServer
    /// Each node's eth0 MAC address.
    public let macs: [String: String]
    public let speakers: [String: BackgroundProcess]
    /// Every process started, stopped when `run` ends.
    private let started: Started

    private final class Started: Sendable {
        let processes = Mutex<[BackgroundProcess]>([])
        func add(_ p: BackgroundProcess) { processes.withLock { $0.append(p) } }
        var all: [BackgroundProcess] { processes.withLock { $0 } }
    }

    /// Builds the lab, runs `body`, removes everything. `binary` is the `pylon` executable to run.
    public static func run(binary: String = PylonBinary.path, _ body: (LoadBalancerLAN) async throws -> Void)
        async throws
    {
        try await ManagementSegment.exclusively { try await runExclusively(binary: binary, body) }
    }

    private static func runExclusively(binary: String, _ body: (LoadBalancerLAN) async throws -> Void) async throws {
        LabNetwork.sweep(prefixFamily: family, olderThan: 3600)
        let prefix = "\(family)-\(String(UInt32.random(in: 0..<UInt32.max), radix: 36))"
        let lab = LabNetwork(topology: LabTopology(prefix: prefix, hosts: nodes + ["client"], management: true))
        defer { lab.down() }
        try lab.up()
        let server = try await TestAPIServer.start(bindAddress: LabTopology.managementHost.description)
        let started = Started()
        let client: KubeClient
        do { client = try server.client() } catch {
            await server.stop()
            throw error
        }
        do {
            let macs = try await configure(lab, server, client)
            started.add(
                try BackgroundProcess(
                    binary,
                    ["controller", "--kubeconfig", server.kubeconfig, "--metrics-port", "0", "--no-leader-elect"]))
            var speakers: [String: BackgroundProcess] = [:]
            for node in nodes {
                let speaker = try startSpeaker(lab, server, node, binary: binary)
                speakers[node] = speaker
                started.add(speaker)
            }
            try await eventually("every speaker sees the other two", timeout: .seconds(30)) {
                speakers.values.allSatisfy { $0.text.components(separatedBy: "member changed").count >= 3 }
            }
            try await body(
                LoadBalancerLAN(
                    lab: lab, client: client, server: server, macs: macs, speakers: speakers, started: started))
        } catch {
            for p in started.all { print("---- process output\n\(p.text.suffix(4000))") }
            for p in started.all { await p.stop() }
            try? await client.shutdown()
            await server.stop()
            throw error
        }
        for p in started.all { await p.stop() }
        try? await client.shutdown()
        await server.stop()
    }

    /// Starts `node`'s speaker (again, e.g. after killing it).
    public func restartSpeaker(_ node: String, binary: String = PylonBinary.path) throws -> BackgroundProcess {
        let speaker = try Self.startSpeaker(lab, server, node, binary: binary)
        started.add(speaker)
        return speaker
    }

    static func startSpeaker(_ lab: LabNetwork, _ server: TestAPIServer, _ node: String, binary: String) throws
        -> BackgroundProcess
    {
        try BackgroundProcess(
            "/usr/sbin/ip",
            [
                "netns", "exec", lab.topology.namespace(of: node), binary, "speaker", "--kubeconfig",
                server.kubeconfig, "--node-name", node, "--interface", "eth*", "--metrics-address", "127.0.0.1",
            ])
    }

    /// CRDs, the membership Secret, pool `lan` (192.0.2.100-119, 2001:db8::100-11f), an L2Advertisement, Ready
    /// Nodes with their LAN addresses. Returns each node's MAC.
    static func configure(_ lab: LabNetwork, _ server: TestAPIServer, _ client: KubeClient) async throws -> [String:
        String]
    {
        let applied = try await server.kubectl("apply", "-k", PylonBinary.packageRoot + "/deploy/crds/")
        guard applied.status == 0 else { throw TestFailure("kubectl apply CRDs: \(applied)") }
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
            var created = try await client.create(
                .nodes, ["apiVersion": "v1", "kind": "Node", "metadata": ["name": .string(node)]])
            created["status"] = [
                "addresses": [
                    ["type": "InternalIP", "address": .string(lab.topology.addresses(of: node).v4.description)]
                ],
                "conditions": [["type": "Ready", "status": "True"]],
            ]
            _ = try await client.updateStatus(.nodes, created)
            macs[node] = try lab.exec(node, ["cat", "/sys/class/net/eth0/address"]).output
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return macs
    }

    // MARK: Services

    /// Creates a dual-stack LoadBalancer Service with endpoints on `nodes` (none: no EndpointSlice) and returns
    /// its IPv4 and IPv6 addresses once assigned.
    public func loadBalancer(_ name: String, local: Bool = false, endpointsOn nodes: [String] = LoadBalancerLAN.nodes)
        async throws -> (v4: String, v6: String)
    {
        _ = try await client.create(
            .services, namespace: "default",
            [
                "apiVersion": "v1", "kind": "Service", "metadata": ["name": .string(name), "namespace": "default"],
                "spec": [
                    "type": "LoadBalancer", "ipFamilyPolicy": "RequireDualStack", "ipFamilies": ["IPv4", "IPv6"],
                    "externalTrafficPolicy": local ? "Local" : "Cluster", "selector": ["app": .string(name)],
                    "ports": [["port": 80, "protocol": "TCP"]],
                ],
            ])
        if !nodes.isEmpty { try await setEndpoints(name, on: nodes) }
        var ips: [IPAddress] = []
        try await eventually("\(name) has two addresses") {
            let service = try await client.get(.services, namespace: "default", name: name)
            ips = (service["status"]?["loadBalancer"]?["ingress"]?.arrayValue ?? []).compactMap {
                $0["ip"]?.stringValue.flatMap(IPAddress.init)
            }
            return ips.count == 2
        }
        return (ips.first { $0.family == .ipv4 }!.description, ips.first { $0.family == .ipv6 }!.description)
    }

    public func setEndpoints(_ service: String, on nodes: [String]) async throws {
        let slice: JSON = [
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
        if var existing = try? await client.get(.endpointSlices, namespace: "default", name: "\(service)-1") {
            existing["endpoints"] = slice["endpoints"]
            _ = try await client.update(.endpointSlices, existing)
        } else {
            _ = try await client.create(.endpointSlices, namespace: "default", slice)
        }
    }

    /// The node every speaker elects for `service` when `members` are alive.
    public func expectedWinner(_ service: String, members: Set<String> = Set(LoadBalancerLAN.nodes)) async throws
        -> String?
    {
        let object = try await client.get(.services, namespace: "default", name: service)
        let configuration = try Configuration.parse(
            pools: try await client.list(.ipAddressPools, namespace: "pylon-system")["items"]?.arrayValue ?? [],
            l2Advertisements: try await client.list(.l2Advertisements, namespace: "pylon-system")["items"]?
                .arrayValue ?? []
        ).get()
        let decision = AnnouncementPlanner.plan(
            services: [object],
            endpointSlices: try await client.list(.endpointSlices, namespace: "default")["items"]?.arrayValue ?? [],
            nodes: try await client.list(.nodes)["items"]?.arrayValue ?? [], configuration: configuration,
            members: members, loadBalancerClass: nil
        ).first
        guard case .announce(let node, _, _, _) = decision?.outcome else { return nil }
        return node
    }

    // MARK: The client's view

    /// MACs that answered the client's `arping` (two requests, two seconds at most).
    public func arpAnswers(_ ip: String) throws -> Set<String> {
        let output = try lab.exec("client", ["arping", "-c", "2", "-w", "2", "-I", "eth0", ip]).output
        var macs = Set<String>()
        for line in output.split(separator: "\n") where line.contains("reply from") {
            if let open = line.firstIndex(of: "["), let close = line.firstIndex(of: "]") {
                macs.insert(line[line.index(after: open)..<close].lowercased())
            }
        }
        return macs
    }

    /// The target link-layer address the client's `ndisc6` learns for `ip`, if any.
    public func ndpAnswer(_ ip: String) throws -> String? {
        let output = try lab.exec("client", ["ndisc6", "-1", "-r", "2", "-w", "1000", ip, "eth0"]).output
        guard let line = output.split(separator: "\n").first(where: { $0.contains("Target link-layer address") })
        else { return nil }
        return line.split(separator: " ").last.map { $0.lowercased() }
    }

    /// The MAC in the client kernel's neighbour entry for `ip`, if any (no traffic sent).
    public func neighbourEntry(_ ip: String) throws -> String? {
        let words = try lab.exec("client", ["ip", "neigh", "show", ip]).output.split(separator: " ")
        return words.firstIndex(of: "lladdr").flatMap { words.indices.contains($0 + 1) ? String(words[$0 + 1]) : nil }
    }

    /// Sends the client's kernel a datagram to `ip` and returns the MAC it resolves `ip` to (nil: none in 5 s).
    public func resolve(_ ip: String) async throws -> String? {
        let family = ip.contains(":") ? "AF_INET6" : "AF_INET"
        _ = try lab.exec(
            "client",
            [
                "python3", "-c",
                "import socket; socket.socket(socket.\(family), socket.SOCK_DGRAM).sendto(b'x', ('\(ip)', 9))",
            ])
        var mac: String? = nil
        try? await eventually("the client's kernel resolves \(ip)", timeout: .seconds(5)) {
            mac = try neighbourEntry(ip)
            return mac != nil
        }
        return mac
    }

    /// Waits until exactly one MAC answers ARP for `ip` and returns it.
    public func soleAnswerer(_ ip: String, timeout: Duration = .seconds(20)) async throws -> String {
        var answers = Set<String>()
        try await eventually("exactly one node answers ARP for \(ip)", timeout: timeout) {
            answers = try arpAnswers(ip)
            return answers.count == 1
        }
        return answers.first!
    }

    public func node(withMAC mac: String) -> String? { macs.first { $0.value == mac }?.key }

    /// The samples of `node`'s speaker metrics (`series{labels}` → value), read from its metrics port.
    public func metrics(_ node: String) throws -> [String: Double] {
        MetricSamples.parse(try lab.exec(node, ["curl", "-s", "http://127.0.0.1:7473/metrics"]).output)
    }

    /// Waits until the ServiceL2Status objects for `service` are exactly one, naming `node` and eth0.
    public func waitForL2Status(_ service: String, node: String) async throws {
        var seen: [JSON] = []
        do {
            try await eventually("one ServiceL2Status for \(service) on \(node)") {
                seen = (try await client.list(.serviceL2Statuses, namespace: "pylon-system")["items"]?.arrayValue ?? [])
                    .filter { $0["status"]?["serviceName"]?.stringValue == service }
                return seen.count == 1 && seen[0]["status"]?["node"]?.stringValue == node
                    && seen[0]["status"]?["interfaces"] == [["name": "eth0"]]
                    && seen[0]["metadata"]?["labels"]?["metallb.io/node"]?.stringValue == node
            }
        } catch {
            throw TestFailure("ServiceL2Status objects for \(service): \(seen.map { $0["status"] ?? nil }): \(error)")
        }
    }
}
