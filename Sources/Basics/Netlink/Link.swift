/// A network interface as rtnetlink describes it (`RTM_NEWLINK` / `RTM_DELLINK`: `ifinfomsg` and attributes).
///
/// Pure value; decoding validates every length against the message.
public struct Link: Sendable, Equatable {
    /// `IFF_*` flags the speaker looks at.
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let up = Flags(rawValue: 0x1)
        public static let broadcast = Flags(rawValue: 0x2)
        public static let loopback = Flags(rawValue: 0x8)
        public static let running = Flags(rawValue: 0x40)
        public static let noARP = Flags(rawValue: 0x80)
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
    /// `IFLA_INFO_KIND` (e.g. `veth`, `bridge`, `bond`, `dummy`), if the driver reports one.
    public var kind: String?

    public init(
        index: Int32, name: String, hardwareType: UInt16 = Link.ethernet, flags: Flags, address: [UInt8],
        master: Int32? = nil, kind: String? = nil
    ) {
        self.index = index
        self.name = name
        self.hardwareType = hardwareType
        self.flags = flags
        self.address = address
        self.master = master
        self.kind = kind
    }

    static let attributeAddress: UInt16 = 1
    static let attributeName: UInt16 = 3
    static let attributeMaster: UInt16 = 10
    static let attributeLinkInfo: UInt16 = 18
    static let linkInfoKind: UInt16 = 1

    /// Decodes the payload of an `RTM_NEWLINK` or `RTM_DELLINK` message.
    /// - Throws: `NetlinkError.truncated` when the header or an attribute runs past the payload.
    public init(decoding payload: ArraySlice<UInt8>) throws(NetlinkError) {
        guard payload.count >= 16 else { throw .truncated }
        let start = payload.startIndex
        hardwareType = payload.le16(at: start + 2)
        index = Int32(bitPattern: payload.le32(at: start + 4))
        flags = Flags(rawValue: payload.le32(at: start + 8))
        name = ""
        address = []
        for (type, value) in try Self.attributes(payload.dropFirst(16)) {
            switch type {
            case Self.attributeAddress: address = Array(value)
            case Self.attributeName: name = String(decoding: value.prefix { $0 != 0 }, as: UTF8.self)
            case Self.attributeMaster where value.count >= 4:
                master = Int32(bitPattern: value.le32(at: value.startIndex))
            case Self.attributeLinkInfo:
                for (infoType, info) in try Self.attributes(value) where infoType == Self.linkInfoKind {
                    kind = String(decoding: info.prefix { $0 != 0 }, as: UTF8.self)
                }
            default: break
            }
        }
        if master == 0 { master = nil }
    }

    /// Splits `rtattr`s (length, type, value, padded to 4 bytes); the nested flag is masked off the type.
    static func attributes(_ bytes: ArraySlice<UInt8>) throws(NetlinkError) -> [(UInt16, ArraySlice<UInt8>)] {
        var out: [(UInt16, ArraySlice<UInt8>)] = []
        var offset = bytes.startIndex
        while bytes.endIndex - offset >= 4 {
            let length = Int(bytes.le16(at: offset))
            guard length >= 4, offset + length <= bytes.endIndex else { throw .truncated }
            out.append((bytes.le16(at: offset + 2) & 0x3FFF, bytes[(offset + 4)..<(offset + length)]))
            offset += NetlinkMessage.align(length)
        }
        return out
    }
}
