import NetCore

/// A route (`rtmsg` and `RTA_*` attributes): what `ip route add` sets and `RTM_NEWROUTE` reports.
///
/// Pure value.
public struct Route: Sendable, Equatable {
    /// `RTNH_F_*` / `RTM_F_*` flags.
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// The gateway is on the link even though no address of the link covers it.
        public static let onLink = Flags(rawValue: 0x4)
    }

    /// `RT_TABLE_MAIN`.
    public static let mainTable: UInt32 = 254
    /// `RT_TABLE_LOCAL`.
    public static let localTable: UInt32 = 255
    /// `RTPROT_BOOT`: what `ip route add` marks its routes with.
    public static let protocolBoot: UInt8 = 3
    /// `RT_SCOPE_UNIVERSE`, `RT_SCOPE_LINK`, `RT_SCOPE_HOST`, `RT_SCOPE_NOWHERE`.
    public static let scopeUniverse: UInt8 = 0
    public static let scopeLink: UInt8 = 253
    public static let scopeHost: UInt8 = 254
    static let scopeNowhere: UInt8 = 255
    /// `RTN_UNICAST`, `RTN_LOCAL`.
    public static let typeUnicast: UInt8 = 1
    public static let typeLocal: UInt8 = 2

    /// The destination; prefix length 0 is the default route.
    public var destination: IPNetwork
    public var table: UInt32
    public var routingProtocol: UInt8
    public var scope: UInt8
    public var type: UInt8
    public var flags: Flags
    public var gateway: IPAddress?
    /// The output interface's index (`RTA_OIF`).
    public var outputInterface: Int32?
    /// The metric (`RTA_PRIORITY`).
    public var priority: UInt32?
    /// The preferred source address (`RTA_PREFSRC`).
    public var preferredSource: IPAddress?

    public init(
        destination: IPNetwork, gateway: IPAddress? = nil, outputInterface: Int32? = nil, flags: Flags = [],
        table: UInt32 = Route.mainTable, routingProtocol: UInt8 = Route.protocolBoot,
        scope: UInt8 = Route.scopeUniverse, type: UInt8 = Route.typeUnicast, priority: UInt32? = nil,
        preferredSource: IPAddress? = nil
    ) {
        self.destination = destination
        self.gateway = gateway
        self.outputInterface = outputInterface
        self.flags = flags
        self.table = table
        self.routingProtocol = routingProtocol
        self.scope = scope
        self.type = type
        self.priority = priority
        self.preferredSource = preferredSource
    }

    public var family: IPFamily { destination.family }

    static let attributeDestination: UInt16 = 1
    static let attributeOutputInterface: UInt16 = 4
    static let attributeGateway: UInt16 = 5
    static let attributePriority: UInt16 = 6
    static let attributePreferredSource: UInt16 = 7
    static let attributeTable: UInt16 = 15

    /// Decodes the payload of an `RTM_NEWROUTE` or `RTM_DELROUTE` message.
    /// - Returns: nil for a family other than IPv4 and IPv6.
    /// - Throws: `NetlinkError` when the header or an attribute runs past the payload or has the wrong size.
    public init?(decoding payload: ArraySlice<UInt8>) throws(NetlinkError) {
        guard payload.count >= 12 else { throw .truncated }
        let start = payload.startIndex
        guard let family = IPFamily(kernelFamily: payload[start]) else { return nil }
        let prefixLength = Int(payload[start + 1])
        table = UInt32(payload[start + 4])
        routingProtocol = payload[start + 5]
        scope = payload[start + 6]
        type = payload[start + 7]
        flags = Flags(rawValue: payload.le32(at: start + 8))
        var destination = IPAddress(family: family, numeric: 0)
        for (attribute, value) in try NetlinkMessage.attributes(payload.dropFirst(12)) {
            switch attribute {
            case Self.attributeDestination: destination = try value.ipAddress("RTA_DST")
            case Self.attributeOutputInterface: outputInterface = Int32(bitPattern: try value.u32("RTA_OIF"))
            case Self.attributeGateway: gateway = try value.ipAddress("RTA_GATEWAY")
            case Self.attributePriority: priority = try value.u32("RTA_PRIORITY")
            case Self.attributePreferredSource: preferredSource = try value.ipAddress("RTA_PREFSRC")
            case Self.attributeTable: table = try value.u32("RTA_TABLE")
            default: break
            }
        }
        guard destination.family == family, let network = IPNetwork(address: destination, prefixLength: prefixLength)
        else { throw .malformed("RTA_DST") }
        self.destination = network
    }
}
