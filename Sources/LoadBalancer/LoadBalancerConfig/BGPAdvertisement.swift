import KubeAPI

/// A `BGPAdvertisement` (metallb.io/v1beta1) after validation: which pools' addresses go to which peers, from
/// which nodes, with which attributes.
public struct BGPAdvertisement: Sendable, Equatable {
    public var name: String
    /// Prefix length IPv4 addresses are announced with (32: each address alone).
    public var aggregationLength: Int
    public var aggregationLengthV6: Int
    public var localPreference: UInt32?
    /// Communities, aliases of Community objects resolved.
    public var communities: [BGPCommunity]
    /// Pools by name; together with `poolSelectors`, empty means every pool.
    public var pools: [String]
    public var poolSelectors: [LabelSelector]
    /// Nodes that announce; empty means every node.
    public var nodeSelectors: [LabelSelector]
    /// BGPPeer names to announce to; empty means every peer.
    public var peers: [String]

    public init(
        name: String, aggregationLength: Int = 32, aggregationLengthV6: Int = 128, localPreference: UInt32? = nil,
        communities: [BGPCommunity] = [], pools: [String] = [], poolSelectors: [LabelSelector] = [],
        nodeSelectors: [LabelSelector] = [], peers: [String] = []
    ) {
        self.name = name
        self.aggregationLength = aggregationLength
        self.aggregationLengthV6 = aggregationLengthV6
        self.localPreference = localPreference
        self.communities = communities
        self.pools = pools
        self.poolSelectors = poolSelectors
        self.nodeSelectors = nodeSelectors
        self.peers = peers
    }

    /// Whether this advertisement covers `pool`.
    public func covers(_ pool: AddressPool) -> Bool {
        if pools.isEmpty && poolSelectors.isEmpty { return true }
        return pools.contains(pool.name) || poolSelectors.contains { $0.matches(pool.labels) }
    }

    /// Whether a node with `labels` announces for this advertisement.
    public func allows(nodeLabels labels: [String: String]) -> Bool {
        nodeSelectors.isEmpty || nodeSelectors.contains { $0.matches(labels) }
    }

    /// Whether this advertisement goes to the BGPPeer named `peer`.
    public func targets(peer: String) -> Bool { peers.isEmpty || peers.contains(peer) }

    /// Reads and checks one object; nil (after reporting through `fail`) when it is unusable.
    init?(_ object: JSON, aliases: [String: BGPCommunity], poolNames: Set<String>, fail: (String, String) -> Void) {
        let spec = object["spec"] ?? [:]
        name = object["metadata"]?["name"]?.stringValue ?? ""
        var usable = true
        aggregationLength = Int(spec["aggregationLength"]?.intValue ?? 32)
        if !(0...32).contains(aggregationLength) {
            fail("spec.aggregationLength", "must be between 0 and 32")
            usable = false
        }
        aggregationLengthV6 = Int(spec["aggregationLengthV6"]?.intValue ?? 128)
        if !(0...128).contains(aggregationLengthV6) {
            fail("spec.aggregationLengthV6", "must be between 0 and 128")
            usable = false
        }
        localPreference = nil
        if let value = spec["localPref"]?.intValue {
            if (0...Int64(UInt32.max)).contains(value) {
                localPreference = UInt32(value)
            } else {
                fail("spec.localPref", "must be between 0 and 4294967295")
                usable = false
            }
        }
        communities = []
        for (i, entry) in (spec["communities"]?.arrayValue ?? []).enumerated() {
            let text = entry.stringValue ?? ""
            if let community = BGPCommunity(text) ?? aliases[text] {
                communities.append(community)
            } else {
                fail(
                    "spec.communities[\(i)]",
                    "\"\(text)\" is neither AA:NN, large:AA:BB:CC, nor the name of a Community alias")
                usable = false
            }
        }
        pools = (spec["ipAddressPools"]?.arrayValue ?? []).compactMap(\.stringValue)
        for (i, pool) in pools.enumerated() where !poolNames.contains(pool) {
            fail("spec.ipAddressPools[\(i)]", "pool \"\(pool)\" does not exist")
            usable = false
        }
        poolSelectors = Configuration.selectors(spec["ipAddressPoolSelectors"], "spec.ipAddressPoolSelectors", fail)
        nodeSelectors = Configuration.selectors(spec["nodeSelectors"], "spec.nodeSelectors", fail)
        peers = (spec["peers"]?.arrayValue ?? []).compactMap(\.stringValue)
        if !usable { return nil }
    }
}
