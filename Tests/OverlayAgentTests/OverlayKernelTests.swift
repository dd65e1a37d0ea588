import Foundation
import Kernel
import NFTables
import NetCore
import Netlink
import Overlay
import OverlayAgent
import Processes
import PylonTestSupport
import Testing

/// The overlay's kernel programming on two nodes (network namespaces joined by a veth pair, 192.0.2.11 and .12):
/// flannel.1 as flannel creates it, the entries for the other node, traffic through the tunnel, drift repaired,
/// a node leaving. Root only; with CI=true a skip fails the run.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root for network namespaces"), .timeLimit(.minutes(2)))
struct OverlayKernelTests {
    static let conf = try! NetConf(parsing: #"{"Network":"10.42.0.0/16","Backend":{"Type":"vxlan"}}"#)

    struct Node {
        var kernel: OverlayKernel
        var underlay: OverlayKernel.Underlay
        var lease: NodeLease
        var device: Int32
    }

    /// Joins the two namespaces by `lan0` veths and brings up each node's flannel.1 for subnet 10.42.<n>.0/24.
    static func twoNodes(_ scratch: ScratchNamespaces) throws -> [Node] {
        _ = try scratch.ip(0, "link", "add", "lan0", "type", "veth", "peer", "name", "lan0", "netns", scratch.names[1])
        var nodes: [Node] = []
        for n in 0..<2 {
            _ = try scratch.ip(n, "address", "add", "192.0.2.\(11 + n)/24", "dev", "lan0")
            _ = try scratch.ip(n, "link", "set", "lan0", "up")
            let kernel = try OverlayKernel(namespace: scratch.namespaces[n])
            let publicIP = IPAddress("192.0.2.\(11 + n)")!
            let underlay = try #require(try kernel.underlay(holding: publicIP))
            #expect(
                underlay.name == "lan0" && underlay.mtu == 1500 && underlay.segments == [IPNetwork("192.0.2.0/24")!])
            let mac = MACAddress("5e:08:1d:56:15:e\(n)")!
            let device = VXLANDevice(
                backend: conf.backend, ipv6: false, local: publicIP, underlay: underlay.index,
                underlayMTU: underlay.mtu,
                mac: mac)
            let subnet = IPNetwork("10.42.\(n).0/24")!
            let (index, outcome) = try kernel.ensure(device, address: subnet.address)
            #expect(outcome == .created)
            #expect(try kernel.ensure(device, address: subnet.address) == (index, .kept))
            let lease = NodeLease(
                name: "node\(n + 1)", subnet: subnet, publicIP: publicIP, backendType: "vxlan",
                vxlan: FlannelAnnotations.VXLANData(vni: 1, vtepMAC: mac))
            nodes.append(Node(kernel: kernel, underlay: underlay, lease: lease, device: index))
        }
        return nodes
    }

    static func plan(for node: Node, remotes: [NodeLease]) -> OverlayPlan {
        OverlayPlan(
            conf: conf,
            local: OverlayPlan.Local(
                name: node.lease.name, underlay: node.underlay.index, segments: node.underlay.segments,
                device: node.device),
            remotes: remotes)
    }

    static func observed(_ node: Node) throws -> [OverlayEntry] {
        try node.kernel.observed(
            devices: [node.device, node.underlay.index], networks: [conf.network!], localSubnets: [node.lease.subnet!])
    }

