import NetCore

/// A virtual Ethernet segment in network namespaces: one namespace per host (nodes, a client, later a router),
/// each with an `eth0` cabled to a bridge in a switch namespace. Pure: it plans the `ip` commands; `LabNetwork`
/// runs them.
///
/// Names: namespaces are `<prefix>-<host>` (the prefix makes a lab and its leftovers recognisable); the switch
/// is `<prefix>-lan` with bridge `br0`; a host's switch-side port is named after the host (at most 15 bytes, the
/// kernel's limit). Addresses come from the documentation ranges: host i gets 192.0.2.(10+i)/24 and
/// 2001:db8::(10+i)/64. No namespace gets a default route.
public struct LabTopology: Sendable, Equatable {
    public var prefix: String
    public var hosts: [String]
    public static let lan4 = IPNetwork("192.0.2.0/24")!
    public static let lan6 = IPNetwork("2001:db8::/64")!

    /// - Precondition: host names are short (≤ 15 bytes), distinct, and not `lan`.
    public init(prefix: String, hosts: [String]) {
        precondition(Set(hosts).count == hosts.count && !hosts.contains("lan"))
        precondition(hosts.allSatisfy { $0.utf8.count <= 15 && !$0.isEmpty })
        self.prefix = prefix
        self.hosts = hosts
    }

    public var switchNamespace: String { "\(prefix)-lan" }

    public func namespace(of host: String) -> String { "\(prefix)-\(host)" }

    /// The host's IPv4 and IPv6 addresses on the LAN.
    public func addresses(of host: String) -> (v4: IPAddress, v6: IPAddress) {
        let i = UInt128((hosts.firstIndex(of: host) ?? 0) + 10)
        return (Self.lan4.address(at: i)!, Self.lan6.address(at: i)!)
    }

    /// Every namespace of the lab, the switch first.
    public var namespaces: [String] { [switchNamespace] + hosts.map(namespace(of:)) }

    /// `ip` argument lists that build the lab, in order.
    public func setUpCommands() -> [[String]] {
        var commands: [[String]] = namespaces.map { ["netns", "add", $0] }
        let lan = switchNamespace
        commands += [
            ["-n", lan, "link", "set", "lo", "up"],
            ["-n", lan, "link", "add", "br0", "type", "bridge"],
            ["-n", lan, "link", "set", "br0", "up"],
        ]
        for host in hosts {
            let ns = namespace(of: host)
            let (v4, v6) = addresses(of: host)
            commands += [
                ["-n", lan, "link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", ns],
                ["-n", lan, "link", "set", host, "master", "br0", "up"],
                ["-n", ns, "link", "set", "lo", "up"],
                ["-n", ns, "addr", "add", "\(v4)/24", "dev", "eth0"],
                ["-n", ns, "addr", "add", "\(v6)/64", "dev", "eth0", "nodad"],
                ["-n", ns, "link", "set", "eth0", "up"],
            ]
        }
        return commands
    }

    /// `ip` argument lists that remove the lab (deleting a namespace removes its links and bridge).
    public func tearDownCommands() -> [[String]] {
        namespaces.reversed().map { ["netns", "delete", $0] }
    }
}
