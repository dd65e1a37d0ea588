import NetCore

/// An address on an interface (`ifaddrmsg` and `IFA_*` attributes): what `ip addr add` sets and `RTM_NEWADDR`
/// reports.
///
/// Pure value.
public struct InterfaceAddress: Sendable, Equatable {
    /// `IFA_F_*` flags.
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// No duplicate address detection (IPv6).
        public static let noDAD = Flags(rawValue: 0x02)
        public static let dadFailed = Flags(rawValue: 0x08)
        public static let tentative = Flags(rawValue: 0x40)
        public static let permanent = Flags(rawValue: 0x80)
    }

    /// The interface's index.
    public var index: Int32
    /// The interface's own address (`IFA_LOCAL` for IPv4, `IFA_ADDRESS` for IPv6).
    public var address: IPAddress
    public var prefixLength: Int
    public var flags: Flags
    /// `RT_SCOPE_*`: 0 universe, 253 link, 254 host.
    public var scope: UInt8
    /// `IFA_BROADCAST` (IPv4).
    public var broadcast: IPAddress?

    public init(
        index: Int32, address: IPAddress, prefixLength: Int, flags: Flags = [], scope: UInt8 = 0,
        broadcast: IPAddress? = nil
    ) {
        self.index = index
        self.address = address
        self.prefixLength = prefixLength
        self.flags = flags
        self.scope = scope
        self.broadcast = broadcast
    }

    /// The network the address belongs to.
    public var network: IPNetwork? { IPNetwork(address: address, prefixLength: prefixLength) }

    static let attributeAddress: UInt16 = 1
    static let attributeLocal: UInt16 = 2
    static let attributeBroadcast: UInt16 = 4
    static let attributeFlags: UInt16 = 8

    /// Decodes the payload of an `RTM_NEWADDR` or `RTM_DELADDR` message.
    /// - Throws: `NetlinkError` when the header or an attribute runs past the payload, an address has the wrong
    ///   size or none is present.
    public init(decoding payload: ArraySlice<UInt8>) throws(NetlinkError) {
        guard payload.count >= 8 else { throw .truncated }
        let start = payload.startIndex
        prefixLength = Int(payload[start + 1])
        flags = Flags(rawValue: UInt32(payload[start + 2]))
        scope = payload[start + 3]
        index = Int32(bitPattern: payload.le32(at: start + 4))
        var local: IPAddress?
        var peer: IPAddress?
        for (type, value) in try NetlinkMessage.attributes(payload.dropFirst(8)) {
            switch type {
            case Self.attributeAddress: peer = try value.ipAddress("IFA_ADDRESS")
            case Self.attributeLocal: local = try value.ipAddress("IFA_LOCAL")
            case Self.attributeBroadcast: broadcast = try value.ipAddress("IFA_BROADCAST")
            case Self.attributeFlags: flags = Flags(rawValue: try value.u32("IFA_FLAGS"))
            default: break
            }
        }
        guard let address = local ?? peer else { throw .malformed("IFA_ADDRESS") }
        self.address = address
    }
}

extension ArraySlice<UInt8> {
    /// The value of an attribute holding an IPv4 or IPv6 address.
    /// - Throws: `NetlinkError.malformed(name)` when it is neither 4 nor 16 bytes.
    func ipAddress(_ name: String) throws(NetlinkError) -> IPAddress {
        guard let address = IPAddress(bytes: self) else { throw .malformed(name) }
        return address
    }
}

extension IPFamily {
    /// `AF_INET` or `AF_INET6`.
    var kernelFamily: UInt8 { self == .ipv4 ? 2 : 10 }

    init?(kernelFamily: UInt8) {
        switch kernelFamily {
        case 2: self = .ipv4
        case 10: self = .ipv6
        default: return nil
        }
    }
}
