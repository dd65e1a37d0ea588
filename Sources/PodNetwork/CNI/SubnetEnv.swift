import KubeAPI
import NetCore

/// flannel's `subnet.env`: the cluster network, this node's subnet, the MTU and whether flannel masquerades, as
/// flannel (or K3s, or `pylon overlay`) writes them for the CNI plugin.
///
/// Pure value; `init(parsing:file:)` reads the text as flannel's plugin does.
public struct SubnetEnv: Sendable, Equatable {
    /// FLANNEL_NETWORK (and FLANNEL_IPV6_NETWORK): the cluster's pod networks, each once.
    public var networks: [IPNetwork]
    /// FLANNEL_SUBNET: this node's IPv4 subnet (host bits cleared).
    public var subnet: IPNetwork?
    /// FLANNEL_IPV6_SUBNET.
    public var ipv6Subnet: IPNetwork?
    /// FLANNEL_MTU.
    public var mtu: Int
    /// FLANNEL_IPMASQ: flannel masquerades pod traffic leaving the cluster itself (then the bridge must not).
    public var flannelMasquerades: Bool

    public static let defaultPath = "/run/flannel/subnet.env"

    public init(
        networks: [IPNetwork], subnet: IPNetwork?, ipv6Subnet: IPNetwork? = nil, mtu: Int, flannelMasquerades: Bool
    ) {
        self.networks = networks
        self.subnet = subnet
        self.ipv6Subnet = ipv6Subnet
        self.mtu = mtu
        self.flannelMasquerades = flannelMasquerades
    }

    /// Reads `KEY=VALUE` lines; other lines and keys are ignored, as flannel's plugin ignores them.
    /// - Throws: `CNIError.invalidConfig` naming `file` and the key when a value is malformed or a required key is
    ///   missing (a network, a subnet, FLANNEL_MTU, FLANNEL_IPMASQ).
    public init(parsing text: String, file: String) throws(CNIError) {
        var networks: [IPNetwork] = []
        var sawNetwork = false
        var subnet: IPNetwork?
        var ipv6Subnet: IPNetwork?
        var mtu: Int?
        var masquerade: Bool?
        func cidr(_ key: Substring, _ value: Substring) throws(CNIError) -> IPNetwork {
            guard let network = IPNetwork(value.trimmed()) else {
                throw CNIError(.invalidConfig, "\(file): \(key)=\(value) is not a CIDR")
            }
            return network
        }
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals]
            let value = line[line.index(after: equals)...]
            switch key {
            case "FLANNEL_NETWORK", "FLANNEL_IPV6_NETWORK":
                sawNetwork = true
                for part in value.split(separator: ",") {
                    let network = try cidr(key, part)
                    if !networks.contains(network) { networks.append(network) }
                }
            case "FLANNEL_SUBNET": subnet = try cidr(key, value)
            case "FLANNEL_IPV6_SUBNET": ipv6Subnet = try cidr(key, value)
            case "FLANNEL_MTU":
                guard let number = Int(value.trimmed()), (68...65535).contains(number) else {
                    throw CNIError(.invalidConfig, "\(file): FLANNEL_MTU=\(value) is not an MTU")
                }
                mtu = number
            case "FLANNEL_IPMASQ": masquerade = value.trimmed() == "true"
            default: continue
            }
        }
        var missing: [String] = []
        if !sawNetwork { missing += ["FLANNEL_NETWORK", "FLANNEL_IPV6_NETWORK"] }
        if subnet == nil && ipv6Subnet == nil { missing += ["FLANNEL_SUBNET", "FLANNEL_IPV6_SUBNET"] }
        if mtu == nil { missing.append("FLANNEL_MTU") }
        if masquerade == nil { missing.append("FLANNEL_IPMASQ") }
        guard missing.isEmpty, let mtu, let masquerade else {
            throw CNIError(.invalidConfig, "\(file) is missing \(missing.joined(separator: ", "))")
        }
        self.init(networks: networks, subnet: subnet, ipv6Subnet: ipv6Subnet, mtu: mtu, flannelMasquerades: masquerade)
    }

    /// host-local's configuration as flannel's plugin derives it: one range set per subnet, a route to every
    /// cluster network, after the routes `existing` already lists.
    func ipam(routes existing: [CNIResult.RouteConfig], dataDirectory: String?) throws(CNIError) -> IPAMConfig {
        var sets: [AddressRangeSet] = []
        for (i, subnet) in [subnet, ipv6Subnet].compactMap({ $0 }).enumerated() {
            let path = "ipam.ranges[\(i)][0]"
            sets.append(try AddressRangeSet([try AddressRange(subnet: subnet.description, path: path)], path: path))
        }
        return IPAMConfig(
            rangeSets: sets, routes: existing + networks.map { CNIResult.RouteConfig(destination: $0) },
            dataDirectory: dataDirectory)
    }
}
