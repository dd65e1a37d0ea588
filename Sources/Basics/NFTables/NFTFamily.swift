import NetCore

/// The family of an nftables table (`NFPROTO_*`).
public enum NFTFamily: UInt8, Sendable {
    case ipv4 = 2
    case ipv6 = 10

    public init(_ family: IPFamily) { self = family == .ipv4 ? .ipv4 : .ipv6 }
}
