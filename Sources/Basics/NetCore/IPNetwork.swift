/// An IP prefix in CIDR notation, such as `10.43.0.0/16` or `2001:db8::/64`.
///
/// The stored address is the network address (host bits cleared). Parsing rejects host bits unless asked to
/// mask them, matching Go's `net.ParseCIDR` users that compare the network to the input.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    /// The network address (all host bits zero).
    public let address: IPAddress
    /// Prefix length in bits.
    public let prefixLength: Int

    /// The family of the network.
    public var family: IPFamily { address.family }

    /// Creates a network, clearing any host bits of `address`; `nil` when the prefix length is out of range.
    public init?(address: IPAddress, prefixLength: Int) {
        guard prefixLength >= 0, prefixLength <= address.family.bitWidth else { return nil }
        self.prefixLength = prefixLength
        self.address = IPAddress(
            family: address.family, numeric: address.numeric & IPNetwork.mask(address.family, prefixLength))
    }

    /// Parses `ADDRESS/LENGTH`; host bits set in ADDRESS are cleared. `nil` when the text is not a CIDR.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPAddress(parts[0]),
            parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), !parts[1].isEmpty, parts[1].count <= 3,
            let length = Int(parts[1])
        else { return nil }
        self.init(address: address, prefixLength: length)
    }

    static func mask(_ family: IPFamily, _ length: Int) -> UInt128 {
        let width = family.bitWidth
        if length == 0 { return 0 }
        let all: UInt128 = width == 128 ? ~0 : (UInt128(1) << width) - 1
        return all & ~((UInt128(1) << (width - length)) &- 1)
    }

    /// Number of addresses in the network (saturating at `UInt128.max` for a /0 IPv6 network).
    public var size: UInt128 {
        let hostBits = family.bitWidth - prefixLength
        return hostBits >= 128 ? .max : UInt128(1) << hostBits
    }

    /// Whether `ip` lies inside this network.
    public func contains(_ ip: IPAddress) -> Bool {
        ip.family == family && ip.numeric & IPNetwork.mask(family, prefixLength) == address.numeric
    }

    /// The address `offset` positions after the network address, or `nil` when outside the network.
    public func address(at offset: UInt128) -> IPAddress? {
        guard offset < size else { return nil }
        return IPAddress(family: family, numeric: address.numeric + offset)
    }

    /// The offset of `ip` from the network address, or `nil` when outside the network.
    public func offset(of ip: IPAddress) -> UInt128? {
        contains(ip) ? ip.numeric - address.numeric : nil
    }

    public var description: String { "\(address)/\(prefixLength)" }
}
