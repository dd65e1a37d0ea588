import NetCore
import Testing

@testable import BGP

/// Turning the routes to announce into UPDATE messages (pure).
@Suite struct RouteUpdatesTests {
    static let hop4 = IPAddress("192.0.2.11")!
    static let hop6 = IPAddress("2001:db8::11")!

    static func host(_ n: Int) -> IPNetwork {
        IPNetwork(address: IPAddress(family: .ipv4, numeric: UInt128(0xC000_0200 + n)), prefixLength: 32)!
    }

    @Test func routesWithTheSameAttributesShareAnUpdateAndFamiliesAreSplit() {
        let v6 = IPNetwork(address: IPAddress("2001:db8::100")!, prefixLength: 128)!
        let updates = Route.updates(
            announcing: [
                Route(prefix: Self.host(100), nextHop: Self.hop4), Route(prefix: Self.host(101), nextHop: Self.hop4),
                Route(prefix: Self.host(102), nextHop: Self.hop4, communities: [1]),
                Route(prefix: v6, nextHop: Self.hop6),
            ],
            withdrawing: [Self.host(7)], localASN: 64_512, external: true, fourOctetAS: true)
        #expect(updates.count == 4)
        #expect(updates[0] == BGPUpdate(withdrawn: [Self.host(7)]), "withdrawals first")
        #expect(updates[1].nlri == [Self.host(100), Self.host(101)])
        #expect(updates[1].attributes == [.origin(.igp), .asPath([.init(.sequence, [64_512])]), .nextHop(Self.hop4)])
        #expect(updates[2].nlri == [Self.host(102)] && updates[2].attributes.contains(.communities([1])))
        #expect(
            updates[3].attributes.last
                == .multiprotocolReach(family: .ipv6Unicast, nextHops: [Self.hop6], prefixes: [v6]))
        #expect(updates[3].nlri.isEmpty && !updates[3].attributes.contains { $0.type == 3 }, "no NEXT_HOP for IPv6")
    }

    @Test func internalPeersGetLocalPreferenceAndAnEmptyPath() {
        let updates = Route.updates(
            announcing: [
                Route(prefix: Self.host(1), nextHop: Self.hop4),
                Route(prefix: Self.host(2), nextHop: Self.hop4, localPreference: 300),
            ],
            withdrawing: [], localASN: 64_512, external: false, fourOctetAS: true)
        #expect(updates.map { $0.attributes[1] } == [.asPath([]), .asPath([])])
        #expect(
            updates.compactMap { $0.attributes.first { $0.type == 5 } } == [
                .localPreference(100), .localPreference(300),
            ])
        let external = Route.updates(
            announcing: [Route(prefix: Self.host(2), nextHop: Self.hop4, localPreference: 300)], withdrawing: [],
            localASN: 64_512, external: true, fourOctetAS: true)
        #expect(!external[0].attributes.contains { $0.type == 5 }, "never LOCAL_PREF to an external peer")
    }

    @Test func tenThousandRoutesFitInMessagesOfAtMost4096Bytes() throws {
        let routes = (0..<10_000).map { i in
            Route(
                prefix: IPNetwork(
                    address: IPAddress(family: .ipv4, numeric: UInt128(0xC633_0000 + i)), prefixLength: 32)!,
                nextHop: Self.hop4, communities: [64_512 << 16 | 100], largeCommunities: [.init(4_200_000_001, 1, 2)])
        }
        let v6 = (0..<3_000).map { i in
            Route(
                prefix: IPNetwork(
                    address: IPAddress(family: .ipv6, numeric: (0x2001_0db8 << 96) + UInt128(i)), prefixLength: 128)!,
                nextHop: Self.hop6)
        }
        let updates = Route.updates(
            announcing: routes + v6, withdrawing: routes.prefix(5_000).map(\.prefix), localASN: 64_512, external: true,
            fourOctetAS: true)
        var announced: [IPNetwork] = []
        var withdrawn: [IPNetwork] = []
        for update in updates {
            let bytes = BGPMessage.update(update).encoded()
            #expect(bytes.count <= BGPMessage.maximumLength)
            guard case .update(let decoded) = try BGPMessage.decode(bytes[...]) else { continue }
            announced += decoded.announcedPrefixes
            withdrawn += decoded.withdrawnPrefixes
        }
        #expect(Set(announced) == Set((routes + v6).map(\.prefix)) && announced.count == 13_000)
        #expect(withdrawn.count == 5_000)
        #expect(updates.count < 70, "messages are packed: \(updates.count)")
    }
}
