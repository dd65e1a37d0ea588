import Glibc
import Kernel
import NFTables
import NetCore
import Netlink
import Overlay

/// The overlay's hands on one node's kernel, through rtnetlink: the VXLAN device, the entries for other nodes,
/// and the underlay they ride on.
///
/// Thread-safe (one netlink socket, its requests serialised by the kernel's answers). Every method reports the
/// kernel's refusal as `NetlinkSocketError`.
public struct OverlayKernel: Sendable {
    /// What `ensure` did to the device.
    public enum DeviceOutcome: Sendable, Equatable {
        case created
        /// An existing link of the name could not be kept (why), so it was deleted and created anew.
        case recreated(String)
        /// Kept, with its MTU, MAC or state set.
        case mended
        case kept
    }

    /// The interface other nodes are reached through.
    public struct Underlay: Sendable, Equatable {
        public var index: Int32
        public var name: String
        public var mtu: Int
        /// The networks of its addresses (the node's segment).
        public var segments: [IPNetwork]
    }

    public let namespace: NetworkNamespace
    private let socket: NetlinkSocket
    private let filter: NetlinkSocket

    /// - Throws: `NetlinkSocketError.system` when the namespace cannot be entered.
    public init(namespace: NetworkNamespace = .current) throws(NetlinkSocketError) {
        self.namespace = namespace
        socket = try NetlinkSocket(namespace: namespace)
        filter = try NetlinkSocket(namespace: namespace, kind: .netfilter)
    }

    /// Makes the overlay's nftables table of `family` hold `rules` in `OverlayNATRules.chains`. The table is kept
    /// when its rules carry the overlay's comment in the same chains and number (so rules flushed or deleted by
    /// hand are noticed); otherwise it is replaced in one transaction, never half. Returns whether it changed.
    public func ensureRules(_ rules: [NFTRule], family: NFTFamily) throws(NetlinkSocketError) -> Bool {
        let table = OverlayNATRules.table
        var present: [String] = []
        do throws(NetlinkSocketError) {
            for message in try filter.dumpMessages(.dumpRules(table: table, family: family))
            where message.type == NetlinkRequest.nftablesNewRule {
                guard let rule = try? NFTRule(decoding: message.payload) else { continue }
                present.append("\(rule.chain) \(rule.comment ?? "")")
            }
        } catch .refused(let error) where error.code == KernelError.noEntry {
            present = []  // no table yet
        }
        let wanted = rules.map { "\($0.chain) \($0.comment ?? "")" }
        guard present != wanted else { return false }
        let requests =
            [
                NetlinkRequest.addTable(table, family: family), .deleteTable(table, family: family),
                .addTable(table, family: family),
            ]
            + OverlayNATRules.chains.map { NetlinkRequest.addChain($0, table: table, family: family) }
            + rules.map { NetlinkRequest.addRule($0, table: table, family: family) }
        try filter.apply(requests, begin: .batchBegin, end: .batchEnd)
        return true
    }

    /// The interface holding `address`, `nil` when none does.
    public func underlay(holding address: IPAddress) throws(NetlinkSocketError) -> Underlay? {
        let addresses = try socket.addresses()
        guard let own = addresses.first(where: { $0.address == address }) else { return nil }
        guard let link = try socket.links().first(where: { $0.index == own.index }) else { return nil }
        let segments = addresses.filter { $0.index == own.index }.compactMap(\.network)
            .filter { !($0.family == .ipv6 && IPNetwork("fe80::/10")!.contains($0.address)) }
        return Underlay(index: link.index, name: link.name, mtu: Int(link.mtu ?? 1500), segments: segments)
    }

