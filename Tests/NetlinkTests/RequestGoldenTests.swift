import NetCore
import Netlink
import PylonTestKit
import Testing

/// Pylon's requests, byte for byte against what iproute2 sends for the same change (captured by
/// scripts/capture-netlink). In the captures' namespace lo is link 1, cni0 2, veth0 3 and flannel.1 4; `netns` was
/// descriptor 4 in `ip`.
@Suite struct RequestGoldenTests {
    static let cni0: Int32 = 2
    static let veth0: Int32 = 3
    static let flannel: Int32 = 4

    static func expect(_ request: NetlinkRequest, equals name: String) throws {
        let capture = try Capture(name)
        let sequence = try #require(try NetlinkMessage.split(capture.bytes[...]).first).sequence
        let built = request.bytes(sequence: sequence)
        #expect(
            built == capture.bytes,
            "\(name): \(capture.notes.first ?? "")\n pylon: \(hex(built))\n ip:    \(hex(capture.bytes))")
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
    }

    static func mac(_ text: String) -> MACAddress { MACAddress(text)! }
    static func ip(_ text: String) -> IPAddress { IPAddress(text)! }
    static func net(_ text: String) -> IPNetwork { IPNetwork(text)! }

    @Test func createsABridge() throws {
        try Self.expect(
            .createLink(LinkTemplate(name: "cni0", kind: .bridge, mtu: 1450)), equals: "link-add-bridge")
    }

    @Test func createsAVethPairWithItsPeerInAnotherNamespace() throws {
        let peer = LinkTemplate.Peer(name: "eth0", address: Self.mac("02:00:00:00:00:02"), namespaceDescriptor: 4)
        let template = LinkTemplate(
            name: "veth0", kind: .veth(peer: peer), mtu: 1450, address: Self.mac("02:00:00:00:00:01"))
        try Self.expect(.createLink(template), equals: "link-add-veth")
    }

    @Test func createsAVXLANDeviceAsFlannelDoes() throws {
        let settings = VXLANSettings(id: 1, local: Self.ip("192.0.2.1"), underlay: 1, port: 8472, learning: false)
        let template = LinkTemplate(
            name: "flannel.1", kind: .vxlan(settings), mtu: 1450, address: Self.mac("02:00:00:00:00:03"))
        try Self.expect(.createLink(template), equals: "link-add-vxlan")
    }

    @Test func changesLinks() throws {
        try Self.expect(.updateLink(Self.veth0, LinkUpdate(master: Self.cni0)), equals: "link-set-master")
        try Self.expect(.updateLink(Self.cni0, LinkUpdate(mtu: 1400)), equals: "link-set-mtu")
        try Self.expect(.updateLink(Self.cni0, LinkUpdate(up: true)), equals: "link-set-up")
        try Self.expect(.updateLink(Self.cni0, LinkUpdate(promiscuous: true)), equals: "link-set-promisc")
        try Self.expect(.setBridgePort(Self.veth0, hairpin: true), equals: "link-set-hairpin")
        try Self.expect(.updateLink(Self.veth0, LinkUpdate(namespaceDescriptor: 4)), equals: "link-set-netns")
        try Self.expect(.deleteLink(Self.flannel), equals: "link-delete")
    }

    @Test func addsAndDeletesAddresses() throws {
        let gateway = InterfaceAddress(
            index: Self.cni0, address: Self.ip("10.42.0.1"), prefixLength: 24, broadcast: Self.ip("10.42.0.255"))
        try Self.expect(.addAddress(gateway), equals: "addr-add-ipv4")
        let v6 = InterfaceAddress(index: Self.cni0, address: Self.ip("2001:db8::1"), prefixLength: 64, flags: .noDAD)
        try Self.expect(.addAddress(v6), equals: "addr-add-ipv6")
        try Self.expect(.deleteAddress(gateway), equals: "addr-delete")
    }

    @Test func addsReplacesAndDeletesRoutes() throws {
        let remote = Route(
            destination: Self.net("10.42.1.0/24"), gateway: Self.ip("10.42.1.0"), outputInterface: Self.flannel,
            flags: .onLink)
        try Self.expect(.addRoute(remote, replace: true), equals: "route-replace-onlink")
        try Self.expect(.deleteRoute(remote), equals: "route-delete")
        let defaultRoute = Route(
            destination: Self.net("0.0.0.0/0"), gateway: Self.ip("10.42.0.254"), outputInterface: Self.cni0)
        try Self.expect(.addRoute(defaultRoute), equals: "route-add-default")
        let defaultV6 = Route(
            destination: Self.net("::/0"), gateway: Self.ip("2001:db8::fe"), outputInterface: Self.cni0)
        try Self.expect(.addRoute(defaultV6), equals: "route-add-default-ipv6")
    }

    @Test func writesNeighboursAndForwardingEntries() throws {
        let mac = Self.mac("02:00:00:00:00:09")
        let neighbour = Neighbour.permanent(Self.ip("10.42.1.0"), at: mac, index: Self.flannel)
        try Self.expect(.replaceNeighbour(neighbour), equals: "neigh-replace")
        try Self.expect(.deleteNeighbour(neighbour), equals: "neigh-delete")
        let entry = Neighbour.forwardingEntry(mac, remote: Self.ip("192.0.2.2"), index: Self.flannel)
        try Self.expect(.replaceNeighbour(entry), equals: "fdb-replace")
        try Self.expect(.deleteNeighbour(entry), equals: "fdb-delete")
    }
}
