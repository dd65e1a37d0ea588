import CNI
import Glibc
import Kernel
import NetCore
import Netlink

extension PluginContext {
    /// ADD: addresses from the store, the bridge (made when missing, with the gateway addresses), a veth pair from
    /// the pod to the bridge, the pod's addresses and routes, forwarding on. Anything made before a failure is
    /// undone, so a failed ADD leaves nothing behind.
    /// - Throws: `CNIError`: `.invalidEnvironment` when CNI_NETNS does not exist, `.interfaceExists` when the pod
    ///   already has the interface, `.rangeExhausted`, `.kernelRefused`, `.ioFailure`, and the configuration's.
    func add() throws(CNIError) -> CNIResult {
        let config = try resolvedConfig()
        guard let ipam = config.ipam else { throw CNIError(.invalidConfig, "ipam has no ranges") }
        let pod = NetworkNamespace(path: invocation.networkNamespace)
        let podSocket: NetlinkSocket
        do { podSocket = try NetlinkSocket(namespace: pod) } catch {
            throw CNIError(
                .invalidEnvironment, "CNI_NETNS \(invocation.networkNamespace) is not a network namespace: \(error)")
        }
        let host = try kernel("open a netlink socket") { () throws(NetlinkSocketError) in try NetlinkSocket() }
        if try kernel(
            "look up \(invocation.interfaceName) in the pod",
            { () throws(NetlinkSocketError) in
                try podSocket.link(named: invocation.interfaceName)
            }) != nil
        {
            throw CNIError(.interfaceExists, "the pod already has an interface named \(invocation.interfaceName)")
        }

        let store = try store(config)
        let ips = try allocate(ipam, in: store)
        var succeeded = false
        defer {
            if !succeeded {
                _ = try? store.locked { () throws(CNIError) in
                    store.release(containerID: invocation.containerID, interfaceName: invocation.interfaceName)
                }
                if let link = try? podSocket.link(named: invocation.interfaceName) {
                    try? podSocket.perform(.deleteLink(link.index))
                }
                let container = invocation.containerID
                try? removeNATRules(network: config.name) { $0 == container }
            }
        }
        let bridge = try ensureBridge(config, host)
        let hostVeth = try makeVeth(config, pod: podSocket, host: host, bridge: bridge)
        var result = CNIResult(interfaces: [], ips: [], routes: ipam.routes, dns: config.dns)
        var gateways: [IPAddress] = []
        for ip in ips {
            result.ips.append(
                CNIResult.IPConfig(
                    address: ip.address, prefixLength: ip.range.subnet.prefixLength, gateway: ip.range.gateway,
                    interface: 2))
            if config.isDefaultGateway,
                !result.routes.contains(where: {
                    $0.destination.prefixLength == 0 && $0.destination.family == ip.address.family && $0.gateway != nil
                })
            {
                result.routes.append(
                    CNIResult.RouteConfig(
                        destination: IPNetwork(
                            address: IPAddress(family: ip.address.family, numeric: 0), prefixLength: 0)!,
                        gateway: ip.range.gateway))
            }
            if config.isGateway { gateways.append(ip.range.gateway) }
        }
        let podLink = try configurePod(config, socket: podSocket, result: result)
        if config.isGateway {
            for (ip, gateway) in zip(ips, gateways) {
                try ensureGatewayAddress(gateway, prefixLength: ip.range.subnet.prefixLength, on: bridge, config, host)
            }
            for family in Set(ips.map(\.address.family)) {
                let name = family == .ipv4 ? "net/ipv4/ip_forward" : "net/ipv6/conf/all/forwarding"
                do { try Sysctl.write(name, "1") } catch {
                    throw CNIError(.kernelRefused, "enable forwarding: \(error)")
                }
            }
        }
        let bridgeNow = try kernel("look up \(config.bridge)") { () throws(NetlinkSocketError) in
            try host.link(named: config.bridge)
        }
        result.interfaces = [
            CNIResult.Interface(
                name: config.bridge, mac: Self.mac(bridgeNow?.address ?? bridge.address), mtu: bridge.mtu.map(Int.init)),
            CNIResult.Interface(name: hostVeth.name, mac: Self.mac(hostVeth.address), mtu: hostVeth.mtu.map(Int.init)),
            CNIResult.Interface(
                name: invocation.interfaceName, mac: Self.mac(podLink.address), mtu: podLink.mtu.map(Int.init),
                sandbox: invocation.networkNamespace),
        ]
        if !config.portMappings.isEmpty || config.ipMasquerade == true {
            try installNATRules(config, ips: result.ips)
        }
        if config.flannel != nil { try FlannelRecord.save(config, containerID: invocation.containerID) }
        succeeded = true
        return result
    }

