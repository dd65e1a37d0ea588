import NetCore
import Netlink

/// One kernel entry the overlay owns on a node: a permanent neighbour or a forwarding (FDB) entry on a VXLAN device,
/// or a route to another node's pod subnet.
///
/// Pure value. Entries with the same `key` are one entry in the kernel (a new value replaces the old).
public enum OverlayEntry: Sendable, Hashable, CustomStringConvertible {
    /// The remote subnet's first address answers with the remote VTEP's MAC (`ip neigh replace … nud permanent`).
    case neighbour(device: Int32, address: IPAddress, mac: MACAddress)
    /// Frames for the remote VTEP's MAC go to the remote node's address (`bridge fdb replace … self permanent`).
    case forwarding(device: Int32, mac: MACAddress, remote: IPAddress)
    /// The remote pod subnet via a next hop on a device (`ip route replace … [onlink]`).
    case route(destination: IPNetwork, gateway: IPAddress, device: Int32, onLink: Bool)

    /// What identifies the entry in the kernel.
    public enum Key: Sendable, Hashable {
        case neighbour(device: Int32, address: IPAddress)
        case forwarding(device: Int32, mac: MACAddress)
        case route(IPNetwork)
    }

    public var key: Key {
        switch self {
        case .neighbour(let device, let address, _): .neighbour(device: device, address: address)
        case .forwarding(let device, let mac, _): .forwarding(device: device, mac: mac)
        case .route(let destination, _, _, _): .route(destination)
        }
    }

    /// Removal order: routes first, then forwarding entries, then neighbours (the reverse of adding).
    var removalRank: Int {
        switch self {
        case .route: 0
        case .forwarding: 1
        case .neighbour: 2
        }
    }

    public var description: String {
        switch self {
        case .neighbour(let device, let address, let mac): "neighbour \(address) lladdr \(mac) dev #\(device)"
        case .forwarding(let device, let mac, let remote): "fdb \(mac) dst \(remote) dev #\(device)"
        case .route(let destination, let gateway, let device, let onLink):
            "route \(destination) via \(gateway) dev #\(device)\(onLink ? " onlink" : "")"
        }
    }

    /// The rtnetlink form to install or remove.
    public var neighbour: Neighbour? {
        switch self {
        case .neighbour(let device, let address, let mac): .permanent(address, at: mac, index: device)
        case .forwarding(let device, let mac, let remote): .forwardingEntry(mac, remote: remote, index: device)
        case .route: nil
        }
    }

    public var route: Route? {
        guard case .route(let destination, let gateway, let device, let onLink) = self else { return nil }
        return Route(
            destination: destination, gateway: gateway, outputInterface: device, flags: onLink ? .onLink : [])
    }

    /// The entry a kernel neighbour or FDB entry is, when it is one the overlay owns: permanent, on one of
    /// `devices` (the VXLAN devices), with an address.
    public init?(observed n: Neighbour, devices: Set<Int32>) {
        guard devices.contains(n.index), n.state.contains(.permanent), let mac = n.linkAddress,
            let address = n.destination
        else { return nil }
        switch n.family {
        case .bridge:
            guard n.flags.contains(.self), mac != .zero else { return nil }
            self = .forwarding(device: n.index, mac: mac, remote: address)
        default:
            self = .neighbour(device: n.index, address: address, mac: mac)
        }
    }

    /// The entry a kernel route is, when it is one the overlay owns: a unicast route of the main table to a subnet
    /// inside a cluster network, through a gateway on one of `devices`, other than one of the node's own
    /// `localSubnets` (the bridge's connected route is the kernel's, not the overlay's).
    public init?(observed r: Route, networks: [IPNetwork], localSubnets: [IPNetwork], devices: Set<Int32>) {
        guard r.table == Route.mainTable, r.type == Route.typeUnicast, let gateway = r.gateway,
            let device = r.outputInterface, devices.contains(device),
            networks.contains(where: {
                $0.family == r.destination.family && $0.prefixLength <= r.destination.prefixLength
                    && $0.contains(r.destination.address)
            }),
            !localSubnets.contains(r.destination)
        else { return nil }
        self = .route(
            destination: r.destination, gateway: gateway, device: device, onLink: r.flags.contains(.onLink))
    }
}
