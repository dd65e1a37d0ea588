import NetCore

/// A link to create (`ip link add`): its name, kind and the settings it is born with.
///
/// Pure value; `NetlinkRequest.createLink(_:)` encodes it.
public struct LinkTemplate: Sendable, Equatable {
    /// The other end of a veth pair.
    public struct Peer: Sendable, Equatable {
        public var name: String
        public var address: MACAddress?
        public var mtu: UInt32?
        /// `IFLA_TXQLEN`; nil: the kernel's default.
        public var transmitQueueLength: UInt32?
        /// A descriptor of the network namespace the peer is created in (`IFLA_NET_NS_FD`); nil: the same as the
        /// link's.
        public var namespaceDescriptor: Int32?

        public init(
            name: String, address: MACAddress? = nil, mtu: UInt32? = nil, transmitQueueLength: UInt32? = nil,
            namespaceDescriptor: Int32? = nil
        ) {
            self.name = name
            self.address = address
            self.mtu = mtu
            self.transmitQueueLength = transmitQueueLength
            self.namespaceDescriptor = namespaceDescriptor
        }
    }

    public var name: String
    public var kind: LinkKind
    public var mtu: UInt32?
    /// `IFLA_TXQLEN`; nil: the kernel's default.
    public var transmitQueueLength: UInt32?
    public var address: MACAddress?
    /// The bridge to enslave the link to (`IFLA_MASTER`).
    public var master: Int32?
    /// A descriptor of the network namespace to create the link in; nil: the socket's.
    public var namespaceDescriptor: Int32?
    /// Whether the link comes up at once.
    public var up: Bool

    public init(
        name: String, kind: LinkKind, mtu: UInt32? = nil, transmitQueueLength: UInt32? = nil,
        address: MACAddress? = nil, master: Int32? = nil, namespaceDescriptor: Int32? = nil, up: Bool = false
    ) {
        self.name = name
        self.kind = kind
        self.mtu = mtu
        self.transmitQueueLength = transmitQueueLength
        self.address = address
        self.master = master
        self.namespaceDescriptor = namespaceDescriptor
        self.up = up
    }
}
