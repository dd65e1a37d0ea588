import Foundation
import Kernel
import NetCore
import Netlink
import PylonTestSupport
import Testing

/// Pylon's rtnetlink socket against the Linux kernel, in namespaces the tests create; `ip -j` (iproute2) is the
/// judge of what the kernel now holds.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root for network namespaces"))
struct NetlinkSocketTests {
    static func json(_ text: String) throws -> [[String: Any]] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
    }

    @Test func buildsAPodNetworkThatIpSees() async throws {
        try await ScratchNamespaces.run(family: "pylk", count: 2) { scratch in
            let node = try NetlinkSocket(namespace: scratch.namespaces[0])
            let pod = try NetlinkSocket(namespace: scratch.namespaces[1])
            // The bridge, up, with its gateway address.
            try node.perform(.createLink(LinkTemplate(name: "cni0", kind: .bridge, mtu: 1450, up: true)))
            let bridge = try #require(try node.link(named: "cni0"))
            try node.perform(
                .addAddress(
                    InterfaceAddress(
                        index: bridge.index, address: IPAddress("10.42.0.1")!, prefixLength: 24,
                        broadcast: IPAddress("10.42.0.255"))))
            // A veth pair made inside the pod, its host end moved to the node.
            let nodeFD = try scratch.namespaces[0].open()
            defer { close(nodeFD) }
            let peer = LinkTemplate.Peer(name: "veth1a2b3c4d", mtu: 1450, namespaceDescriptor: nodeFD)
            try pod.perform(.createLink(LinkTemplate(name: "eth0", kind: .veth(peer: peer), mtu: 1450)))
            let host = try #require(try node.link(named: "veth1a2b3c4d"))
            try node.perform(.updateLink(host.index, LinkUpdate(up: true, master: bridge.index)))
            try node.perform(.setBridgePort(host.index, hairpin: true))
            let eth0 = try #require(try pod.link(named: "eth0"))
            #expect(eth0.link == host.index, "a veth names its peer's index")
            try pod.perform(.updateLink(eth0.index, LinkUpdate(up: true)))
            try pod.perform(
                .addAddress(InterfaceAddress(index: eth0.index, address: IPAddress("10.42.0.2")!, prefixLength: 24)))
            try pod.perform(
                .addRoute(
                    Route(
                        destination: IPNetwork("0.0.0.0/0")!, gateway: IPAddress("10.42.0.1"),
                        outputInterface: eth0.index)))

            let links = try Self.json(try scratch.ip(0, "-j", "-d", "link", "show", "veth1a2b3c4d"))
            #expect(links.first?["master"] as? String == "cni0" && links.first?["mtu"] as? Int == 1450)
            let port = try #require((links.first?["linkinfo"] as? [String: Any])?["info_slave_data"] as? [String: Any])
            #expect(port["hairpin"] as? Bool == true)
            let routes = try Self.json(try scratch.ip(1, "-j", "route", "show", "default"))
            #expect(routes.first?["gateway"] as? String == "10.42.0.1" && routes.first?["dev"] as? String == "eth0")
            // The pod reaches its gateway through the bridge.
            let ping = try ChildProcess.run(
                "/usr/sbin/ip", ["netns", "exec", scratch.names[1], "ping", "-c", "1", "-W", "5", "10.42.0.1"])
            #expect(ping.succeeded, "\(ping.standardOutput)")
            // Pylon's own dumps agree.
            #expect(
                try pod.routes(.ipv4).contains {
                    $0.destination.prefixLength == 0 && $0.gateway == IPAddress("10.42.0.1")
                })
            #expect(
                try node.addresses(.ipv4).contains { $0.address == IPAddress("10.42.0.1") && $0.index == bridge.index })
        }
    }

    @Test func programsAVXLANPeerAsFlannelDoes() async throws {
        try await ScratchNamespaces.run(family: "pylk") { scratch in
            let socket = try NetlinkSocket(namespace: scratch.namespaces[0])
            let settings = VXLANSettings(id: 1, local: IPAddress("192.0.2.1"), port: 8472, learning: false)
            try socket.perform(
                .createLink(
                    LinkTemplate(
                        name: "flannel.1", kind: .vxlan(settings), mtu: 1450, address: MACAddress("02:00:00:00:00:03"))
                ))
            let vxlan = try #require(try socket.link(named: "flannel.1"))
            #expect(vxlan.vxlan == settings && vxlan.mtu == 1450 && vxlan.address == [2, 0, 0, 0, 0, 3])
            try socket.perform(.updateLink(vxlan.index, LinkUpdate(up: true)))
            let remoteMAC = MACAddress("02:00:00:00:00:09")!
            try socket.perform(
                .replaceNeighbour(.permanent(IPAddress("10.42.1.0")!, at: remoteMAC, index: vxlan.index)))
            try socket.perform(
                .replaceNeighbour(.forwardingEntry(remoteMAC, remote: IPAddress("192.0.2.2")!, index: vxlan.index)))
            try socket.perform(
                .addRoute(
                    Route(
                        destination: IPNetwork("10.42.1.0/24")!, gateway: IPAddress("10.42.1.0"),
                        outputInterface: vxlan.index, flags: .onLink), replace: true))

            let fdb = try ChildProcess.run(
                "/usr/sbin/bridge", ["-n", scratch.names[0], "fdb", "show", "dev", "flannel.1"])
            #expect(
                fdb.standardOutput.contains("02:00:00:00:00:09 dst 192.0.2.2 self permanent"), "\(fdb.standardOutput)")
            #expect(
                try scratch.ip(0, "neigh", "show", "dev", "flannel.1").contains(
                    "10.42.1.0 lladdr 02:00:00:00:00:09 PERMANENT"))
            #expect(try scratch.ip(0, "route", "show", "10.42.1.0/24").contains("via 10.42.1.0 dev flannel.1 onlink"))
            // And removes them, in reverse.
            try socket.perform(
                .deleteRoute(
                    Route(
                        destination: IPNetwork("10.42.1.0/24")!, gateway: IPAddress("10.42.1.0"),
                        outputInterface: vxlan.index, flags: .onLink)))
            try socket.perform(
                .deleteNeighbour(.forwardingEntry(remoteMAC, remote: IPAddress("192.0.2.2")!, index: vxlan.index)))
            try socket.perform(.deleteNeighbour(.permanent(IPAddress("10.42.1.0")!, at: remoteMAC, index: vxlan.index)))
            #expect(try socket.neighbours(.bridge).filter { $0.index == vxlan.index && $0.destination != nil }.isEmpty)
            #expect(try socket.neighbours(.ip(.ipv4)).filter { $0.index == vxlan.index }.isEmpty)
            #expect(try scratch.ip(0, "route", "show", "10.42.1.0/24").isEmpty)
        }
    }

    @Test func aRefusalCarriesTheKernelsReason() async throws {
        try await ScratchNamespaces.run(family: "pylk") { scratch in
            let socket = try NetlinkSocket(namespace: scratch.namespaces[0])
            try socket.perform(.createLink(LinkTemplate(name: "cni0", kind: .bridge)))
            #expect(throws: NetlinkSocketError.refused(KernelError(code: KernelError.exists))) {
                try socket.perform(.createLink(LinkTemplate(name: "cni0", kind: .bridge)))
            }
            let bridge = try #require(try socket.link(named: "cni0"))
            do throws(NetlinkSocketError) {
                try socket.perform(
                    .addRoute(
                        Route(
                            destination: IPNetwork("10.42.1.0/24")!, gateway: IPAddress("10.42.1.0"),
                            outputInterface: bridge.index, flags: .onLink)))
                Issue.record("a route through a link that is down was accepted")
            } catch {
                #expect(
                    error == .refused(KernelError(code: KernelError.networkDown, message: "Nexthop device is not up")))
            }
            #expect(try socket.link(named: "nothing") == nil)
            #expect(throws: NetlinkSocketError.refused(KernelError(code: KernelError.noDevice))) {
                try socket.perform(.deleteLink(999))
            }
        }
    }

    @Test func aDumpSpansManyDatagrams() async throws {
        try await ScratchNamespaces.run(family: "pylk") { scratch in
            let socket = try NetlinkSocket(namespace: scratch.namespaces[0])
            try socket.perform(.createLink(LinkTemplate(name: "cni0", kind: .bridge, up: true)))
            let bridge = try #require(try socket.link(named: "cni0"))
            for n in 0..<2000 {
                let destination = IPNetwork(address: .v4(0x0A2A_0000 + UInt32(n) << 8), prefixLength: 24)!
                try socket.perform(
                    .addRoute(
                        Route(
                            destination: destination, outputInterface: bridge.index, scope: Route.scopeLink)))
            }
            let routes = try socket.routes(.ipv4).filter { $0.outputInterface == bridge.index }
            #expect(routes.count == 2000)
            #expect(Set(routes.map(\.destination)).count == 2000)
        }
    }

    @Test func announcesChangesToSubscribers() async throws {
        try await ScratchNamespaces.run(family: "pylk") { scratch in
            let watcher = try NetlinkSocket(
                namespace: scratch.namespaces[0], groups: NetlinkMessage.linkGroup | NetlinkMessage.ipv4AddressGroup,
                timeout: .milliseconds(200))
            let socket = try NetlinkSocket(namespace: scratch.namespaces[0])
            try socket.perform(.createLink(LinkTemplate(name: "cni0", kind: .bridge)))
            let bridge = try #require(try socket.link(named: "cni0"))
            try socket.perform(
                .addAddress(InterfaceAddress(index: bridge.index, address: IPAddress("10.42.0.1")!, prefixLength: 24)))
            try socket.perform(.deleteLink(bridge.index))
            var seen: [NetlinkEvent] = []
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline,
                !seen.contains(where: { if case .linkRemoved(let l) = $0 { l.name == "cni0" } else { false } })
            {
                seen += try watcher.announcements()
            }
            #expect(seen.contains { if case .link(let l) = $0 { l.name == "cni0" } else { false } })
            #expect(
                seen.contains { if case .address(let a) = $0 { a.address == IPAddress("10.42.0.1") } else { false } })
            #expect(seen.contains { if case .linkRemoved(let l) = $0 { l.name == "cni0" } else { false } })
        }
    }

    @Test func aMissingNamespaceIsAClearErrorAndTheCallerStaysHome() throws {
        let before = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self/ns/net")
        #expect(throws: NetlinkSocketError.self) {
            _ = try NetlinkSocket(namespace: NetworkNamespace(named: "pylk-does-not-exist"))
        }
        do {
            _ = try NetlinkSocket(namespace: NetworkNamespace(named: "pylk-does-not-exist"))
        } catch {
            #expect("\(error)".contains("/var/run/netns/pylk-does-not-exist: No such file or directory"))
        }
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self/ns/net") == before)
    }
}
