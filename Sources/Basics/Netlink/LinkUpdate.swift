import NetCore

/// Changes to an existing link (`ip link set`); a nil field is left as it is.
///
/// Pure value; `NetlinkRequest.updateLink(_:_:)` encodes it.
public struct LinkUpdate: Sendable, Equatable {
    public var up: Bool?
    public var promiscuous: Bool?
    public var mtu: UInt32?
    public var address: MACAddress?
    /// The bridge to enslave the link to; 0 releases it from its bridge.
    public var master: Int32?
    /// Moves the link into the network namespace behind this descriptor.
    public var namespaceDescriptor: Int32?
    /// Renames the link.
    public var name: String?

    public init(
        up: Bool? = nil, promiscuous: Bool? = nil, mtu: UInt32? = nil, address: MACAddress? = nil,
        master: Int32? = nil, namespaceDescriptor: Int32? = nil, name: String? = nil
    ) {
        self.up = up
        self.promiscuous = promiscuous
        self.mtu = mtu
        self.address = address
        self.master = master
        self.namespaceDescriptor = namespaceDescriptor
        self.name = name
    }
}