    /// Makes `device` exist as described, holding only `address` (the node subnet's first address as /32 or
    /// /128), up; an IPv6 device does not accept router advertisements. Returns its index and what was done.
    public func ensure(_ device: VXLANDevice, address: IPAddress) throws(NetlinkSocketError) -> (
        index: Int32, outcome: DeviceOutcome
    ) {
        var outcome = DeviceOutcome.kept
        var link = try socket.link(named: device.name)
        if let existing = link, let why = device.incompatibility(with: existing) {
            try socket.perform(.deleteLink(existing.index))
            link = nil
            outcome = .recreated(why)
        }
        if link == nil {
            try socket.perform(.createLink(device.template))
            if outcome == .kept { outcome = .created }
            guard let created = try socket.link(named: device.name) else {
                throw .refused(
                    KernelError(code: KernelError.noDevice, message: "\(device.name) vanished after creation"))
            }
            link = created
        }
        let index = link!.index
        let prefix = address.family == .ipv4 ? 32 : 128
        var present = false
        for other in try socket.addresses(address.family) where other.index == index && other.scope == 0 {
            if other.address == address && other.prefixLength == prefix {
                present = true
            } else {
                try socket.perform(.deleteAddress(other))
            }
        }
        if address.family == .ipv6 {
            let setting = "net/ipv6/conf/\(device.name)/accept_ra"
            do {
                if namespace == .current {
                    try Sysctl.write(setting, "0")
                } else {
                    try namespace.run { try Sysctl.write(setting, "0") }
                }
            } catch let error as KernelCallError {
                throw .system(error)
            } catch {
                throw .system(KernelCallError(operation: "write \(setting)", errno: EIO))
            }
        }
        if !present {
            try socket.perform(
                .addAddress(
                    InterfaceAddress(index: index, address: address, prefixLength: prefix, flags: .noDAD), replace: true
                ))
        }
        if let update = device.update(for: link!) {
            try socket.perform(.updateLink(index, update))
            if outcome == .kept { outcome = .mended }
        }
        return (index, outcome)
    }

    /// Sets transmit checksum offload of `device` (off: the workaround for VXLAN checksums that come out wrong,
    /// flannel #1279); returns whether the setting changed.
    public func setChecksumOffload(of device: VXLANDevice, enabled: Bool) throws(NetlinkSocketError) -> Bool {
        let set = { () throws(KernelCallError) -> Bool in try TransmitChecksum.set(device.name, enabled: enabled) }
        do {
            let was = namespace == .current ? try set() : try namespace.run { try set() }
            return was != enabled
        } catch let error as KernelCallError {
            throw .system(error)
        } catch {
            throw .system(KernelCallError(operation: "set checksum offload of \(device.name)", errno: EIO))
        }
    }

    /// The overlay's entries as the kernel has them: permanent neighbours and FDB entries on `devices`, routes of
    /// the main table into `networks` through `devices` (other than `localSubnets`).
    public func observed(devices: Set<Int32>, networks: [IPNetwork], localSubnets: [IPNetwork])
        throws(NetlinkSocketError) -> [OverlayEntry]
    {
        var entries: [OverlayEntry] = []
        for family in Set(networks.map(\.family)) {
            entries += try socket.neighbours(.ip(family)).compactMap { OverlayEntry(observed: $0, devices: devices) }
        }
        entries += try socket.neighbours(.bridge).compactMap { OverlayEntry(observed: $0, devices: devices) }
        entries += try socket.routes().compactMap {
            OverlayEntry(observed: $0, networks: networks, localSubnets: localSubnets, devices: devices)
        }
        return entries
    }

    /// Applies `changes` in order, going on past a refusal (a missing entry removed counts as done), sending many
    /// changes per datagram. Returns the changes the kernel refused, with why.
    public func apply(_ changes: [OverlayChange]) -> [(change: OverlayChange, error: NetlinkSocketError)] {
        let requests: [NetlinkRequest] = changes.map { change in
            switch change {
            case .put(let entry):
                entry.route.map { .addRoute($0, replace: true) } ?? .replaceNeighbour(entry.neighbour!)
            case .remove(let entry):
                entry.route.map { .deleteRoute($0) } ?? .deleteNeighbour(entry.neighbour!)
            }
        }
        let answers: [KernelError?]
        do {
            answers = try socket.performEach(requests)
        } catch {
            return changes.map { ($0, error) }
        }
        var failures: [(change: OverlayChange, error: NetlinkSocketError)] = []
        let gone = [KernelError.noEntry, KernelError.noProcess, KernelError.noDevice]
        for (change, refusal) in zip(changes, answers) {
            guard let refusal else { continue }
            if case .remove = change, gone.contains(refusal.code) { continue }  // already gone
            failures.append((change, .refused(refusal)))
        }
        return failures
    }
}
