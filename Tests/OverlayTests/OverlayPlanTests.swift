import NetCore
import Netlink
import Overlay
import Testing

/// The kernel state the overlay wants for a set of leases, and the changes that get there from what the kernel has.
/// The expected entries are flannel's, as its vxlan and host-gw backends document and program them: per remote
/// node a permanent neighbour (subnet's .0 → VtepMAC) and a permanent self FDB entry (VtepMAC → public IP) on
/// flannel.1, then `subnet via subnet.0 dev flannel.1 onlink`; host-gw and DirectRouting: `subnet via public-ip`.
@Suite struct OverlayPlanTests {
    static let vxlan = try! NetConf(parsing: #"{"Network":"10.42.0.0/16","Backend":{"Type":"vxlan"}}"#)
    static let hostGW = try! NetConf(parsing: #"{"Network":"10.42.0.0/16","Backend":{"Type":"host-gw"}}"#)
    static let flannel1: Int32 = 4
    static let eth0: Int32 = 2
    static let local = OverlayPlan.Local(
        name: "node1", underlay: eth0, segments: [IPNetwork("192.0.2.0/24")!], device: flannel1)

    static func lease(_ n: Int, type: String = "vxlan", publicIP: String? = nil, mac: String? = nil) -> NodeLease {
        NodeLease(
            name: "node\(n + 1)", subnet: IPNetwork("10.42.\(n).0/24"),
            publicIP: IPAddress(publicIP ?? "192.0.2.\(11 + n)"), backendType: type,
            vxlan: FlannelAnnotations.VXLANData(vni: 1, vtepMAC: MACAddress(mac ?? "5e:08:1d:56:15:e\(n)")!))
    }

    static func flannelEntries(_ n: Int, publicIP: String? = nil, mac: String? = nil) -> [OverlayEntry] {
        let subnet = IPNetwork("10.42.\(n).0/24")!
        let vtep = MACAddress(mac ?? "5e:08:1d:56:15:e\(n)")!
        return [
            .neighbour(device: flannel1, address: subnet.address, mac: vtep),
            .forwarding(device: flannel1, mac: vtep, remote: IPAddress(publicIP ?? "192.0.2.\(11 + n)")!),
            .route(destination: subnet, gateway: subnet.address, device: flannel1, onLink: true),
        ]
    }

    @Test func vxlanProgramsFlannelsEntriesForEveryOtherNode() {
        let plan = OverlayPlan(
            conf: Self.vxlan, local: Self.local, remotes: [Self.lease(2), Self.lease(0), Self.lease(1)])
        #expect(plan.entries == Self.flannelEntries(1) + Self.flannelEntries(2), "own lease left out, in name order")
        #expect(plan.skipped.isEmpty)
        #expect(plan.changes(from: []) == plan.entries.map(OverlayChange.put))
        #expect(plan.changes(from: plan.entries.reversed()) == [], "a kernel that matches needs nothing")
        // The rtnetlink forms are flannel's: permanent neighbour, self permanent FDB, onlink route of proto boot.
        let route = Self.flannelEntries(1)[2].route!
        #expect(route.flags == .onLink && route.routingProtocol == Route.protocolBoot && route.table == Route.mainTable)
        #expect(Self.flannelEntries(1)[0].neighbour?.state == .permanent)
        #expect(Self.flannelEntries(1)[1].neighbour?.flags == .self)
    }

    @Test func aNodeThatLeavesIsRemovedInReverseOrder() {
        let plan = OverlayPlan(conf: Self.vxlan, local: Self.local, remotes: [Self.lease(1)])
        let stale = Self.flannelEntries(3)
        let changes = plan.changes(from: Self.flannelEntries(1) + stale)
        #expect(changes == [.remove(stale[2]), .remove(stale[1]), .remove(stale[0])])
    }

    @Test func aNewVtepMACReplacesTheNeighbourAndTheForwardingEntry() {
        let plan = OverlayPlan(conf: Self.vxlan, local: Self.local, remotes: [Self.lease(1, mac: "aa:bb:cc:dd:ee:01")])
        let old = Self.flannelEntries(1)
        let new = Self.flannelEntries(1, mac: "aa:bb:cc:dd:ee:01")
        #expect(plan.changes(from: old) == [.remove(old[1]), .put(new[0]), .put(new[1])])
    }

    @Test func aHandDeletedEntryIsPutBackAlone() {
        let plan = OverlayPlan(conf: Self.vxlan, local: Self.local, remotes: [Self.lease(1), Self.lease(2)])
        var observed = plan.entries
        let lost = observed.remove(at: 4)
        #expect(plan.changes(from: observed) == [.put(lost)])
    }

    @Test func hostGWRoutesViaPublicIPsAndSkipsNodesOffTheSegment() {
        let far = Self.lease(2, type: "host-gw", publicIP: "198.51.100.13")
        let plan = OverlayPlan(conf: Self.hostGW, local: Self.local, remotes: [Self.lease(1, type: "host-gw"), far])
        #expect(
            plan.entries == [
                .route(
                    destination: IPNetwork("10.42.1.0/24")!, gateway: IPAddress("192.0.2.12")!, device: Self.eth0,
                    onLink: false)
            ])
        #expect(plan.skipped["node3"]?.reason == .notOnSegment)
        #expect(
            plan.skipped["node3"]?.message.contains("198.51.100.13 is not on this node's segment (192.0.2.0/24)")
                == true)
    }

