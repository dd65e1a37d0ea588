import CNI
import Kernel
import NetCore
import Netlink

extension PluginContext {
    /// CHECK: the network is still as ADD left it (`prevResult`): the store holds the pod's address, the bridge is
    /// a bridge with the promiscuous mode configured, the pod's interface is a veth whose peer is the host interface
    /// of the result and a port of the bridge, and it has every address and route of the result.
    /// - Throws: `CNIError.invalidConfig` without `prevResult`, `.unknownContainer` when the store holds nothing for
    ///   the attachment, `.checkFailed` saying the first difference found.
    func check() throws(CNIError) {
        guard let previous = config.previousResult else {
            throw CNIError(.invalidConfig, "required prevResult missing")
        }
        let store = try attachmentStore()
        let held = try store.locked { () throws(CNIError) in
            store.addresses(containerID: invocation.containerID, interfaceName: invocation.interfaceName)
        }
        guard !held.isEmpty else {
            throw CNIError(
                .unknownContainer, "unknown container \(invocation.containerID): no address is recorded for it")
        }
        let host = try kernel("open a netlink socket") { () throws(NetlinkSocketError) in try NetlinkSocket() }
        guard
            let bridge = try kernel(
                "look up \(config.bridge)", { () throws(NetlinkSocketError) in try host.link(named: config.bridge) }),
            bridge.kind == "bridge"
        else { throw CNIError(.checkFailed, "bridge \(config.bridge) is missing or not a bridge") }
        guard bridge.flags.contains(.promiscuous) == config.promiscuousMode else {
            throw CNIError(.checkFailed, "bridge \(config.bridge) promiscuous mode is not \(config.promiscuousMode)")
        }
        let pod: NetlinkSocket
        do { pod = try NetlinkSocket(namespace: NetworkNamespace(path: invocation.networkNamespace)) } catch {
            throw CNIError(
                .invalidEnvironment, "CNI_NETNS \(invocation.networkNamespace) is not a network namespace: \(error)")
        }
        let name = invocation.interfaceName
        guard
            let link = try kernel(
                "look up \(name) in the pod", { () throws(NetlinkSocketError) in try pod.link(named: name) }),
            link.kind == "veth", let peerIndex = link.link
        else { throw CNIError(.checkFailed, "the pod has no veth named \(name)") }
        let hostLinks = try kernel("list the node's links") { () throws(NetlinkSocketError) in try host.links() }
        guard let peer = hostLinks.first(where: { $0.index == peerIndex }),
            previous.interfaces.contains(where: { $0.name == peer.name && $0.sandbox == nil })
        else { throw CNIError(.checkFailed, "\(name)'s peer is not the host interface of the result") }
        guard peer.master == bridge.index else {
            throw CNIError(.checkFailed, "\(peer.name) is not a port of \(config.bridge)")
        }
        let addresses = try kernel("list the pod's addresses") { () throws(NetlinkSocketError) in
            try pod.addresses().filter { $0.index == link.index }
        }
        for ip in previous.ips
        where !addresses.contains(where: { $0.address == ip.address && $0.prefixLength == ip.prefixLength }) {
            throw CNIError(.checkFailed, "\(name) does not have \(ip.address)/\(ip.prefixLength)")
        }
        let routes = try kernel("list the pod's routes") { () throws(NetlinkSocketError) in try pod.routes() }
        for route in previous.routes {
            let gateway = route.gateway ?? previous.ips.first { $0.address.family == route.destination.family }?.gateway
            guard
                routes.contains(where: {
                    $0.destination == route.destination && $0.gateway == gateway && $0.table == Route.mainTable
                })
            else {
                throw CNIError(
                    .checkFailed, "the pod has no route to \(route.destination) via \(gateway.map { "\($0)" } ?? "-")")
            }
        }
    }

    /// STATUS: ready when the store can be written and, in flannel mode, `subnet.env` holds a subnet.
    /// - Throws: `CNIError.notAvailable` saying why not.
    func status() throws(CNIError) {
        do throws(CNIError) {
            let store = try store(try resolvedConfig())
            guard store.isWritable() else { throw CNIError(.ioFailure, "\(store.directory) is not writable") }
        } catch {
            throw CNIError(.notAvailable, "the plugin cannot add pods: \(error)")
        }
    }

    /// GC: releases every address, and removes every flannel record, of an attachment not in
    /// `cni.dev/valid-attachments`, and the debris of plugins killed mid-ADD.
    /// - Throws: `CNIError.invalidConfig` without the list, `.ioFailure` when the store cannot be opened.
    func collectGarbage() throws(CNIError) {
        guard let valid = config.validAttachments else {
            throw CNIError(.invalidConfig, "GC needs cni.dev/valid-attachments")
        }
        let keep = Set(valid)
        let store = try store(config)
        try store.locked { () throws(CNIError) in
            _ = store.removeDebris()
            for entry in store.allocations()
            where !keep.contains(where: {
                $0.containerID == entry.containerID
                    && (entry.interfaceName.isEmpty || $0.interfaceName == entry.interfaceName)
            }) {
                store.unreserve(entry.ip)
            }
        }
        let live = Set(valid.map(\.containerID))
        try removeNATRules(network: config.name) { !live.contains($0) }
        if let flannel = config.flannel {
            for container in FlannelRecord.containers(flannel) where !live.contains(container) {
                FlannelRecord.remove(flannel, containerID: container)
            }
        }
    }
}
