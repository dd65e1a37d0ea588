import Netlink

/// Which network interfaces may carry Layer 2 announcements.
///
/// An interface qualifies when it is up with carrier, Ethernet, broadcast-capable, does ARP, is not enslaved to a
/// bond or bridge, and its name passes the include and exclude patterns (a pattern ending in `*` matches by prefix,
/// anything else exactly). Pure value.
public struct InterfaceFilter: Sendable, Equatable {
    /// Interfaces that never face the LAN on a Kubernetes node: loopback, pod veths, CNI bridges, overlay and IPVS
    /// devices.
    public static let defaultExcluded = ["lo", "veth*", "cni*", "flannel*", "kube-ipvs*", "cali*", "lxc*", "docker*"]

    /// Why an interface does not qualify.
    public enum Ineligibility: String, Sendable, Equatable {
        case down = "administratively down"
        case noCarrier = "no carrier"
        case notEthernet = "not Ethernet"
        case notBroadcast = "not broadcast-capable"
        case noARP = "NOARP set"
        case enslaved = "enslaved to a bond or bridge"
        case excluded = "name excluded"
        case notIncluded = "name not included"
    }

    /// Patterns an interface name must match (empty: every name).
    public var include: [String]
    /// Patterns that rule an interface out.
    public var exclude: [String]

    public init(include: [String] = [], exclude: [String] = InterfaceFilter.defaultExcluded) {
        self.include = include
        self.exclude = exclude
    }

    /// `nil` when `link` qualifies, else the first reason it does not.
    public func ineligibility(of link: Link) -> Ineligibility? {
        if !link.flags.contains(.up) { return .down }
        if !link.flags.contains(.lowerUp) { return .noCarrier }
        if link.hardwareType != Link.ethernet || link.address.count != 6 { return .notEthernet }
        if !link.flags.contains(.broadcast) { return .notBroadcast }
        if link.flags.contains(.noARP) { return .noARP }
        if link.master != nil { return .enslaved }
        if exclude.contains(where: { Self.matches($0, link.name) }) { return .excluded }
        if !include.isEmpty, !include.contains(where: { Self.matches($0, link.name) }) { return .notIncluded }
        return nil
    }

    static func matches(_ pattern: String, _ name: String) -> Bool {
        pattern.hasSuffix("*") ? name.hasPrefix(pattern.dropLast()) : name == pattern
    }
}
