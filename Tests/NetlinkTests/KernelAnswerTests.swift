import NetCore
import Netlink
import PylonTestKit
import Testing

/// What the kernel answered iproute2 (captured by scripts/capture-netlink), decoded by Pylon: the dumps of a
/// namespace holding cni0 (bridge, 10.42.0.1/24 and 2001:db8::1/64), veth0 (enslaved to cni0) and flannel.1
/// (vxlan id 1, local 192.0.2.1, port 8472, no learning) with a neighbour, an FDB entry and an onlink route for a
/// remote node; and a refusal with its extended acknowledgement.
@Suite struct KernelAnswerTests {
    static func events(_ name: String) throws -> [NetlinkEvent] {
        try NetlinkEvent.parse(try Capture(name).bytes[...])
    }

    @Test func decodesEveryLinkOfADump() throws {
        let events = try Self.events("dump-links")
        #expect(events.last == .dumpDone)
        let links = events.compactMap { if case .link(let link) = $0 { link } else { nil } }
        #expect(links.map(\.name) == ["lo", "cni0", "veth0", "flannel.1"])
        let byName = Dictionary(uniqueKeysWithValues: links.map { ($0.name, $0) })
        let cni0 = try #require(byName["cni0"])
        #expect(cni0.kind == "bridge" && cni0.index == 2 && cni0.mtu == 1400 && cni0.flags.contains(.up))
        let veth = try #require(byName["veth0"])
        #expect(veth.kind == "veth" && veth.master == 2 && veth.address == [2, 0, 0, 0, 0, 1])
        let vxlan = try #require(byName["flannel.1"])
        #expect(vxlan.kind == "vxlan" && vxlan.mtu == 1450 && vxlan.address == [2, 0, 0, 0, 0, 3])
        #expect(
            vxlan.vxlan
                == VXLANSettings(id: 1, local: IPAddress("192.0.2.1"), underlay: 1, port: 8472, learning: false))
    }

    @Test func decodesAddresses() throws {
        let addresses = try Self.events("dump-addresses").compactMap {
            if case .address(let address) = $0 { address } else { nil }
        }
        let gateway = try #require(addresses.first { $0.address == IPAddress("10.42.0.1") })
        #expect(gateway.index == 2 && gateway.prefixLength == 24 && gateway.broadcast == IPAddress("10.42.0.255"))
        #expect(gateway.network == IPNetwork("10.42.0.0/24"))
        let v6 = try #require(addresses.first { $0.address == IPAddress("2001:db8::1") })
        #expect(v6.prefixLength == 64 && v6.flags.contains(.noDAD) && v6.flags.contains(.permanent))
        #expect(addresses.contains { $0.address == IPAddress("127.0.0.1") && $0.scope == Route.scopeHost })
    }

    @Test func decodesRoutesOfEveryTable() throws {
        let routes = try Self.events("dump-routes").compactMap { if case .route(let route) = $0 { route } else { nil } }
        let remote = try #require(routes.first { $0.destination == IPNetwork("10.42.1.0/24") })
        #expect(
            remote.gateway == IPAddress("10.42.1.0") && remote.outputInterface == 4 && remote.flags.contains(.onLink))
        #expect(remote.table == Route.mainTable && remote.routingProtocol == Route.protocolBoot)
        let connected = try #require(routes.first { $0.destination == IPNetwork("10.42.0.0/24") })
        #expect(connected.scope == Route.scopeLink && connected.preferredSource == IPAddress("10.42.0.1"))
        #expect(routes.contains { $0.table == Route.localTable && $0.type == Route.typeLocal })
        #expect(routes.contains { $0.family == .ipv6 && $0.destination.prefixLength == 0 })
    }

    @Test func decodesNeighboursAndForwardingEntries() throws {
        let neighbours = try Self.events("dump-neighbours").compactMap {
            if case .neighbour(let n) = $0 { n } else { nil }
        }
        #expect(
            neighbours.contains(.permanent(IPAddress("10.42.1.0")!, at: MACAddress("02:00:00:00:00:09")!, index: 4)))
        let entries = try Self.events("dump-fdb").compactMap { if case .neighbour(let n) = $0 { n } else { nil } }
        let entry = try #require(entries.first { $0.destination == IPAddress("192.0.2.2") })
        #expect(entry.family == .bridge && entry.flags.contains(.self) && entry.state.contains(.permanent))
        #expect(entry.linkAddress == MACAddress("02:00:00:00:00:09") && entry.index == 4)
    }

    @Test func decodesARefusalWithItsExtendedAcknowledgement() throws {
        let message = try #require(try NetlinkMessage.split(try Capture("error-nexthop-down").bytes[...]).first)
        let error = try #require(try KernelError(decoding: message))
        #expect(error.code == KernelError.networkDown && error.name == "ENETDOWN")
        #expect(error.message == "Nexthop device is not up")
        #expect(error.description == "Network is down (ENETDOWN): Nexthop device is not up")
    }

    /// Found by fuzz-netlink: an error answer whose errno is Int32.min (negating it would trap).
    @Test func theMostNegativeErrnoDoesNotTrap() throws {
        var bytes: [UInt8] = [36, 0, 0, 0, 2, 0, 0x00, 0x01, 7, 0, 0, 0, 0, 0, 0, 0]  // capped
        bytes += [0, 0, 0, 0x80] + [16, 0, 0, 0, 16, 0, 5, 0, 7, 0, 0, 0, 0, 0, 0, 0]
        let message = try #require(try NetlinkMessage.split(bytes[...]).first)
        #expect(try KernelError(decoding: message)?.code == Int32.max)
    }

    @Test func anAcknowledgementIsNoError() throws {
        var bytes: [UInt8] = [36, 0, 0, 0, 2, 0, 0x01, 0x01, 7, 0, 0, 0, 0, 0, 0, 0]  // capped
        bytes += [0, 0, 0, 0] + [16, 0, 0, 0, 16, 0, 5, 0, 7, 0, 0, 0, 0, 0, 0, 0]
        let message = try #require(try NetlinkMessage.split(bytes[...]).first)
        #expect(try KernelError(decoding: message) == nil)
    }
}
