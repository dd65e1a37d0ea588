import NetCore

extension LabTopology {
    /// `ip` argument lists that put `router` on the client's path to `prefixes`: the router forwards IPv4 and IPv6,
    /// spreading connections over equal-cost paths by their ports too (not only by address, the kernel's default,
    /// which would send every connection of one client the same way), and `client` routes each prefix through the
    /// router's LAN address of its family. Where the traffic goes from the router is what it learns over BGP.
    public func routerSetUpCommands(router: String, client: String, prefixes: [IPNetwork]) -> [[String]] {
        let ns = namespace(of: router)
        let (v4, v6) = addresses(of: router)
        var commands: [[String]] = [
            ["netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"],
            ["netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"],
            ["netns", "exec", ns, "sysctl", "-qw", "net.ipv4.fib_multipath_hash_policy=1"],
            ["netns", "exec", ns, "sysctl", "-qw", "net.ipv6.fib_multipath_hash_policy=1"],
        ]
        for prefix in prefixes {
            let ipv6 = prefix.address.family == .ipv6
            commands.append([
                "-n", namespace(of: client), ipv6 ? "-6" : "-4", "route", "add", prefix.description, "via",
                (ipv6 ? v6 : v4).description,
            ])
        }
        return commands
    }
}
