import NetCore

/// A route this speaker announces: a prefix and the attributes it carries. Pure value.
public struct Route: Sendable, Hashable {
    public var prefix: IPNetwork
    /// The next hop for the prefix's family (the node's own address on the peering link).
    public var nextHop: IPAddress
    /// LOCAL_PREF, sent to internal peers only (100 when nil).
    public var localPreference: UInt32?
    public var communities: [UInt32]
    public var largeCommunities: [PathAttribute.LargeCommunity]

    public init(
        prefix: IPNetwork, nextHop: IPAddress, localPreference: UInt32? = nil, communities: [UInt32] = [],
        largeCommunities: [PathAttribute.LargeCommunity] = []
    ) {
        self.prefix = prefix
        self.nextHop = nextHop
        self.localPreference = localPreference
        self.communities = communities
        self.largeCommunities = largeCommunities
    }

    /// LOCAL_PREF sent to internal peers when the route sets none (the value routers assume by default).
    public static let defaultLocalPreference: UInt32 = 100

    /// UPDATE messages announcing `routes` and withdrawing `withdrawn`, each within the 4096-byte limit: routes
    /// with the same attributes share messages; IPv4 travels in the NLRI field, IPv6 in MP_REACH_NLRI /
    /// MP_UNREACH_NLRI. The AS_PATH is empty towards internal peers and `localASN` towards external ones.
    public static func updates(
        announcing routes: [Route], withdrawing withdrawn: [IPNetwork], localASN: UInt32, external: Bool,
        fourOctetAS: Bool
    ) -> [BGPUpdate] {
        var updates: [BGPUpdate] = []
        // Withdrawals first, so a prefix that moves is never briefly announced twice.
        let withdraw4 = withdrawn.filter { $0.family == .ipv4 }.sorted { $0.address < $1.address }
        let withdraw6 = withdrawn.filter { $0.family == .ipv6 }.sorted { $0.address < $1.address }
        for chunk in chunks(withdraw4, room: 4000) { updates.append(BGPUpdate(withdrawn: chunk)) }
        for chunk in chunks(withdraw6, room: 3980) {
            updates.append(BGPUpdate(attributes: [.multiprotocolUnreach(family: .ipv6Unicast, prefixes: chunk)]))
        }
        var groups: [[PathAttribute]: [IPNetwork]] = [:]
        var order: [[PathAttribute]] = []
        // IPv4 first (IPAddress orders IPv4 before IPv6), then by address.
        for route in routes.sorted(by: { $0.prefix.address < $1.prefix.address }) {
            var attributes: [PathAttribute] = [
                .origin(.igp), .asPath(external ? [.init(.sequence, [localASN])] : []),
            ]
            if route.prefix.family == .ipv4 { attributes.append(.nextHop(route.nextHop)) }
            // LOCAL_PREF is mandatory towards internal peers (RFC 4271 §5.1.5; FRR withdraws routes without it).
            if !external { attributes.append(.localPreference(route.localPreference ?? Self.defaultLocalPreference)) }
            if !route.communities.isEmpty { attributes.append(.communities(route.communities.sorted())) }
            if !route.largeCommunities.isEmpty {
                attributes.append(.largeCommunities(route.largeCommunities.sorted { $0.description < $1.description }))
            }
            if route.prefix.family == .ipv6 {
                // The MP_REACH attribute (built per chunk below) stands for the next hop.
                attributes.append(.multiprotocolReach(family: .ipv6Unicast, nextHops: [route.nextHop], prefixes: []))
            }
            if groups[attributes] == nil { order.append(attributes) }
            groups[attributes, default: []].append(route.prefix)
        }
        for attributes in order {
            let prefixes = groups[attributes]!
            let size = attributes.reduce(0) { $0 + $1.encoded(fourOctetAS: fourOctetAS).count }
            let room = BGPMessage.maximumLength - BGPMessage.headerLength - 4 - size - 4
            for chunk in chunks(prefixes, room: room) {
                if case .multiprotocolReach(let family, let hops, _) = attributes.last {
                    updates.append(
                        BGPUpdate(
                            attributes: attributes.dropLast() + [
                                .multiprotocolReach(family: family, nextHops: hops, prefixes: chunk)
                            ]))
                } else {
                    updates.append(BGPUpdate(attributes: attributes, nlri: chunk))
                }
            }
        }
        return updates
    }

    /// Splits prefixes so that each part's NLRI encoding fits in `room` bytes.
    static func chunks(_ prefixes: [IPNetwork], room: Int) -> [[IPNetwork]] {
        var out: [[IPNetwork]] = []
        var current: [IPNetwork] = []
        var used = 0
        for prefix in prefixes {
            let size = 1 + (prefix.prefixLength + 7) / 8
            if used + size > room, !current.isEmpty {
                out.append(current)
                current = []
                used = 0
            }
            current.append(prefix)
            used += size
        }
        if !current.isEmpty { out.append(current) }
        return out
    }
}
