/// An address family and subsequent address family (AFI/SAFI, RFC 4760) a session carries.
public struct AddressFamily: Sendable, Hashable, CustomStringConvertible {
    public var afi: UInt16
    public var safi: UInt8

    public init(afi: UInt16, safi: UInt8) {
        self.afi = afi
        self.safi = safi
    }

    public static let ipv4Unicast = AddressFamily(afi: 1, safi: 1)
    public static let ipv6Unicast = AddressFamily(afi: 2, safi: 1)

    public var description: String {
        switch self {
        case .ipv4Unicast: return "ipv4-unicast"
        case .ipv6Unicast: return "ipv6-unicast"
        default: return "afi \(afi)/safi \(safi)"
        }
    }
}
