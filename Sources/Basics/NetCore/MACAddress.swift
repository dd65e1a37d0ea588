/// A 48-bit Ethernet (EUI-48) address.
public struct MACAddress: Sendable, Hashable, CustomStringConvertible {
    /// The six bytes in transmission order.
    public let bytes: [UInt8]

    /// - Precondition: exactly six bytes.
    public init(_ bytes: [UInt8]) {
        precondition(bytes.count == 6, "a MAC address has six bytes")
        self.bytes = bytes
    }

    /// Parses `aa:bb:cc:dd:ee:ff` (or with `-`); `nil` otherwise.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(whereSeparator: { $0 == ":" || $0 == "-" })
        guard parts.count == 6 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard part.count == 2, let b = UInt8(part, radix: 16) else { return nil }
            bytes.append(b)
        }
        self.bytes = bytes
    }

    public static let broadcast = MACAddress([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
    public static let zero = MACAddress([0, 0, 0, 0, 0, 0])

    /// Group (multicast or broadcast) addresses have the least significant bit of the first byte set.
    public var isMulticast: Bool { bytes[0] & 1 == 1 }

    /// The Ethernet multicast address an IPv6 multicast address maps to (RFC 2464: 33:33 + its last 32 bits).
    public static func multicast(for ip: IPAddress) -> MACAddress {
        let b = ip.bytes
        return MACAddress([0x33, 0x33, b[b.count - 4], b[b.count - 3], b[b.count - 2], b[b.count - 1]])
    }

    public var description: String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":")
    }
}

extension IPAddress {
    /// Builds an address from 4 or 16 network-order bytes; `nil` for any other count.
    public init?(bytes: some Collection<UInt8>) {
        switch bytes.count {
        case 4: self = .v4(bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        case 16: self = .v6(bytes.reduce(UInt128(0)) { $0 << 8 | UInt128($1) })
        default: return nil
        }
    }

    /// The solicited-node multicast address of an IPv6 address (ff02::1:ffXX:XXXX, RFC 4291 §2.7.1).
    public var solicitedNodeMulticast: IPAddress? {
        guard case .v6(let v) = self else { return nil }
        return .v6(IPAddress.solicitedNodePrefix | (v & 0xFF_FFFF))
    }

    static let solicitedNodePrefix: UInt128 = 0xFF02_0000_0000_0000_0000_0001_FF00_0000

    /// Whether this is a solicited-node multicast address (ff02::1:ff00:0/104).
    public var isSolicitedNodeMulticast: Bool {
        guard case .v6(let v) = self else { return false }
        return v >> 24 == IPAddress.solicitedNodePrefix >> 24
    }

    /// Whether this is an IPv6 multicast address (ff00::/8) or the IPv4 limited broadcast / a class D address.
    public var isMulticast: Bool {
        switch self {
        case .v4(let v): return v >> 28 == 0xE || v == .max
        case .v6(let v): return v >> 120 == 0xFF
        }
    }

    /// `::` or `0.0.0.0`.
    public var isUnspecified: Bool { numeric == 0 }
}