    /// One address from each range set, in host-local's order, under the store's lock.
    private func allocate(_ ipam: IPAMConfig, in store: HostLocalStore) throws(CNIError) -> [(
        address: IPAddress, range: AddressRange
    )] {
        try store.locked { () throws(CNIError) in
            let held = store.addresses(containerID: invocation.containerID, interfaceName: invocation.interfaceName)
            var taken: [(address: IPAddress, range: AddressRange)] = []
            for (index, set) in ipam.rangeSets.enumerated() {
                if let existing = held.first(where: { set.range(for: $0) != nil }) {
                    for ip in taken { store.unreserve(ip.address) }
                    throw CNIError(
                        .invalidConfig,
                        "\(existing) has been allocated to \(invocation.containerID), duplicate allocation is not allowed"
                    )
                }
                var reserved: IPAddress?
                for candidate in set.candidates(after: store.lastReserved(rangeSet: index)) {
                    if try store.reserve(
                        candidate, containerID: invocation.containerID, interfaceName: invocation.interfaceName,
                        rangeSet: index)
                    {
                        reserved = candidate
                        break
                    }
                }
                guard let reserved, let range = set.range(for: reserved) else {
                    for ip in taken { store.unreserve(ip.address) }
                    throw CNIError(
                        .rangeExhausted,
                        "failed to allocate for range \(index): no IP addresses available in range set: \(set)")
                }
                taken.append((reserved, range))
            }
            return taken
        }
    }

    /// The bridge, created (with the MTU) when missing, promiscuous when asked, up, not accepting router
    /// advertisements.
    private func ensureBridge(_ config: NetworkConfig, _ host: NetlinkSocket) throws(CNIError) -> Link {
        let name = config.bridge
        do throws(NetlinkSocketError) {
            try host.perform(.createLink(LinkTemplate(name: name, kind: .bridge, mtu: config.mtu.map(UInt32.init))))
        } catch .refused(let error) where error.code == KernelError.exists {
        } catch {
            throw CNIError(.kernelRefused, "create bridge \(name): \(error)")
        }
        guard
            let bridge = try kernel("look up \(name)", { () throws(NetlinkSocketError) in try host.link(named: name) })
        else {
            throw CNIError(.kernelRefused, "bridge \(name) vanished as it was made")
        }
        guard bridge.kind == "bridge" else {
            throw CNIError(.invalidConfig, "\(name) already exists but is not a bridge")
        }
        try? Sysctl.write("net/ipv6/conf/\(name)/accept_ra", "0")
        var update = LinkUpdate(up: true)
        if config.promiscuousMode { update.promiscuous = true }
        try kernel("set \(name) up") { () throws(NetlinkSocketError) in
            try host.perform(.updateLink(bridge.index, update))
        }
        return bridge
    }

    /// The veth pair: made inside the pod (its end named as asked) with the other end, `veth` and 8 hex digits as
    /// the reference plugin names it, in the node's namespace, enslaved to the bridge, up, hairpin as configured.
    private func makeVeth(_ config: NetworkConfig, pod: NetlinkSocket, host: NetlinkSocket, bridge: Link)
        throws(CNIError)
        -> Link
    {
        let hostNamespace: Int32
        do { hostNamespace = try NetworkNamespace.current.open() } catch {
            throw CNIError(.ioFailure, "\(error)")
        }
        defer { close(hostNamespace) }
        let mtu = config.mtu.map(UInt32.init)
        var name = ""
        for attempt in 1...10 {
            name = "veth" + (0..<4).map { _ in Self.hex(UInt8.random(in: 0...255)) }.joined()
            // No transmit queue on either end (a veth has no qdisc to feed), as the reference plugin makes them.
            let peer = LinkTemplate.Peer(
                name: name, mtu: mtu, transmitQueueLength: 0, namespaceDescriptor: hostNamespace)
            do throws(NetlinkSocketError) {
                try pod.perform(
                    .createLink(
                        LinkTemplate(
                            name: invocation.interfaceName, kind: .veth(peer: peer), mtu: mtu, transmitQueueLength: 0)))
                break
            } catch .refused(let error) where error.code == KernelError.exists && attempt < 10 {
                continue
            } catch {
                throw CNIError(.kernelRefused, "create veth pair \(invocation.interfaceName)/\(name): \(error)")
            }
        }
        guard let veth = try kernel("look up \(name)", { () throws(NetlinkSocketError) in try host.link(named: name) })
        else {
            throw CNIError(.kernelRefused, "veth \(name) did not appear in the node's namespace")
        }
        try? Sysctl.write("net/ipv6/conf/\(name)/accept_ra", "0")
        try kernel("attach \(name) to \(config.bridge)") { () throws(NetlinkSocketError) in
            try host.perform(.updateLink(veth.index, LinkUpdate(up: true, master: bridge.index)))
            try host.perform(.setBridgePort(veth.index, hairpin: config.hairpinMode))
        }
        return try kernel("look up \(name)") { () throws(NetlinkSocketError) in try host.link(named: name) } ?? veth
    }

