import NFTables
import NetCore

/// The nftables rules of one attachment, in a table of Pylon's own (`pylon-cni`, one per address family): host
/// ports as the reference `portmap` plugin provides them, and the reference `bridge` plugin's `ipMasq`. Every rule
/// carries the comment `pylon <network> <containerID>`, which is how DEL and GC find exactly this attachment's
/// rules; no rule is shared between attachments.
///
/// Pure value; the I/O layer applies `rules(for:)` in one nftables transaction.
public struct NATRules: Sendable, Equatable {
    public static let table = "pylon-cni"
    /// Where the rules live: destination NAT before routing (traffic arriving for a host port) and for traffic
    /// the node sends itself, source NAT after routing (hairpin, localhost, masquerade).
    public static let chains = [
        NFTChain(name: "prerouting", base: .init(type: "nat", hook: .prerouting, priority: -100)),
        NFTChain(name: "output", base: .init(type: "nat", hook: .output, priority: -100)),
        NFTChain(name: "postrouting", base: .init(type: "nat", hook: .postrouting, priority: 100)),
    ]

    public let network: String
    public let containerID: String

    public init(network: String, containerID: String) {
        self.network = network
        self.containerID = containerID
    }

    /// The comment marking this attachment's rules.
    public var comment: String { "pylon \(network) \(containerID)" }

    /// Whether `comment` marks a rule of `network`, and of which container.
    public static func container(in comment: String, network: String) -> String? {
        let prefix = "pylon \(network) "
        guard comment.hasPrefix(prefix) else { return nil }
        return String(comment.dropFirst(prefix.count))
    }

    /// The rules for the pod's addresses (`ips`, each with its subnet's prefix length): for every port mapping
    /// whose host address (if any) is of the family, DNAT from the host port on every local address (or on the
    /// host address) to the pod, in prerouting and output, and masquerading of hairpin and localhost connections
    /// to it; with `masquerade`, the pod's traffic to anywhere outside its subnet and multicast.
    public func rules(
        for ips: [(address: IPAddress, prefixLength: Int)], mappings: [PortMapping], masquerade: Bool
    ) -> [NFTFamily: [NFTRule]] {
        var out: [NFTFamily: [NFTRule]] = [:]
        for ip in ips {
            let family = ip.address.family
            var rules: [NFTRule] = []
            for mapping in mappings where mapping.hostIP == nil || mapping.hostIP?.family == family {
                var match: [NFTExpression] = []
                if let hostIP = mapping.hostIP {
                    match += [
                        NFTExpression.address(.destination, family), .compare(.equal, register: 1, value: hostIP.bytes),
                    ]
                } else {
                    match += [
                        .destinationAddressType(register: 1), .compare(.equal, register: 1, value: [2, 0, 0, 0]),
                    ]
                }
                match += Self.port(mapping.transport, mapping.hostPort)
                let translate: [NFTExpression] = [
                    .immediate(register: 1, value: ip.address.bytes),
                    .immediate(
                        register: 2, value: [UInt8(mapping.containerPort >> 8), UInt8(mapping.containerPort & 0xFF)]),
                    .destinationNAT(family: NFTFamily(family).rawValue, addressRegister: 1, portRegister: 2),
                ]
                rules.append(NFTRule(chain: "prerouting", expressions: match + translate, comment: comment))
                rules.append(NFTRule(chain: "output", expressions: match + translate, comment: comment))
                let toPod: [NFTExpression] =
                    [
                        NFTExpression.address(.destination, family),
                        .compare(.equal, register: 1, value: ip.address.bytes),
                    ]
                    + Self.port(mapping.transport, mapping.containerPort)
                // The pod reaching itself through the host port, and the node through localhost: answers must
                // come back through the node.
                rules.append(
                    NFTRule(
                        chain: "postrouting",
                        expressions: [
                            NFTExpression.address(.source, family),
                            .compare(.equal, register: 1, value: ip.address.bytes),
                        ]
                            + toPod + [.masquerade], comment: comment))
                let loopback = IPNetwork(family == .ipv4 ? "127.0.0.0/8" : "::1/128")!
                rules.append(
                    NFTRule(
                        chain: "postrouting",
                        expressions: NFTExpression.inNetwork(.source, loopback) + toPod + [.masquerade],
                        comment: comment))
            }
            if masquerade, let subnet = IPNetwork(address: ip.address, prefixLength: ip.prefixLength) {
                let multicast = IPNetwork(family == .ipv4 ? "224.0.0.0/4" : "ff00::/8")!
                rules.append(
                    NFTRule(
                        chain: "postrouting",
                        expressions: [
                            NFTExpression.address(.source, family),
                            .compare(.equal, register: 1, value: ip.address.bytes),
                        ]
                            + NFTExpression.inNetwork(.destination, subnet, negated: true)
                            + NFTExpression.inNetwork(.destination, multicast, negated: true) + [.masquerade],
                        comment: comment))
            }
            if !rules.isEmpty { out[NFTFamily(family), default: []] += rules }
        }
        return out
    }

    /// The transport protocol and the destination port.
    static func port(_ transport: PortMapping.TransportProtocol, _ port: UInt16) -> [NFTExpression] {
        let number: UInt8 =
            switch transport {
            case .tcp: 6
            case .udp: 17
            case .sctp: 132
            }
        return [
            .transportProtocol(register: 1), .compare(.equal, register: 1, value: [number]),
            .payload(base: .transport, offset: 2, length: 2, register: 1),
            .compare(.equal, register: 1, value: [UInt8(port >> 8), UInt8(port & 0xFF)]),
        ]
    }
}
