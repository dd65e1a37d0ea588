/// The kinds of link Pylon creates, with what each needs at creation (`IFLA_INFO_KIND` and `IFLA_INFO_DATA`).
public enum LinkKind: Sendable, Equatable {
    /// A Linux bridge (`cni0`).
    case bridge
    /// A veth pair: the link created is one end, `peer` the other.
    case veth(peer: LinkTemplate.Peer)
    /// A VXLAN device (`flannel.1`).
    case vxlan(VXLANSettings)

    var name: String {
        switch self {
        case .bridge: "bridge"
        case .veth: "veth"
        case .vxlan: "vxlan"
        }
    }
}
