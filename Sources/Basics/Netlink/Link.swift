import NetCore

/// A network interface as rtnetlink describes it (`RTM_NEWLINK` / `RTM_DELLINK`: `ifinfomsg` and attributes).
///
/// Pure value; decoding validates every length against the message.
public struct Link: Sendable, Equatable {
    /// `IFF_*` flags.
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let up = Flags(rawValue: 0x1)
        public static let broadcast = Flags(rawValue: 0x2)
        public static let loopback = Flags(rawValue: 0x8)
        public static let running = Flags(rawValue: 0x40)
        public static let noARP = Flags(rawValue: 0x80)
        public static let promiscuous = Flags(rawValue: 0x100)
        public static let lowerUp = Flags(rawValue: 0x1_0000)
    }

    /// `ARPHRD_ETHER`.
    public static let ethernet: UInt16 = 1

    public var index: Int32
    public var name: String
    /// `ARPHRD_*` hardware type.
    public var hardwareType: UInt16
    public var flags: Flags
    /// Hardware address (6 bytes for Ethernet).
    public var address: [UInt8]
    /// Index of the bond or bridge this link is enslaved to, if any.
    public var master: Int32?
    /// `IFLA_INFO_KIND` (e.g. `veth`, `bridge`, `vxlan`), if the driver reports one.
    public var kind: String?
    /// `IFLA_MTU`, when reported.
    public var mtu: UInt32?
    /// `IFLA_LINK`: for a veth, its peer's index (in the peer's namespace); for a vxlan, its underlay device.
    public var link: Int32?
    /// The VXLAN settings of a `vxlan` link (`IFLA_INFO_DATA`).
    public var vxlan: VXLANSettings?

    public init(
        index: Int32, name: String, hardwareType: UInt16 = Link.ethernet, flags: Flags, address: [UInt8],
        master: Int32? = nil, kind: String? = nil, mtu: UInt32? = nil, link: Int32? = nil,
        vxlan: VXLANSettings? = nil
    ) {
        self.index = index
        self.name = name
        self.hardwareType = hardwareType
        self.flags = flags
        self.address = address
        self.master = master
        self.kind = kind
        self.mtu = mtu
        self.link = link
        self.vxlan = vxlan
    }

    // `IFLA_*` attributes.
    static let attributeAddress: UInt16 = 1
    static let attributeName: UInt16 = 3
    static let attributeMTU: UInt16 = 4
    static let attributeLink: UInt16 = 5
    static let attributeMaster: UInt16 = 10
    static let attributeProtocolInfo: UInt16 = 12
    static let attributeTransmitQueueLength: UInt16 = 13
    static let attributeLinkInfo: UInt16 = 18
    static let attributeNamespaceDescriptor: UInt16 = 28
    // `IFLA_INFO_*` inside `IFLA_LINKINFO`.
    static let linkInfoKind: UInt16 = 1
    static let linkInfoData: UInt16 = 2

    /// Decodes the payload of an `RTM_NEWLINK` or `RTM_DELLINK` message.
    /// - Throws: `NetlinkError` when the header or an attribute runs past the payload or a value has the wrong size.
    public init(decoding payload: ArraySlice<UInt8>) throws(NetlinkError) {
        guard payload.count >= 16 else { throw .truncated }
        let start = payload.startIndex
        hardwareType = payload.le16(at: start + 2)
        index = Int32(bitPattern: payload.le32(at: start + 4))
        flags = Flags(rawValue: payload.le32(at: start + 8))
        name = ""
        address = []
        var data: ArraySlice<UInt8>?
        for (type, value) in try NetlinkMessage.attributes(payload.dropFirst(16)) {
            switch type {
            case Self.attributeAddress: address = Array(value)
            case Self.attributeName: name = value.cString
            case Self.attributeMTU: mtu = try value.u32("IFLA_MTU")
            case Self.attributeLink: link = Int32(bitPattern: try value.u32("IFLA_LINK"))
            case Self.attributeMaster: master = Int32(bitPattern: try value.u32("IFLA_MASTER"))
            case Self.attributeLinkInfo:
                for (infoType, info) in try NetlinkMessage.attributes(value) {
                    if infoType == Self.linkInfoKind { kind = info.cString }
                    if infoType == Self.linkInfoData { data = info }
                }
            default: break
            }
        }
        if master == 0 { master = nil }
        if kind == "vxlan", let data { vxlan = try VXLANSettings(decoding: data) }
    }
}
