import NetCore

/// The settings of a VXLAN device (`IFLA_INFO_DATA` of kind `vxlan`): those flannel sets, in the order `ip link add
/// … type vxlan` sends them.
///
/// Pure value.
public struct VXLANSettings: Sendable, Equatable {
    /// The VXLAN network identifier (`IFLA_VXLAN_ID`; flannel's VNI, 1 by default).
    public var id: UInt32
    /// The source address of encapsulated packets (`IFLA_VXLAN_LOCAL` / `LOCAL6`): the node's address.
    public var local: IPAddress?
    /// The index of the underlay device (`IFLA_VXLAN_LINK`).
    public var underlay: Int32?
    /// The UDP destination port (`IFLA_VXLAN_PORT`; 8472 for flannel, the kernel's own default).
    public var port: UInt16?
    /// Whether the device learns remote MACs from traffic (`IFLA_VXLAN_LEARNING`; flannel turns it off).
    public var learning: Bool
    /// Group-based policy extension (`IFLA_VXLAN_GBP`).
    public var groupPolicy: Bool

    public init(
        id: UInt32, local: IPAddress? = nil, underlay: Int32? = nil, port: UInt16? = nil, learning: Bool = false,
        groupPolicy: Bool = false
    ) {
        self.id = id
        self.local = local
        self.underlay = underlay
        self.port = port
        self.learning = learning
        self.groupPolicy = groupPolicy
    }

    static let attributeID: UInt16 = 1
    static let attributeLink: UInt16 = 3
    static let attributeLocal: UInt16 = 4
    static let attributeLearning: UInt16 = 7
    static let attributePort: UInt16 = 15
    static let attributeLocal6: UInt16 = 17
    static let attributeGroupPolicy: UInt16 = 23

    /// Decodes `IFLA_INFO_DATA` of a vxlan link.
    /// - Throws: `NetlinkError` when an attribute runs past the data or has the wrong size.
    init(decoding data: ArraySlice<UInt8>) throws(NetlinkError) {
        id = 0
        learning = true
        groupPolicy = false
        for (type, value) in try NetlinkMessage.attributes(data) {
            switch type {
            case Self.attributeID: id = try value.u32("IFLA_VXLAN_ID")
            case Self.attributeLink: underlay = Int32(bitPattern: try value.u32("IFLA_VXLAN_LINK"))
            case Self.attributeLocal, Self.attributeLocal6:
                guard let address = IPAddress(bytes: value) else { throw .malformed("IFLA_VXLAN_LOCAL") }
                local = address
            case Self.attributeLearning:
                guard value.count == 1 else { throw .malformed("IFLA_VXLAN_LEARNING") }
                learning = value.first != 0
            case Self.attributePort:
                guard value.count == 2 else { throw .malformed("IFLA_VXLAN_PORT") }
                port = value.be16(at: value.startIndex)
            case Self.attributeGroupPolicy: groupPolicy = true
            default: break
            }
        }
    }

    /// Appends the settings inside `IFLA_INFO_DATA`.
    func encode(into request: inout NetlinkRequest) {
        if let underlay { request.append(Self.attributeLink, u32: UInt32(bitPattern: underlay)) }
        request.append(Self.attributeID, u32: id)
        if let local {
            request.append(local.family == .ipv4 ? Self.attributeLocal : Self.attributeLocal6, local.bytes)
        }
        request.append(Self.attributeLearning, [learning ? 1 : 0])
        if let port { request.append(Self.attributePort, [UInt8(port >> 8), UInt8(port & 0xFF)]) }
        if groupPolicy { request.append(Self.attributeGroupPolicy, []) }
    }
}
