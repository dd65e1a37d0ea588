/// The `Backend` object of flannel's `net-conf.json`: how packets reach other nodes' pods.
///
/// Pure value.
public struct OverlayBackend: Sendable, Equatable {
    /// The backends Pylon runs.
    public enum Kind: String, Sendable {
        case vxlan
        case hostGW = "host-gw"
    }

    public var kind: Kind
    /// `VNI` (default 1): the VXLAN network identifier, and the suffix of the device name (`flannel.1`).
    public var vni: UInt32
    /// `Port` (default 0: the kernel's 8472, as flannel leaves it).
    public var port: UInt16
    /// `MTU` (default 0: the underlay interface's). As in flannel this is the *underlay* MTU; the VXLAN device gets
    /// 50 bytes less.
    public var mtu: Int
    /// `DirectRouting`: reach nodes on this node's own segment by plain routes instead of VXLAN.
    public var directRouting: Bool
    /// `GBP`: VXLAN group-based policy extension.
    public var groupPolicy: Bool
    /// `Learning`: let the VXLAN device learn remote MACs (flannel turns it off).
    public var learning: Bool

    /// The kernel's VXLAN port when none is given (Linux's historical default, flannel's too).
    public static let defaultVXLANPort: UInt16 = 8472
    /// What VXLAN over IPv4 adds to every packet: outer IP 20, UDP 8, VXLAN 8, inner Ethernet 14.
    public static let vxlanOverhead = 50
    /// Over IPv6 the outer header is 40 bytes: 70 in all. The kernel refuses a VXLAN device over IPv6 with an MTU
    /// above the underlay's less 70 (flannel asks for less 50 on both and fails there).
    public static let vxlanOverheadIPv6 = 70

    public init(
        kind: Kind = .vxlan, vni: UInt32 = 1, port: UInt16 = 0, mtu: Int = 0, directRouting: Bool = false,
        groupPolicy: Bool = false, learning: Bool = false
    ) {
        self.kind = kind
        self.vni = vni
        self.port = port
        self.mtu = mtu
        self.directRouting = directRouting
        self.groupPolicy = groupPolicy
        self.learning = learning
    }

    /// The VXLAN device's name for `family` (`flannel.1`, `flannel-v6.1`).
    public func deviceName(ipv6: Bool) -> String { ipv6 ? "flannel-v6.\(vni)" : "flannel.\(vni)" }

    /// The VXLAN device's MTU over an underlay of `underlayMTU`: the configured or underlay MTU, less the VXLAN
    /// overhead of the underlay's family.
    public func deviceMTU(underlayMTU: Int, ipv6: Bool) -> Int {
        (mtu > 0 ? mtu : underlayMTU) - (ipv6 ? Self.vxlanOverheadIPv6 : Self.vxlanOverhead)
    }

    /// The MTU pods get (FLANNEL_MTU): for vxlan the smallest device MTU of the families in use (with IPv6 a pod's
    /// packets may leave through `flannel-v6`), for host-gw the configured or underlay MTU.
    public func podMTU(underlayMTU: Int, ipv6: Bool = false) -> Int {
        guard kind == .vxlan else { return mtu > 0 ? mtu : underlayMTU }
        return deviceMTU(underlayMTU: underlayMTU, ipv6: ipv6)
    }
}
