import NetCore

extension NFTExpression {
    /// Which address of the IP header a match reads.
    public enum AddressDirection: Sendable {
        case source, destination
    }

    /// The source or destination address of the IP header into register 1.
    public static func address(_ direction: AddressDirection, _ family: IPFamily) -> NFTExpression {
        let offset: UInt32 =
            switch (family, direction) {
            case (.ipv4, .source): 12
            case (.ipv4, .destination): 16
            case (.ipv6, .source): 8
            case (.ipv6, .destination): 24
            }
        return .payload(base: .network, offset: offset, length: family == .ipv4 ? 4 : 16, register: 1)
    }

    /// The address is (or with `negated`, is not) inside `network`, as `nft` compiles it: a prefix of whole bytes
    /// compares just those bytes, any other is masked first.
    public static func inNetwork(_ direction: AddressDirection, _ network: IPNetwork, negated: Bool = false)
        -> [NFTExpression]
    {
        let comparison: Comparison = negated ? .notEqual : .equal
        guard network.prefixLength % 8 != 0 else {
            let bytes = network.prefixLength / 8
            guard case .payload(let base, let offset, _, let register) = address(direction, network.family) else {
                return []
            }
            return [
                .payload(base: base, offset: offset, length: UInt32(bytes), register: register),
                .compare(comparison, register: 1, value: Array(network.address.bytes.prefix(bytes))),
            ]
        }
        let width = network.family.bitWidth
        let mask = IPAddress(family: network.family, numeric: UInt128.max << (width - network.prefixLength))
        return [
            address(direction, network.family), .mask(register: 1, mask: mask.bytes),
            .compare(comparison, register: 1, value: network.address.bytes),
        ]
    }
}
