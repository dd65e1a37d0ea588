import CNI
import Kernel
import NFTables
import NetCore
import Netlink

extension PluginContext {
    /// Installs the attachment's host ports and masquerading (`NATRules`) in one nftables transaction per family;
    /// for IPv4 host ports, lets the bridge route connections from localhost (`route_localnet`), as the reference
    /// `portmap` plugin does.
    /// - Throws: `CNIError.kernelRefused` with the kernel's reason; nothing of a refused transaction is applied.
    func installNATRules(_ config: NetworkConfig, ips: [CNIResult.IPConfig]) throws(CNIError) {
        let rules = NATRules(network: config.name, containerID: invocation.containerID).rules(
            for: ips.map { ($0.address, $0.prefixLength) }, mappings: config.portMappings,
            masquerade: config.ipMasquerade == true)
        guard !rules.isEmpty else { return }
        let socket = try kernel("open a netfilter socket") { () throws(NetlinkSocketError) in
            try NetlinkSocket(kind: .netfilter)
        }
        for (family, familyRules) in rules.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            let requests =
                [NetlinkRequest.addTable(NATRules.table, family: family)]
                + NATRules.chains.map { NetlinkRequest.addChain($0, table: NATRules.table, family: family) }
                + familyRules.map { NetlinkRequest.addRule($0, table: NATRules.table, family: family) }
            try kernel("install the pod's nftables rules") { () throws(NetlinkSocketError) in
                try socket.apply(requests, begin: .batchBegin, end: .batchEnd)
            }
        }
        if rules[.ipv4] != nil, !config.portMappings.isEmpty {
            do { try Sysctl.write("net/ipv4/conf/\(config.bridge)/route_localnet", "1") } catch {
                throw CNIError(.kernelRefused, "let \(config.bridge) route localhost: \(error)")
            }
        }
    }

    /// Removes the NAT rules of the network's attachments whose container `matches`, in one transaction per family.
    /// A family without Pylon's table has nothing to remove.
    /// - Throws: `CNIError.kernelRefused` when the rules cannot be listed or removed.
    func removeNATRules(network: String, where matches: (String) -> Bool) throws(CNIError) {
        let socket = try kernel("open a netfilter socket") { () throws(NetlinkSocketError) in
            try NetlinkSocket(kind: .netfilter)
        }
        for family in [NFTFamily.ipv4, .ipv6] {
            let messages: [NetlinkMessage]
            do throws(NetlinkSocketError) {
                messages = try socket.dumpMessages(.dumpRules(table: NATRules.table, family: family))
            } catch .refused(let error) where error.code == KernelError.noEntry {
                continue
            } catch {
                throw CNIError(.kernelRefused, "list Pylon's nftables rules: \(error)")
            }
            var deletions: [NetlinkRequest] = []
            for message in messages where message.type == NetlinkRequest.nftablesNewRule {
                guard let rule = try? NFTRule(decoding: message.payload), let handle = rule.handle,
                    let container = rule.comment.flatMap({ NATRules.container(in: $0, network: network) }),
                    matches(container)
                else { continue }
                deletions.append(.deleteRule(handle: handle, chain: rule.chain, table: NATRules.table, family: family))
            }
            guard !deletions.isEmpty else { continue }
            try kernel("remove the pod's nftables rules") { () throws(NetlinkSocketError) in
                try socket.apply(deletions, begin: .batchBegin, end: .batchEnd)
            }
        }
    }
}
