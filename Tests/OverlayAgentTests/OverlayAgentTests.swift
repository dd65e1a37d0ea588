import Foundation
import Kernel
import KubeAPI
import KubeClient
import Logging
import NetCore
import Overlay
import OverlayAgent
import Processes
import PylonTestKit
import PylonTestSupport
import Testing

/// `pylon overlay` agents for three nodes (network namespaces on one LAN bridge, 192.0.2.11–13) against a real
/// `pylon server`, which hands the Nodes their pod CIDRs. Root only; with CI=true a skip fails the run.
@Suite(
    .serialized, .enabled(if: getuid() == 0, "needs root for network namespaces"), .timeLimit(.minutes(3)))
struct OverlayAgentTests {
    static let conf = try! NetConf(parsing: #"{"Network":"10.42.0.0/16","Backend":{"Type":"vxlan"}}"#)

    /// A LAN namespace (index 0) with bridge `br0`, and nodes 1…count each with `lan0` on it at 192.0.2.(10+n).
    static func lan(_ scratch: ScratchNamespaces, nodes: Int) throws {
        _ = try scratch.ip(0, "link", "add", "br0", "type", "bridge")
        _ = try scratch.ip(0, "link", "set", "br0", "up")
        for n in 1...nodes {
            _ = try scratch.ip(
                0, "link", "add", "port\(n)", "type", "veth", "peer", "name", "lan0", "netns", scratch.names[n])
            _ = try scratch.ip(0, "link", "set", "port\(n)", "master", "br0", "up")
            _ = try scratch.ip(n, "address", "add", "192.0.2.\(10 + n)/24", "dev", "lan0")
            _ = try scratch.ip(n, "link", "set", "lan0", "up")
        }
    }

    static func node(_ n: Int) -> JSON {
        [
            "apiVersion": "v1", "kind": "Node", "metadata": ["name": .string("node\(n)")],
            "status": ["addresses": [["type": "InternalIP", "address": .string("192.0.2.\(10 + n)")]]],
        ]
    }

    /// An agent for node `n` (namespace `n`, files under `files/node<n>`), running until its task is cancelled.
    static func start(
        _ n: Int, _ scratch: ScratchNamespaces, _ client: KubeClient, files: String, conf: NetConf = conf,
        checksum: ChecksumOffload = .auto
    ) -> (agent: OverlayAgent, task: Task<Void, any Error>) {
        var logger = Logger(label: "test.overlay.node\(n)")
        logger.logLevel = .warning
        let agent = OverlayAgent(
            client: client,
            options: .init(
                nodeName: "node\(n)", netConf: conf, subnetFile: "\(files)/node\(n)/subnet.env",
                cniConfigDirectory: "\(files)/node\(n)/net.d", cniDataDirectory: "\(files)/node\(n)/cni",
                vxlanChecksumOffload: checksum,
                resyncInterval: .seconds(1),
                namespace: scratch.namespaces[n]),
            logger: logger)
        return (agent, Task { try await agent.run() })
    }

    /// The route to `subnet` in node `n`'s kernel, as `ip route` prints it ("" when there is none).
    static func route(_ scratch: ScratchNamespaces, _ n: Int, _ subnet: String) throws -> String {
        try scratch.ip(n, "route", "show", subnet)
    }

    @Test func nodesJoinLeaveAndRepairAsFlannelDoes() async throws {
        try await ScratchNamespaces.run(family: "pyoa", count: 4) { scratch in
            try Self.lan(scratch, nodes: 3)
            let files = FileManager.default.temporaryDirectory.appendingPathComponent("pyoa-\(UUID())").path
            defer { try? FileManager.default.removeItem(atPath: files) }
            try await TestAPIServer.with { server, client in
                for n in 1...3 { _ = try await client.create(.nodes, Self.node(n)) }
                var agents = [
                    1: Self.start(1, scratch, client, files: files, checksum: .off),
                    2: Self.start(2, scratch, client, files: files),
                ]
                defer { for running in agents.values { running.task.cancel() } }

                // Node 1 and 2 program each other as flannel does and reach each other through the tunnel.
                try await eventually("node1 routes to node2's pods") {
                    try Self.route(scratch, 1, "10.42.1.0/24").contains("via 10.42.1.0 dev flannel.1 onlink")
                }
                try await eventually("node2 routes to node1's pods") {
                    try Self.route(scratch, 2, "10.42.0.0/24").contains("via 10.42.0.0 dev flannel.1 onlink")
                }
                let ping = try await ChildProcess.run(
                    "/usr/sbin/ip", ["netns", "exec", scratch.names[1], "ping", "-c", "1", "-W", "2", "10.42.1.0"])
                #expect(ping.succeeded, "\(ping.standardOutput)\(ping.standardError)")

                // The lease as flannel publishes it, and subnet.env as flannel writes it.
                let node1 = try await client.get(.nodes, name: "node1")
                let annotations = node1["metadata"]?["annotations"]
                #expect(annotations?[FlannelAnnotations.kubeSubnetManager]?.stringValue == "true")
                #expect(annotations?[FlannelAnnotations.backendType]?.stringValue == "vxlan")
                #expect(annotations?[FlannelAnnotations.publicIP]?.stringValue == "192.0.2.11")
                let data = try FlannelAnnotations.VXLANData(
                    annotation: annotations?[FlannelAnnotations.backendData]?.stringValue ?? "")
                #expect(try scratch.ip(1, "link", "show", "flannel.1").contains("link/ether \(data.vtepMAC)"))
                #expect(
                    try String(contentsOfFile: "\(files)/node1/subnet.env", encoding: .utf8)
                        == "FLANNEL_NETWORK=10.42.0.0/16\nFLANNEL_SUBNET=10.42.0.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n"
                )
                #expect(FileManager.default.fileExists(atPath: "\(files)/node1/net.d/10-pylon.conflist"))
                #expect(
                    try scratch.ip(1, "neigh", "show", "dev", "flannel.1").contains("10.42.1.0 lladdr")
                        && !(try scratch.ip(1, "route", "show", "10.42.2.0/24")).contains("via"),
                    "node3 has not published a lease yet, so nobody programs it")

                // The checksum workaround (forced on node1), as `ethtool -K flannel.1 tx-checksum-ip-generic off` leaves
                // it; node2's kernel has the fix and is not behind NAT, so it keeps the offload.
                let features = try await ChildProcess.run(
                    "/usr/sbin/ip", ["netns", "exec", scratch.names[1], "ethtool", "-k", "flannel.1"])
                #expect(features.standardOutput.contains("tx-checksum-ip-generic: off"), "\(features.standardOutput)")
                let kept = try await ChildProcess.run(
                    "/usr/sbin/ip", ["netns", "exec", scratch.names[2], "ethtool", "-k", "flannel.1"])
                #expect(kept.standardOutput.contains("tx-checksum-ip-generic: on"), "\(kept.standardOutput)")

                // flannel's masquerade rules; flushed by hand, they come back at the next periodic check.
                func overlayTable() async throws -> String {
                    try await ChildProcess.run(
                        "/usr/sbin/ip",
                        ["netns", "exec", scratch.names[1], "nft", "list", "table", "ip", OverlayNATRules.table]
                    ).standardOutput
                }
                let masquerade = "ip saddr 10.42.0.0/16 ip daddr != 224.0.0.0/4 masquerade fully-random"
                try await eventually("node1's masquerade rules") { try await overlayTable().contains(masquerade) }
                _ = try await ChildProcess.run(
                    "/usr/sbin/ip",
                    ["netns", "exec", scratch.names[1], "nft", "flush", "table", "ip", OverlayNATRules.table])
                try await eventually("node1's masquerade rules restored") {
                    try await overlayTable().contains(masquerade)
                }

                // A joining node appears on the others.
                agents[3] = Self.start(3, scratch, client, files: files)
                try await eventually("node1 routes to node3's pods") {
                    try Self.route(scratch, 1, "10.42.2.0/24").contains("via 10.42.2.0 dev flannel.1 onlink")
                }

                // A hand-deleted route and FDB entry come back (netlink announcements, not only the periodic check).
                _ = try scratch.ip(1, "route", "del", "10.42.2.0/24")
                try await eventually("the deleted route restored") {
                    try Self.route(scratch, 1, "10.42.2.0/24").contains("via 10.42.2.0 dev flannel.1 onlink")
                }

                // A Node with garbage backend-data is skipped with an Event; the others keep working.
                var bad = Self.node(4)
                var garbage: JSON = [:]
                garbage[FlannelAnnotations.kubeSubnetManager] = "true"
                garbage[FlannelAnnotations.backendType] = "vxlan"
                garbage[FlannelAnnotations.backendData] = "{garbage"
                garbage[FlannelAnnotations.publicIP] = "192.0.2.99"
                bad[path: ["metadata", "annotations"]] = garbage
                _ = try await client.create(.nodes, bad)
                try await eventually("an InvalidBackendData Event on node4") {
                    let events = try await client.list(.events, namespace: "default")
                    return (events["items"]?.arrayValue ?? []).contains {
                        $0["involvedObject"]?["name"]?.stringValue == "node4"
                            && $0["reason"]?.stringValue == "InvalidBackendData"
                    }
                }
                #expect(!(try Self.route(scratch, 1, "10.42.3.0/24")).contains("via"))

                // So is a Node whose pod CIDR lies outside the cluster network.
                var outside = Self.node(5)
                var published: JSON = [:]
                published[FlannelAnnotations.kubeSubnetManager] = "true"
                published[FlannelAnnotations.backendType] = "vxlan"
                published[FlannelAnnotations.backendData] = #"{"VNI":1,"VtepMAC":"02:00:00:00:00:05"}"#
                published[FlannelAnnotations.publicIP] = "192.0.2.15"
                outside[path: ["metadata", "annotations"]] = published
                outside["spec"] = ["podCIDR": "10.99.0.0/24", "podCIDRs": ["10.99.0.0/24"]]
                _ = try await client.create(.nodes, outside)
                try await eventually("a PodCIDROutsideNetwork Event on node5") {
                    let events = try await client.list(.events, namespace: "default")
                    return (events["items"]?.arrayValue ?? []).contains {
                        $0["involvedObject"]?["name"]?.stringValue == "node5"
                            && $0["reason"]?.stringValue == "PodCIDROutsideNetwork"
                            && $0["message"]?.stringValue?.contains("10.99.0.0/24 lies outside") == true
                    }
                }
                #expect(try Self.route(scratch, 1, "10.99.0.0/24").isEmpty)
                #expect(try Self.route(scratch, 1, "10.42.1.0/24").contains("via 10.42.1.0 dev flannel.1 onlink"))

                // A leaving node disappears from the others, route first.
                agents[3]?.task.cancel()
                _ = try await client.delete(.nodes, name: "node3")
                try await eventually("node3's entries removed from node1") {
                    let routeGone = try Self.route(scratch, 1, "10.42.2.0/24").isEmpty
                    let neighbours = try scratch.ip(1, "neigh", "show", "dev", "flannel.1")
                    return routeGone && !neighbours.contains("10.42.2.0")
                }

                // A restart changes nothing: same VTEP MAC, same entries.
                let before = try scratch.ip(1, "route", "show", "10.42.1.0/24")
                agents[1]?.task.cancel()
                _ = try await agents[1]?.task.value
                let restarted = Self.start(1, scratch, client, files: files, checksum: .off)
                agents[1] = restarted
                try await eventually("node1's agent ready again") { restarted.agent.isReady }
                let again = try await client.get(.nodes, name: "node1")
                #expect(
                    again["metadata"]?["annotations"]?[FlannelAnnotations.backendData]?.stringValue == data.annotation)
                #expect(try scratch.ip(1, "link", "show", "flannel.1").contains("link/ether \(data.vtepMAC)"))
                #expect(try scratch.ip(1, "route", "show", "10.42.1.0/24") == before)
            }
        }
    }
}