    @Test func programsWhatFlannelProgramsAndTrafficCrossesTheTunnel() async throws {
        try await ScratchNamespaces.run(family: "pyov", count: 2) { scratch in
            let nodes = try Self.twoNodes(scratch)
            // The seed's `ip -d addr show flannel.1`, on this underlay.
            let link = try scratch.ip(0, "-d", "address", "show", "flannel.1")
            for fragment in [
                "mtu 1450", "link/ether 5e:08:1d:56:15:e0", "vxlan id 1 local 192.0.2.11 dev lan0",
                "dstport 8472 nolearning", "inet 10.42.0.0/32 scope global flannel.1", "UP",
            ] {
                #expect(link.contains(fragment), "\(fragment) in \(link)")
            }
            for (i, node) in nodes.enumerated() {
                let plan = Self.plan(for: node, remotes: nodes.map(\.lease))
                #expect(plan.entries.count == 3)
                #expect(node.kernel.apply(plan.changes(from: try Self.observed(node))).isEmpty)
                #expect(Set(try Self.observed(node)) == Set(plan.entries), "the kernel holds exactly the plan")
                #expect(plan.changes(from: try Self.observed(node)).isEmpty)
                let other = 1 - i
                #expect(
                    try scratch.ip(i, "neigh", "show", "dev", "flannel.1").contains(
                        "10.42.\(other).0 lladdr 5e:08:1d:56:15:e\(other) PERMANENT"))
                let fdb = try ChildProcess.run(
                    "/usr/sbin/bridge", ["-n", scratch.names[i], "fdb", "show", "dev", "flannel.1"])
                #expect(
                    fdb.standardOutput.contains("5e:08:1d:56:15:e\(other) dst 192.0.2.\(11 + other) self permanent"))
                #expect(
                    try scratch.ip(i, "route", "show", "10.42.\(other).0/24").contains(
                        "10.42.\(other).0/24 via 10.42.\(other).0 dev flannel.1 onlink"))
            }
            // Node 1 reaches node 2's overlay address through VXLAN (the source is its own flannel.1 address).
            let ping = try ChildProcess.run(
                "/usr/sbin/ip", ["netns", "exec", scratch.names[0], "ping", "-c", "1", "-W", "2", "10.42.1.0"])
            #expect(ping.succeeded, "\(ping.standardOutput)\(ping.standardError)")
        }
    }

    @Test func handDeletedEntriesComeBackAndALeavingNodeIsRemoved() async throws {
        try await ScratchNamespaces.run(family: "pyov", count: 2) { scratch in
            let nodes = try Self.twoNodes(scratch)
            let node = nodes[0]
            let plan = Self.plan(for: node, remotes: nodes.map(\.lease))
            #expect(node.kernel.apply(plan.changes(from: [])).isEmpty)
            _ = try scratch.ip(0, "route", "del", "10.42.1.0/24")
            _ = try ChildProcess.run(
                "/usr/sbin/bridge", ["-n", scratch.names[0], "fdb", "del", "5e:08:1d:56:15:e1", "dev", "flannel.1"])
            let repairs = plan.changes(from: try Self.observed(node))
            #expect(repairs == [.put(plan.entries[1]), .put(plan.entries[2])])
            #expect(node.kernel.apply(repairs).isEmpty)
            #expect(Set(try Self.observed(node)) == Set(plan.entries))

            let alone = Self.plan(for: node, remotes: [node.lease])
            let removals = alone.changes(from: try Self.observed(node))
            #expect(removals == plan.entries.reversed().map(OverlayChange.remove))
            #expect(node.kernel.apply(removals).isEmpty)
            #expect(try Self.observed(node).isEmpty)
            #expect(node.kernel.apply(removals).isEmpty, "removing what is gone is not an error")
        }
    }

    @Test func anIncompatibleDeviceIsRecreatedAndADriftedOneMended() async throws {
        try await ScratchNamespaces.run(family: "pyov", count: 2) { scratch in
            let node = try Self.twoNodes(scratch)[0]
            var backend = Self.conf.backend
            backend.port = 4789
            let moved = VXLANDevice(
                backend: backend, ipv6: false, local: node.lease.publicIP!, underlay: node.underlay.index,
                underlayMTU: 1500, mac: node.lease.vxlan!.vtepMAC)
            let (_, outcome) = try node.kernel.ensure(moved, address: node.lease.subnet!.address)
            #expect(outcome == .recreated("port 8472, wanted 4789"))
            #expect(try scratch.ip(0, "-d", "link", "show", "flannel.1").contains("dstport 4789"))
            _ = try scratch.ip(0, "link", "set", "flannel.1", "mtu", "1400", "down")
            _ = try scratch.ip(0, "address", "add", "10.42.9.9/32", "dev", "flannel.1")
            let (_, again) = try node.kernel.ensure(moved, address: node.lease.subnet!.address)
            #expect(again == .mended)
            let link = try scratch.ip(0, "address", "show", "flannel.1")
            #expect(link.contains("mtu 1450") && link.contains(",UP") && !link.contains("10.42.9.9"), "\(link)")
        }
    }

    @Test func dualStackNodesTunnelIPv6OverFlannelV6() async throws {
        try await ScratchNamespaces.run(family: "pyov", count: 2) { scratch in
            let conf = try NetConf(
                parsing: #"{"Network":"10.42.0.0/16","IPv6Network":"2001:db8:42::/56","EnableIPv6":true}"#)
            _ = try scratch.ip(
                0, "link", "add", "lan0", "type", "veth", "peer", "name", "lan0", "netns", scratch.names[1])
            var leases: [NodeLease] = []
            var locals: [(OverlayKernel, OverlayPlan.Local)] = []
            for n in 0..<2 {
                _ = try scratch.ip(n, "address", "add", "2001:db8::\(11 + n)/64", "dev", "lan0", "nodad")
                _ = try scratch.ip(n, "link", "set", "lan0", "up")
                let kernel = try OverlayKernel(namespace: scratch.namespaces[n])
                let publicIP = IPAddress("2001:db8::\(11 + n)")!
                let underlay = try #require(try kernel.underlay(holding: publicIP))
                #expect(underlay.segments == [IPNetwork("2001:db8::/64")!], "link-local networks are not the segment")
                let mac = MACAddress("5e:08:1d:56:16:e\(n)")!
                let device = VXLANDevice(
                    backend: conf.backend, ipv6: true, local: publicIP, underlay: underlay.index,
                    underlayMTU: underlay.mtu, mac: mac)
                let subnet = IPNetwork("2001:db8:42:\(n)::/64")!
                let (index, _) = try kernel.ensure(device, address: subnet.address)
                let acceptRA = try ChildProcess.run(
                    "/usr/sbin/ip",
                    ["netns", "exec", scratch.names[n], "cat", "/proc/sys/net/ipv6/conf/flannel-v6.1/accept_ra"])
                #expect(acceptRA.standardOutput == "0\n", "flannel turns router advertisements off on its device")
                leases.append(
                    NodeLease(
                        name: "node\(n + 1)", subnet: nil, ipv6Subnet: subnet, publicIP: nil, publicIPv6: publicIP,
                        backendType: "vxlan", vxlanV6: FlannelAnnotations.VXLANData(vni: 1, vtepMAC: mac)))
                locals.append(
                    (
                        kernel,
                        OverlayPlan.Local(
                            name: "node\(n + 1)", underlay: underlay.index, segments: underlay.segments,
                            deviceV6: index)
                    ))
            }
            let link = try scratch.ip(0, "-d", "address", "show", "flannel-v6.1")
            #expect(link.contains("vxlan id 1 local 2001:db8::11 dev lan0") && link.contains("mtu 1430"), "\(link)")
            #expect(link.contains("inet6 2001:db8:42::/128 scope global"), "\(link)")
            for (kernel, local) in locals {
                let plan = OverlayPlan(conf: conf, local: local, remotes: leases)
                #expect(plan.entries.count == 3)
                #expect(kernel.apply(plan.changes(from: [])).isEmpty)
                let observed = try kernel.observed(
                    devices: [local.deviceV6!], networks: [conf.ipv6Network!],
                    localSubnets: leases.filter { $0.name == local.name }.compactMap(\.ipv6Subnet))
                #expect(Set(observed) == Set(plan.entries))
            }
            #expect(
                try scratch.ip(0, "-6", "route", "show", "2001:db8:42:1::/64").contains(
                    "via 2001:db8:42:1:: dev flannel-v6.1"))
            let ping = try ChildProcess.run(
                "/usr/sbin/ip",
                ["netns", "exec", scratch.names[0], "ping", "-6", "-c", "1", "-W", "2", "2001:db8:42:1::"])
            #expect(ping.succeeded, "\(ping.standardOutput)\(ping.standardError)")
        }
    }

    /// The source address node `n` of `scratch` sees on a UDP datagram `sender` sends to it (a bounded burst, so the
    /// listener's start needs no synchronisation; each call its own `port`, so a burst still under way from an
    /// earlier call cannot be the one heard).
    static func sourceSeen(
        by n: Int, at address: String, port: Int, from sender: String, _ scratch: ScratchNamespaces
    ) async throws -> String {
        let listen = """
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("0.0.0.0", \(port)))
            s.settimeout(10)
            print(s.recvfrom(100)[1][0])
            """
        let send = """
            import socket, time
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for _ in range(50):
                s.sendto(b"x", ("\(address)", \(port)))
                time.sleep(0.1)
            """
        async let heard = ChildProcess.run(
            "/usr/sbin/ip", ["netns", "exec", scratch.names[n], "python3", "-c", listen])
        let sent = Task {
            try await ChildProcess.run("/usr/sbin/ip", ["netns", "exec", sender, "python3", "-c", send])
        }
        let result = try await heard
        sent.cancel()
        return result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func podTrafficLeavingTheClusterIsMasqueradedAndPodTrafficIsNot() async throws {
        try await ScratchNamespaces.run(family: "pyov", count: 3) { scratch in
            let nodes = try Self.twoNodes(scratch)
            for (i, node) in nodes.enumerated() {
                let plan = Self.plan(for: node, remotes: nodes.map(\.lease))
                #expect(node.kernel.apply(plan.changes(from: [])).isEmpty)
                let rules = OverlayNATRules.rules(
                    network: Self.conf.network!, subnet: node.lease.subnet!, masquerade: true)
                #expect(try node.kernel.ensureRules(rules, family: .ipv4))
                #expect(try !node.kernel.ensureRules(rules, family: .ipv4), "a second pass changes nothing")
                _ = try await ChildProcess.run(
                    "/usr/sbin/ip", ["netns", "exec", scratch.names[i], "sysctl", "-qw", "net.ipv4.ip_forward=1"])
            }
            // A pod on node 1 (namespace 2): 10.42.0.2 behind a veth whose node end holds the gateway 10.42.0.1.
            _ = try scratch.ip(
                0, "link", "add", "veth-pod", "type", "veth", "peer", "name", "eth0", "netns", scratch.names[2])
            _ = try scratch.ip(0, "address", "add", "10.42.0.1/24", "dev", "veth-pod")
            _ = try scratch.ip(0, "link", "set", "veth-pod", "up")
            _ = try scratch.ip(2, "address", "add", "10.42.0.2/24", "dev", "eth0")
            _ = try scratch.ip(2, "link", "set", "eth0", "up")
            _ = try scratch.ip(2, "route", "add", "default", "via", "10.42.0.1")

            // To node 2's own address (outside the cluster network): masqueraded to node 1's.
            #expect(
                try await Self.sourceSeen(by: 1, at: "192.0.2.12", port: 9001, from: scratch.names[2], scratch)
                    == "192.0.2.11")
            // To node 2's overlay address (inside the cluster network): the pod's own address, through the tunnel.
            #expect(
                try await Self.sourceSeen(by: 1, at: "10.42.1.0", port: 9002, from: scratch.names[2], scratch)
                    == "10.42.0.2")

            // Rules flushed by hand are noticed and put back whole.
            _ = try await ChildProcess.run(
                "/usr/sbin/ip",
                ["netns", "exec", scratch.names[0], "nft", "flush", "chain", "ip", "pylon-overlay", "postrouting"])
            let rules = OverlayNATRules.rules(
                network: Self.conf.network!, subnet: nodes[0].lease.subnet!, masquerade: true)
            #expect(try nodes[0].kernel.ensureRules(rules, family: .ipv4))
            let listed = try await ChildProcess.run(
                "/usr/sbin/ip", ["netns", "exec", scratch.names[0], "nft", "list", "table", "ip", "pylon-overlay"])
            for fragment in [
                "meta mark & 0x00004000 == 0x00004000 return", "ip saddr 10.42.0.0/24 ip daddr 10.42.0.0/16 return",
                "ip saddr 10.42.0.0/16 ip daddr != 224.0.0.0/4 masquerade fully-random", "ip saddr 10.42.0.0/16 accept",
            ] {
                #expect(listed.standardOutput.contains(fragment), "\(fragment) in \(listed.standardOutput)")
            }
        }
    }
}
