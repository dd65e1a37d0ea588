import NetCore

/// The cluster CIDRs nodes get their pod subnets from: one per configured IP family, the first one primary (as
/// kube-controller-manager's `--cluster-cidr=primary[,secondary]` with `--node-cidr-mask-size-ipv4`/`-ipv6`).
///
/// Thread-safe: each family's allocator is.
public struct PodNetworks: Sendable {
    /// Families in configuration order; the first is the primary family.
    let families: [IPFamily]
    private let allocators: [IPFamily: PodCIDRAllocator]

    /// Checked configuration: the CIDRs in order, each with its node subnet prefix length.
    public let cidrs: [(network: IPNetwork, subnetLength: Int)]

    /// A `--cluster-cidr` or node mask size that kube-controller-manager would refuse.
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Parses `--cluster-cidr` (one CIDR, or one IPv4 and one IPv6 CIDR separated by a comma) with the node subnet
    /// sizes; an empty text means no pod CIDRs are handed out.
    ///
    /// - Throws: `Invalid` naming the offending value: not a CIDR, two of one family, a node mask shorter than the
    ///   cluster CIDR's or more than 16 bits longer (kube-controller-manager's limit).
    public static func parse(_ text: String, ipv4SubnetLength: Int = 24, ipv6SubnetLength: Int = 64) throws(Invalid)
        -> PodNetworks
    {
        var cidrs: [(network: IPNetwork, subnetLength: Int)] = []
        for part in text.split(separator: ",").map(String.init) {
            guard let network = IPNetwork(part) else { throw Invalid(description: "\"\(part)\" is not a CIDR") }
            let length = network.family == .ipv4 ? ipv4SubnetLength : ipv6SubnetLength
            let flag = network.family == .ipv4 ? "--node-cidr-mask-size-ipv4" : "--node-cidr-mask-size-ipv6"
            guard length >= network.prefixLength, length <= network.family.bitWidth else {
                throw Invalid(
                    description: "\(flag) \(length) does not fit cluster CIDR \(network): it must lie between "
                        + "\(network.prefixLength) and \(network.family.bitWidth)")
            }
            guard length - network.prefixLength <= 16 else {
                throw Invalid(
                    description: "\(flag) \(length) is more than 16 bits longer than cluster CIDR \(network)'s "
                        + "prefix (at most 65,536 node subnets)")
            }
            cidrs.append((network, length))
        }
        guard cidrs.count <= 2, Set(cidrs.map(\.network.family)).count == cidrs.count else {
            throw Invalid(description: "\"\(text)\": give one CIDR, or one IPv4 and one IPv6 CIDR for dual-stack")
        }
        return PodNetworks(cidrs)
    }

    private init(_ cidrs: [(network: IPNetwork, subnetLength: Int)]) {
        self.cidrs = cidrs
        families = cidrs.map(\.network.family)
        allocators = Dictionary(
            uniqueKeysWithValues: cidrs.map {
                ($0.network.family, PodCIDRAllocator(network: $0.network, subnetLength: $0.subnetLength))
            })
    }

    /// K3s' default: `10.42.0.0/16`, a /24 per node.
    public static var k3sDefault: PodNetworks { try! parse("10.42.0.0/16") }

    /// No pod CIDRs (kube-controller-manager without `--allocate-node-cidrs`).
    public static var none: PodNetworks { PodNetworks([]) }

    var isEnabled: Bool { !families.isEmpty }

    /// The allocator of `family`, `nil` when the cluster has no cluster CIDR of that family.
    func allocator(for family: IPFamily) -> PodCIDRAllocator? { allocators[family] }

    /// The allocators in configuration order.
    var ordered: [PodCIDRAllocator] { families.map { allocators[$0]! } }
}
