import NetCore

extension LabTopology {
    /// K3s' default pod network; node i (in the order given, which is the order the lab creates the Nodes in, so the
    /// server's first pod CIDRs) gets 10.42.i.0/24, its demo backend 10.42.i.10.
    public static let podNetwork = IPNetwork("10.42.0.0/16")!

    /// The address of the demo backend ("pod") on `node`, the i-th of `nodes`.
    public static func podAddress(of node: String, nodes: [String]) -> IPAddress {
        podNetwork.address(at: UInt128((nodes.firstIndex(of: node) ?? 0) * 256 + 10))!
    }

    /// `ip` argument lists that make hosts Kubernetes-like nodes, after `setUpCommands()`:
    /// - the node answers ARP only for addresses on the receiving interface and sources its own ARP requests from
    ///   that interface (`arp_ignore=1`, `arp_announce=2`, what kube-proxy's strict ARP asks for), so that load
    ///   balancer addresses bound locally, as kube-proxy binds them, are answered by the speaker alone;
    /// - its demo backend's pod address on `lo`; `pylon overlay` on every node routes the pod subnets between them.
    public func nodeSetUpCommands(nodes: [String]) -> [[String]] {
        var commands: [[String]] = []
        for node in nodes {
            let ns = namespace(of: node)
            commands += [
                ["netns", "exec", ns, "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1"],
                ["netns", "exec", ns, "sysctl", "-qw", "net.ipv4.conf.all.arp_announce=2"],
                ["-n", ns, "addr", "add", "\(Self.podAddress(of: node, nodes: nodes))/32", "dev", "lo"],
            ]
        }
        return commands
    }
}
