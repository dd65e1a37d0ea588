import NetCore
import Netlink

/// What the overlay wants in one node's kernel for the leases it knows: the entries for every other node, in
/// flannel's order (for vxlan per node: neighbour, forwarding entry, then the route, so the kernel never resolves
/// the next hop before the neighbour exists), and the Nodes it had to skip with why.
///
/// Pure value, computed from the configuration, this node and the other nodes' leases.
public struct OverlayPlan: Sendable, Equatable {
    /// This node, as the plan needs it.
    public struct Local: Sendable, Equatable {
        public var name: String
        /// The underlay interface (the node's LAN) and the networks of its addresses: a public IP inside one of
        /// them is on this node's segment (host-gw, DirectRouting).
        public var underlay: Int32
        public var segments: [IPNetwork]
        /// The VXLAN devices' indices (vxlan backend), per family.
        public var device: Int32?
        public var deviceV6: Int32?

        public init(name: String, underlay: Int32, segments: [IPNetwork], device: Int32? = nil, deviceV6: Int32? = nil)
        {
            self.name = name
            self.underlay = underlay
            self.segments = segments
            self.device = device
            self.deviceV6 = deviceV6
        }

        func onSegment(_ ip: IPAddress) -> Bool { segments.contains { $0.contains(ip) } }
    }

    public let entries: [OverlayEntry]
    /// Nodes left out, by name, with the reason (each becomes an Event and a metric).
    public let skipped: [String: OverlayError]

    public init(conf: NetConf, local: Local, remotes: [NodeLease]) {
        var entries: [OverlayEntry] = []
        var skipped: [String: OverlayError] = [:]
        let backend = conf.backend
        for remote in remotes.sorted(by: { $0.name < $1.name }) where remote.name != local.name {
            guard remote.backendType == backend.kind.rawValue else {
                skipped[remote.name] = OverlayError(
                    .unsupportedBackend,
                    "node \"\(remote.name)\" runs backend \"\(remote.backendType)\", this node \(backend.kind.rawValue)"
                )
                continue
            }
            var mine: [OverlayEntry] = []
            var problem: OverlayError?
            let families: [(IPNetwork?, IPAddress?, FlannelAnnotations.VXLANData?, Int32?)] = [
                (remote.subnet, remote.publicIP, remote.vxlan, local.device),
                (remote.ipv6Subnet, remote.publicIPv6, remote.vxlanV6, local.deviceV6),
            ]
            for (subnet, publicIP, data, device) in families {
                guard let subnet, let publicIP else { continue }
                let direct = Self.route(subnet, via: publicIP, device: local.underlay)
                switch backend.kind {
                case .hostGW:
                    guard local.onSegment(publicIP) else {
                        problem = OverlayError(
                            .notOnSegment,
                            "node \"\(remote.name)\" public IP \(publicIP) is not on this node's segment "
                                + "(\(local.segments.map(\.description).joined(separator: ", "))); host-gw needs "
                                + "every node on one layer-2 network")
                        continue
                    }
                    mine.append(direct)
                case .vxlan:
                    if backend.directRouting, local.onSegment(publicIP) {
                        mine.append(direct)
                    } else if let data, let device {
                        mine.append(.neighbour(device: device, address: subnet.address, mac: data.vtepMAC))
                        mine.append(.forwarding(device: device, mac: data.vtepMAC, remote: publicIP))
                        mine.append(.route(destination: subnet, gateway: subnet.address, device: device, onLink: true))
                    }
                }
            }
            if let problem {
                skipped[remote.name] = problem
            } else {
                entries += mine
            }
        }
        self.entries = entries
        self.skipped = skipped
    }

    private static func route(_ subnet: IPNetwork, via gateway: IPAddress, device: Int32) -> OverlayEntry {
        .route(destination: subnet, gateway: gateway, device: device, onLink: false)
    }

    /// What to change so that `observed` (the overlay's entries as the kernel has them) becomes this plan:
    /// entries no longer wanted removed first (routes, then forwarding entries, then neighbours), then every
    /// missing or different entry put, in the plan's order. Empty when the kernel already matches.
    public func changes(from observed: [OverlayEntry]) -> [OverlayChange] {
        let wanted = Set(entries.map(\.key))
        var have: [OverlayEntry.Key: OverlayEntry] = [:]
        for entry in observed { have[entry.key] = entry }
        let removals = observed.filter { !wanted.contains($0.key) }
            .sorted { $0.removalRank < $1.removalRank }
            .map(OverlayChange.remove)
        let puts = entries.filter { have[$0.key] != $0 }.map(OverlayChange.put)
        return removals + puts
    }
}