    /// Inside the pod: duplicate address detection as configured, gratuitous ARP on, the addresses, the link up,
    /// the routes (through the address's gateway when a route names none).
    private func configurePod(_ config: NetworkConfig, socket: NetlinkSocket, result: CNIResult) throws(CNIError)
        -> Link
    {
        let name = invocation.interfaceName
        do {
            try NetworkNamespace(path: invocation.networkNamespace).run {
                if result.ips.contains(where: { $0.address.family == .ipv6 }) {
                    for interface in ["lo", name]
                    where (try? Sysctl.read("net/ipv6/conf/\(interface)/disable_ipv6")) == "1" {
                        try Sysctl.write("net/ipv6/conf/\(interface)/disable_ipv6", "0")
                    }
                }
                try? Sysctl.write("net/ipv6/conf/\(name)/accept_dad", config.duplicateAddressDetection ? "1" : "0")
                try? Sysctl.write("net/ipv4/conf/\(name)/arp_notify", "1")
            }
        } catch {
            throw CNIError(.kernelRefused, "configure \(name) in the pod: \(error)")
        }
        guard
            let link = try kernel(
                "look up \(name) in the pod", { () throws(NetlinkSocketError) in try socket.link(named: name) })
        else {
            throw CNIError(.kernelRefused, "\(name) did not appear in the pod")
        }
        for ip in result.ips {
            let broadcast: IPAddress? =
                ip.address.family == .ipv4 && ip.prefixLength < 31
                ? IPAddress(family: .ipv4, numeric: ip.address.numeric | ((1 << (32 - ip.prefixLength)) - 1)) : nil
            let address = InterfaceAddress(
                index: link.index, address: ip.address, prefixLength: ip.prefixLength, broadcast: broadcast)
            try kernel("add \(ip.address)/\(ip.prefixLength) to \(name)") { () throws(NetlinkSocketError) in
                try socket.perform(.addAddress(address))
            }
        }
        try kernel("set \(name) up") { () throws(NetlinkSocketError) in
            try socket.perform(.updateLink(link.index, LinkUpdate(up: true)))
        }
        for route in result.routes {
            let gateway = route.gateway ?? result.ips.first { $0.address.family == route.destination.family }?.gateway
            try kernel("add route \(route.destination) via \(gateway.map { "\($0)" } ?? "-") dev \(name)") {
                () throws(NetlinkSocketError) in
                try socket.perform(
                    .addRoute(Route(destination: route.destination, gateway: gateway, outputInterface: link.index)))
            }
        }
        return try kernel("look up \(name) in the pod") { () throws(NetlinkSocketError) in try socket.link(named: name)
        }
            ?? link
    }

    /// The gateway address on the bridge. Another address of the family in the same subnet (any, for IPv4) is
    /// replaced with `forceAddress`, and is an error without it.
    private func ensureGatewayAddress(
        _ gateway: IPAddress, prefixLength: Int, on bridge: Link, _ config: NetworkConfig, _ host: NetlinkSocket
    ) throws(CNIError) {
        let existing = try kernel("list \(config.bridge)'s addresses") { () throws(NetlinkSocketError) in
            try host.addresses(gateway.family).filter { $0.index == bridge.index }
        }
        let wanted = IPNetwork(address: gateway, prefixLength: prefixLength)!
        for address in existing {
            if address.address == gateway && address.prefixLength == prefixLength { return }
            guard let network = address.network,
                gateway.family == .ipv4 || network.contains(gateway) || wanted.contains(address.address)
            else { continue }
            guard config.forceAddress else {
                throw CNIError(
                    .invalidConfig,
                    "\"\(config.bridge)\" already has an IP address different from \(gateway)/\(prefixLength)")
            }
            try kernel("remove \(address.address) from \(config.bridge)") { () throws(NetlinkSocketError) in
                try host.perform(.deleteAddress(address))
            }
        }
        let broadcast: IPAddress? =
            gateway.family == .ipv4 && prefixLength < 31
            ? IPAddress(family: .ipv4, numeric: gateway.numeric | ((1 << (32 - prefixLength)) - 1)) : nil
        do throws(NetlinkSocketError) {
            try host.perform(
                .addAddress(
                    InterfaceAddress(
                        index: bridge.index, address: gateway, prefixLength: prefixLength, broadcast: broadcast)))
        } catch .refused(let error) where error.code == KernelError.exists {
        } catch {
            throw CNIError(.kernelRefused, "add \(gateway)/\(prefixLength) to \(config.bridge): \(error)")
        }
        // Pin the bridge's MAC to the one it had before this pod's port joined: otherwise it follows the lowest MAC
        // among its ports as pods come and go. A bridge whose ports all left has none (all zeros): then pin the one
        // it has taken from this pod's port.
        var pinned = bridge.address
        if pinned.allSatisfy({ $0 == 0 }) {
            pinned =
                try kernel("look up \(config.bridge)") { () throws(NetlinkSocketError) in
                    try host.link(named: config.bridge)
                }?.address ?? []
        }
        if pinned.count == 6, !pinned.allSatisfy({ $0 == 0 }) {
            try kernel("pin \(config.bridge)'s MAC") { () throws(NetlinkSocketError) in
                try host.perform(.updateLink(bridge.index, LinkUpdate(address: MACAddress(pinned))))
            }
        }
    }

    static func mac(_ bytes: [UInt8]) -> String { bytes.map(hex).joined(separator: ":") }

    static func hex(_ byte: UInt8) -> String { (byte < 16 ? "0" : "") + String(byte, radix: 16) }
}
