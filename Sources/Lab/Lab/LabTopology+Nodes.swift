import NetCore

extension LabTopology {
    /// K3s' default pod network; node i (in the order given, which is the order the lab creates the Nodes in, so the
    /// server's first pod CIDRs) gets 10.42.i.0/24.
    public static let podNetwork = IPNetwork("10.42.0.0/16")!
    /// The lab's IPv6 pod network (documentation addresses; each node a /64 of it).
    public static let podNetworkIPv6 = IPNetwork("2001:db8:42::/56")!

    /// The pod subnet `pylon server` gives `node`, the i-th of `nodes`.
    public static func podSubnet(of node: String, nodes: [String]) -> IPNetwork {
        IPNetwork(address: podNetwork.address(at: UInt128((nodes.firstIndex(of: node) ?? 0) * 256))!, prefixLength: 24)!
    }

    /// `ip` argument lists that make hosts Kubernetes-like nodes, after `setUpCommands()`: the node answers ARP only
    /// for addresses on the receiving interface and sources its own ARP requests from that interface
    /// (`arp_ignore=1`, `arp_announce=2`, what kube-proxy's strict ARP asks for), so that load balancer addresses
    /// bound locally, as kube-proxy binds them, are answered by the speaker alone. `pylon overlay` on every node
    /// routes the pod subnets between them.
    public func nodeSetUpCommands(nodes: [String]) -> [[String]] {
        nodes.flatMap { node in
            let ns = namespace(of: node)
            return [
                ["netns", "exec", ns, "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1"],
                ["netns", "exec", ns, "sysctl", "-qw", "net.ipv4.conf.all.arp_announce=2"],
            ]
        }
    }
}
