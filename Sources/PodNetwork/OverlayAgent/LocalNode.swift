import NetCore
import Overlay

/// This node as the overlay runs it: its lease and the devices that carry it.
///
/// Pure value, made once the Node has its pod CIDR (`OverlayAgent.setUp`).
struct LocalNode: Sendable {
    var name: String
    var subnet: IPNetwork?
    var ipv6Subnet: IPNetwork?
    var publicIP: IPAddress?
    var publicIPv6: IPAddress?
    var underlay: OverlayKernel.Underlay
    /// The VXLAN devices (vxlan backend) per family, with their indices once they exist.
    var device: VXLANDevice?
    var deviceV6: VXLANDevice?
    var deviceIndex: Int32?
    var deviceV6Index: Int32?
    /// Whether other nodes reach this one at an address that is not on its interface (`public-ip-overwrite`: NAT).
    var natted = false
    /// Whether the checksum offload decision was logged once.
    var checksumSaid = false

    var subnets: [IPNetwork] { [subnet, ipv6Subnet].compactMap { $0 } }

    var planLocal: OverlayPlan.Local {
        OverlayPlan.Local(
            name: name, underlay: underlay.index, segments: underlay.segments, device: deviceIndex,
            deviceV6: deviceV6Index)
    }

    var devices: Set<Int32> { Set([underlay.index, deviceIndex, deviceV6Index].compactMap { $0 }) }
}
