import NetCore

/// A neighbour entry (`ndmsg` and `NDA_*` attributes): an IP neighbour (`ip neigh`) or, in family `AF_BRIDGE`, a
/// bridge forwarding-database entry (`bridge fdb`) — for a VXLAN device, which remote node a MAC lives behind.
///
/// Pure value.
public struct Neighbour: Sendable, Equatable {
    /// `NUD_*` states.
    public struct State: OptionSet, Sendable, Hashable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        public static let reachable = State(rawValue: 0x02)
        public static let stale = State(rawValue: 0x04)
        public static let failed = State(rawValue: 0x20)
        public static let noARP = State(rawValue: 0x40)
        public static let permanent = State(rawValue: 0x80)
    }

    /// `NTF_*` flags.
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// The entry belongs to the device itself (a VXLAN FDB entry), not to its bridge.
        public static let `self` = Flags(rawValue: 0x02)
        public static let master = Flags(rawValue: 0x04)
    }

    /// `AF_INET`, `AF_INET6` or `AF_BRIDGE` (7).
    public enum Family: Sendable, Hashable {
        case ip(IPFamily)
        case bridge

        var kernelFamily: UInt8 {
            switch self {
            case .ip(let family): family.kernelFamily
            case .bridge: 7
            }
        }
    }

    public var family: Family
    /// The device's index.
    public var index: Int32
    public var state: State
    public var flags: Flags
    /// `NDA_DST`: the neighbour's IP address, or for an FDB entry of a VXLAN device the remote VTEP's.
    public var destination: IPAddress?
    /// `NDA_LLADDR`: the neighbour's MAC address, or the FDB entry's.
    public var linkAddress: MACAddress?

    public init(
        family: Family, index: Int32, state: State, flags: Flags = [], destination: IPAddress?,
        linkAddress: MACAddress?
    ) {
        self.family = family
        self.index = index
        self.state = state
        self.flags = flags
        self.destination = destination
        self.linkAddress = linkAddress
    }

    /// A permanent IP neighbour, as flannel writes for every remote node's VTEP address.
    public static func permanent(_ address: IPAddress, at linkAddress: MACAddress, index: Int32) -> Neighbour {
        Neighbour(
            family: .ip(address.family), index: index, state: .permanent, destination: address,
            linkAddress: linkAddress)
    }

    /// A permanent FDB entry of a VXLAN device: frames for `linkAddress` go to the VTEP at `remote`. The state is
    /// what `bridge fdb … self permanent` sets.
    public static func forwardingEntry(_ linkAddress: MACAddress, remote: IPAddress, index: Int32) -> Neighbour {
        Neighbour(
            family: .bridge, index: index, state: [.permanent, .noARP], flags: .self, destination: remote,
            linkAddress: linkAddress)
    }

    static let attributeDestination: UInt16 = 1
    static let attributeLinkAddress: UInt16 = 2

    /// Decodes the payload of an `RTM_NEWNEIGH` or `RTM_DELNEIGH` message.
    /// - Returns: nil for a family other than IPv4, IPv6 and bridge.
    /// - Throws: `NetlinkError` when the header or an attribute runs past the payload or has the wrong size.
    public init?(decoding payload: ArraySlice<UInt8>) throws(NetlinkError) {
        guard payload.count >= 12 else { throw .truncated }
        let start = payload.startIndex
        switch payload[start] {
        case 7: family = .bridge
        case let other:
            guard let ip = IPFamily(kernelFamily: other) else { return nil }
            family = .ip(ip)
        }
        index = Int32(bitPattern: payload.le32(at: start + 4))
        state = State(rawValue: payload.le16(at: start + 8))
        flags = Flags(rawValue: payload[start + 10])
        for (type, value) in try NetlinkMessage.attributes(payload.dropFirst(12)) {
            switch type {
            case Self.attributeDestination: destination = try value.ipAddress("NDA_DST")
            case Self.attributeLinkAddress:
                guard value.count == 6 else { throw .malformed("NDA_LLADDR") }
                linkAddress = MACAddress(Array(value))
            default: break
            }
        }
    }
}