    @Test func directRoutingUsesPlainRoutesOnTheSegmentAndVXLANBeyond() throws {
        let conf = try NetConf(parsing: #"{"Network":"10.42.0.0/16","Backend":{"Type":"vxlan","DirectRouting":true}}"#)
        let plan = OverlayPlan(
            conf: conf, local: Self.local, remotes: [Self.lease(1), Self.lease(2, publicIP: "198.51.100.13")])
        #expect(
            plan.entries == [
                .route(
                    destination: IPNetwork("10.42.1.0/24")!, gateway: IPAddress("192.0.2.12")!, device: Self.eth0,
                    onLink: false)
            ] + Self.flannelEntries(2, publicIP: "198.51.100.13"))
    }

    @Test func aNodeOfAnotherBackendIsSkippedAsFlannelIgnoresIt() {
        let plan = OverlayPlan(
            conf: Self.vxlan, local: Self.local, remotes: [Self.lease(1, type: "host-gw"), Self.lease(2)])
        #expect(plan.entries == Self.flannelEntries(2))
        #expect(plan.skipped["node2"]?.reason == .unsupportedBackend)
    }

    @Test func dualStackProgramsBothDevices() {
        let local = OverlayPlan.Local(
            name: "node1", underlay: Self.eth0, segments: [IPNetwork("192.0.2.0/24")!, IPNetwork("2001:db8::/64")!],
            device: Self.flannel1, deviceV6: 5)
        var remote = Self.lease(1)
        remote.ipv6Subnet = IPNetwork("2001:db8:42:1::/64")
        remote.publicIPv6 = IPAddress("2001:db8::12")
        remote.vxlanV6 = FlannelAnnotations.VXLANData(vni: 1, vtepMAC: MACAddress("5e:08:1d:56:16:01")!)
        let conf = try! NetConf(
            parsing: #"{"Network":"10.42.0.0/16","IPv6Network":"2001:db8:42::/56","EnableIPv6":true}"#)
        let plan = OverlayPlan(conf: conf, local: local, remotes: [remote])
        let v6 = IPNetwork("2001:db8:42:1::/64")!
        let mac6 = MACAddress("5e:08:1d:56:16:01")!
        #expect(
            plan.entries == Self.flannelEntries(1) + [
                .neighbour(device: 5, address: v6.address, mac: mac6),
                .forwarding(device: 5, mac: mac6, remote: IPAddress("2001:db8::12")!),
                .route(destination: v6, gateway: v6.address, device: 5, onLink: true),
            ])
    }

    @Test func onlyTheOverlaysOwnKernelEntriesAreObserved() {
        let devices: Set<Int32> = [Self.flannel1, Self.eth0]
        let mac = MACAddress("5e:08:1d:56:15:e1")!
        let permanent = Neighbour.permanent(IPAddress("10.42.1.0")!, at: mac, index: Self.flannel1)
        #expect(
            OverlayEntry(observed: permanent, devices: devices)
                == .neighbour(device: Self.flannel1, address: IPAddress("10.42.1.0")!, mac: mac))
        var learned = permanent
        learned.state = .reachable
        #expect(OverlayEntry(observed: learned, devices: devices) == nil, "a learned neighbour is the kernel's")
        #expect(OverlayEntry(observed: permanent, devices: [9]) == nil, "another device's")
        let zero = Neighbour.forwardingEntry(.zero, remote: IPAddress("192.0.2.12")!, index: Self.flannel1)
        #expect(OverlayEntry(observed: zero, devices: devices) == nil, "an all-zero FDB entry is not flannel's")

        let networks = [IPNetwork("10.42.0.0/16")!]
        let local = [IPNetwork("10.42.0.0/24")!]
        let mine = Route(
            destination: IPNetwork("10.42.1.0/24")!, gateway: IPAddress("10.42.1.0"), outputInterface: Self.flannel1,
            flags: .onLink)
        #expect(OverlayEntry(observed: mine, networks: networks, localSubnets: local, devices: devices) != nil)
        let bridge = Route(
            destination: IPNetwork("10.42.0.0/24")!, gateway: IPAddress("10.42.0.9"), outputInterface: Self.eth0)
        #expect(OverlayEntry(observed: bridge, networks: networks, localSubnets: local, devices: devices) == nil)
        let outside = Route(
            destination: IPNetwork("203.0.113.0/24")!, gateway: IPAddress("192.0.2.1"), outputInterface: Self.eth0)
        #expect(OverlayEntry(observed: outside, networks: networks, localSubnets: local, devices: devices) == nil)
        let connected = Route(destination: IPNetwork("10.42.5.0/24")!, outputInterface: Self.eth0)
        #expect(OverlayEntry(observed: connected, networks: networks, localSubnets: local, devices: devices) == nil)
    }
}
