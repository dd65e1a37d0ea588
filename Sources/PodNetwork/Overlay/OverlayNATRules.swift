import NFTables
import NetCore

/// flannel's masquerade and forward rules for one family, in Pylon's own table (`ip pylon-overlay`,
/// `ip6 pylon-overlay`, so a node that still runs flannel's tables keeps them apart): traffic that kube-proxy
/// marked for masquerading (0x4000) is left to it, pod ↔ pod traffic inside the cluster network is not translated,
/// traffic from outside this node's subnet to the cluster is not either, and pod traffic leaving the cluster
/// (multicast aside) is masqueraded with random source ports; the forward hook accepts cluster traffic both ways.
///
/// Pure value. Every rule carries the comment `pylon-overlay`, by which the overlay finds its own rules again.
public enum OverlayNATRules {
    public static let table = "pylon-overlay"
    public static let comment = "pylon-overlay"
    /// kube-proxy's masquerade mark bit.
    public static let kubeProxyMark: UInt32 = 0x4000

    public static let chains = [
        NFTChain(name: "postrouting", base: .init(type: "nat", hook: .postrouting, priority: 100)),
        NFTChain(name: "forward", base: .init(type: "filter", hook: .forward, priority: 0)),
    ]

    /// The rules for the cluster `network` and this node's `subnet` (one family); the masquerade rules only with
    /// `masquerade` (FLANNEL_IPMASQ).
    public static func rules(network: IPNetwork, subnet: IPNetwork, masquerade: Bool) -> [NFTRule] {
        let multicast = network.family == .ipv4 ? IPNetwork("224.0.0.0/4")! : IPNetwork("ff00::/8")!
        // The mark is 4 bytes in host order (little-endian here), as `nft` writes it.
        let mark = withUnsafeBytes(of: kubeProxyMark.littleEndian) { Array($0) }
        func rule(_ chain: String, _ expressions: [NFTExpression]) -> NFTRule {
            NFTRule(chain: chain, expressions: expressions, comment: comment)
        }
        var out: [NFTRule] = []
        if masquerade {
            out += [
                rule(
                    "postrouting",
                    [
                        .mark(register: 1), .and(register: 1, mask: mark), .compare(.equal, register: 1, value: mark),
                        .verdict(.return),
                    ]),
                rule(
                    "postrouting",
                    NFTExpression.inNetwork(.source, subnet) + NFTExpression.inNetwork(.destination, network)
                        + [.verdict(.return)]),
                rule(
                    "postrouting",
                    NFTExpression.inNetwork(.source, network) + NFTExpression.inNetwork(.destination, subnet)
                        + [.verdict(.return)]),
                rule(
                    "postrouting",
                    NFTExpression.inNetwork(.source, subnet, negated: true)
                        + NFTExpression.inNetwork(.destination, network) + [.verdict(.return)]),
                rule(
                    "postrouting",
                    NFTExpression.inNetwork(.source, network)
                        + NFTExpression.inNetwork(.destination, multicast, negated: true) + [.masqueradeFullyRandom]),
            ]
        }
        out += [
            rule("forward", NFTExpression.inNetwork(.source, network) + [.verdict(.accept)]),
            rule("forward", NFTExpression.inNetwork(.destination, network) + [.verdict(.accept)]),
        ]
        return out
    }
}
