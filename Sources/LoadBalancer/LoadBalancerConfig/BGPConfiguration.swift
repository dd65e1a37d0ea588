import KubeAPI
import NetCore

/// MetalLB's BGP objects — BGPPeer (metallb.io/v1beta2), BGPAdvertisement, Community and BFDProfile (v1beta1) —
/// after validation. Pure: no I/O. Secrets are referenced, never resolved here; a password given inline is kept in the
/// value but never appears in a `description` or an error.
public struct BGPConfiguration: Sendable, Equatable {
    public var peers: [BGPPeerSpec]
    public var advertisements: [BGPAdvertisement]
    /// By name; every BGPPeer's `bfdProfile` names one of them.
    public var bfdProfiles: [String: BFDProfile]

    public init(
        peers: [BGPPeerSpec] = [], advertisements: [BGPAdvertisement] = [], bfdProfiles: [String: BFDProfile] = [:]
    ) {
        self.peers = peers.sorted { $0.name < $1.name }
        self.advertisements = advertisements.sorted { $0.name < $1.name }
        self.bfdProfiles = bfdProfiles
    }

    /// The BFD profile of `peer`; nil when it asks for no BFD.
    public func bfdProfile(of peer: BGPPeerSpec) -> BFDProfile? {
        peer.bfdProfile.flatMap { bfdProfiles[$0] }
    }

    /// Validates the objects as stored in the API. `pools` are the valid pools (advertisements may name only those).
    /// - Returns: the configuration, or every problem found, each naming the object and field.
    public static func parse(
        peers peerObjects: [JSON], advertisements advertisementObjects: [JSON],
        communities communityObjects: [JSON], bfdProfiles profileObjects: [JSON], pools: [AddressPool]
    ) -> Result<BGPConfiguration, ConfigurationErrors> {
        var errors: [ConfigurationError] = []
        var profiles: [String: BFDProfile] = [:]
        for object in profileObjects {
            let profile = BFDProfile(object) { field, message in
                errors.append(
                    ConfigurationError(
                        kind: "BFDProfile", name: object["metadata"]?["name"]?.stringValue ?? "", field: field,
                        message: message))
            }
            if let profile { profiles[profile.name] = profile }
        }
        let profileNames = Set(profileObjects.compactMap { $0["metadata"]?["name"]?.stringValue })
        var aliases: [String: BGPCommunity] = [:]
        for object in communityObjects {
            let name = object["metadata"]?["name"]?.stringValue ?? ""
            for (i, entry) in (object["spec"]?["communities"]?.arrayValue ?? []).enumerated() {
                let field = "spec.communities[\(i)]"
                guard let alias = entry["name"]?.stringValue, let text = entry["value"]?.stringValue else {
                    errors.append(
                        .init(kind: "Community", name: name, field: field, message: "name and value are required"))
                    continue
                }
                guard let community = BGPCommunity(text) else {
                    errors.append(
                        .init(
                            kind: "Community", name: name, field: field + ".value",
                            message: "\"\(text)\" is neither AA:NN (16-bit numbers) nor large:AA:BB:CC (32-bit numbers)"
                        ))
                    continue
                }
                if aliases[alias] != nil {
                    errors.append(
                        .init(
                            kind: "Community", name: name, field: field + ".name",
                            message: "duplicate alias \"\(alias)\""))
                }
                aliases[alias] = community
            }
        }

        var peers: [BGPPeerSpec] = []
        var endpoints: [String: String] = [:]
        for object in peerObjects {
            let name = object["metadata"]?["name"]?.stringValue ?? ""
            func fail(_ field: String, _ message: String) {
                errors.append(ConfigurationError(kind: "BGPPeer", name: name, field: field, message: message))
            }
            if let peer = BGPPeerSpec(object, fail: fail) {
                if let profile = peer.bfdProfile, !profileNames.contains(profile) {
                    fail("spec.bfdProfile", "BFDProfile \"\(profile)\" does not exist")
                }
                let endpoint = "\(peer.address)|\(peer.port)"
                if let other = endpoints[endpoint], peer.nodeSelectors.isEmpty {
                    fail(
                        "spec.peerAddress",
                        "peer \(peer.address) port \(peer.port) is also configured by BGPPeer \"\(other)\"")
                }
                endpoints[endpoint] = name
                peers.append(peer)
            }
        }

        var advertisements: [BGPAdvertisement] = []
        let poolNames = Set(pools.map(\.name))
        for object in advertisementObjects {
            let name = object["metadata"]?["name"]?.stringValue ?? ""
            func fail(_ field: String, _ message: String) {
                errors.append(ConfigurationError(kind: "BGPAdvertisement", name: name, field: field, message: message))
            }
            if let advertisement = BGPAdvertisement(object, aliases: aliases, poolNames: poolNames, fail: fail) {
                advertisements.append(advertisement)
            }
        }
        if !errors.isEmpty { return .failure(ConfigurationErrors(errors: errors)) }
        return .success(BGPConfiguration(peers: peers, advertisements: advertisements, bfdProfiles: profiles))
    }
}

/// A BGP community as MetalLB writes it: `AA:NN` (RFC 1997) or `large:AA:BB:CC` (RFC 8092).
public enum BGPCommunity: Sendable, Hashable, CustomStringConvertible {
    case standard(UInt32)
    case large(UInt32, UInt32, UInt32)

    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 4, parts[0] == "large" {
            guard let a = UInt32(parts[1]), let b = UInt32(parts[2]), let c = UInt32(parts[3]) else { return nil }
            self = .large(a, b, c)
        } else if parts.count == 2, let high = UInt16(parts[0]), let low = UInt16(parts[1]) {
            self = .standard(UInt32(high) << 16 | UInt32(low))
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .standard(let v): return "\(v >> 16):\(v & 0xFFFF)"
        case .large(let a, let b, let c): return "large:\(a):\(b):\(c)"
        }
    }
}
