import NetCore

/// A virtual Ethernet segment in network namespaces: one namespace per host (nodes, a client, later a router),
/// each with an `eth0` cabled to a bridge in a switch namespace. Pure: it plans the `ip` commands; `LabNetwork`
/// runs them.
///
/// Names: namespaces are `<prefix>-<host>` (the prefix makes a lab and its leftovers recognisable); the switch
/// is `<prefix>-lan` with bridge `br0`; a host's switch-side port is named after the host (at most 15 bytes, the
/// kernel's limit). Addresses come from the documentation ranges: host i gets 192.0.2.(10+i)/24 and
/// 2001:db8::(10+i)/64. No namespace gets a default route.
///
/// With `management`, a second segment (bridge `br1` in the switch namespace) links every host's `mgmt0`
/// (198.18.0.(10+i)/24) with the machine's own namespace (`<prefix>-m`, 198.18.0.1/24), so that processes in the
/// hosts reach an API server listening there, apart from the LAN under test.
public struct LabTopology: Sendable, Equatable {
    public var prefix: String
    public var hosts: [String]
    public var management: Bool
    public static let lan4 = IPNetwork("192.0.2.0/24")!
    public static let lan6 = IPNetwork("2001:db8::/64")!
    public static let management4 = IPNetwork("198.18.0.0/24")!
    /// The machine's address on the management segment.
    public static let managementHost = management4.address(at: 1)!

    /// - Precondition: host names are short (≤ 13 bytes), distinct, and not `lan`; the prefix at most 13 bytes.
    public init(prefix: String, hosts: [String], management: Bool = false) {
        precondition(Set(hosts).count == hosts.count && !hosts.contains("lan"))
        precondition(hosts.allSatisfy { $0.utf8.count <= 13 && !$0.isEmpty } && prefix.utf8.count <= 13)
        self.prefix = prefix
        self.hosts = hosts
        self.management = management
    }

    /// The host's address on the management segment.
    public func managementAddress(of host: String) -> IPAddress {
        Self.management4.address(at: UInt128((hosts.firstIndex(of: host) ?? 0) + 10))!
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
        guard management else { return commands }
        let uplink = "\(prefix)-m"
        commands += [
            ["-n", lan, "link", "add", "br1", "type", "bridge"],
            ["-n", lan, "link", "set", "br1", "up"],
            ["link", "add", uplink, "type", "veth", "peer", "name", "uplink", "netns", lan],
            ["-n", lan, "link", "set", "uplink", "master", "br1", "up"],
            ["addr", "add", "\(Self.managementHost)/24", "dev", uplink],
            ["link", "set", uplink, "up"],
        ]
        for host in hosts {
            let ns = namespace(of: host)
            commands += [
                ["-n", lan, "link", "add", "m-\(host)", "type", "veth", "peer", "name", "mgmt0", "netns", ns],
                ["-n", lan, "link", "set", "m-\(host)", "master", "br1", "up"],
                ["-n", ns, "addr", "add", "\(managementAddress(of: host))/24", "dev", "mgmt0"],
                ["-n", ns, "link", "set", "mgmt0", "up"],
            ]
        }
        return commands
    }

    /// `ip` argument lists that remove the lab (deleting a namespace removes its links and bridge; the management
    /// uplink in the machine's namespace goes with its peer in the switch namespace).
    public func tearDownCommands() -> [[String]] {
        namespaces.reversed().map { ["netns", "delete", $0] }
    }
}
