import NFTables
import NetCore

/// The named maps and sets of the proxy's table in one family, and how plan entries become their elements.
///
/// - `service-ips-N`: the address . protocol . port of every Service with N usable endpoints (one `services` rule
///   per count in use sends them to `pick-N`); `service-ips-drop`: those dropped (Local policy, no local endpoint);
///   `no-endpoints`: those rejected. A Service whose count changes moves between plain sets: no verdict element
///   changes, so the kernel never walks the table's jumps for loops on an endpoint change (it does whenever a jump
///   or goto element is added, which with one verdict map keyed by Service costs every Service's element);
/// - `endpoints`: address . protocol . port . index → endpoint address . port (the pick chains' `dnat … numgen
///   random mod N map @endpoints`);
/// - `node-ports-N`, `node-ports-drop`, `no-endpoint-node-ports`: protocol . port, as above, to `node-port-pick-N`,
///   whose `node-port-endpoints` map is keyed protocol . port . index;
/// - `hairpin`: endpoint . endpoint of this node's endpoints;
/// - `firewall`: load balancer address . protocol . port → `goto firewall-<namespace>/<name>-<hash>`, whose rules
///   return for each of the Service's `loadBalancerSourceRanges` and drop the rest (filter prerouting, before any
///   translation).
public struct ProxyMaps: Sendable {
    public static let table = "pylon-proxy"

    public let family: IPFamily
    public let endpoints: NFTSet
    public let nodePortEndpoints: NFTSet
    public let noEndpoints: NFTSet
    public let noEndpointNodePorts: NFTSet
    /// Endpoint . the same endpoint: a pod reaching itself through its Service.
    public let hairpin: NFTSet
    /// Load balancer address . protocol . port → `goto` the Service's firewall chain (`loadBalancerSourceRanges`).
    public let firewall: NFTSet
    /// Service address . protocol . port → `goto` its affinity chain (`sessionAffinity: ClientIP`).
    public let affinity: NFTSet
    private let address: NFTSet.DataType

    public init(family: IPFamily) {
        self.family = family
        address = family == .ipv4 ? .ipv4Address : .ipv6Address
        // The random index is typed `mark` (4 bytes, host order, as numgen writes it): `nft list` cannot print an
        // untyped integer in a concatenation without the user data nft itself would have attached.
        endpoints = NFTSet(
            name: "endpoints", key: [address, .inetProtocol, .inetService, .mark], value: [address, .inetService],
            id: 2)
        nodePortEndpoints = NFTSet(
            name: "node-port-endpoints", key: [.inetProtocol, .inetService, .mark], value: [address, .inetService],
            id: 4)
        noEndpoints = NFTSet(name: "no-endpoints", key: [address, .inetProtocol, .inetService], id: 5)
        noEndpointNodePorts = NFTSet(name: "no-endpoint-node-ports", key: [.inetProtocol, .inetService], id: 6)
        hairpin = NFTSet(name: "hairpin", key: [address, address], id: 7)
        firewall = NFTSet(name: "firewall", key: [address, .inetProtocol, .inetService], value: [.verdict], id: 10)
        affinity = NFTSet(name: "affinity", key: [address, .inetProtocol, .inetService], value: [.verdict], id: 11)
    }

    /// The sets every table has, in the order they are created (the pick sets of each count come with its chains).
    public var all: [NFTSet] {
        [
            endpoints, nodePortEndpoints, noEndpoints, noEndpointNodePorts, hairpin, serviceSet(for: .drop),
            nodePortSet(for: .drop), firewall, affinity,
        ]
    }

    /// The set holding the service keys of a target: `service-ips-N`, `service-ips-drop` or `no-endpoints`.
    public func serviceSet(for target: ProxyPlan.Target) -> NFTSet {
        switch target {
        case .pick(let n), .pickExternal(let n):
            NFTSet(name: "service-ips-\(n)", key: [address, .inetProtocol, .inetService], id: 16 + 2 * UInt32(n))
        case .drop: NFTSet(name: "service-ips-drop", key: [address, .inetProtocol, .inetService], id: 8)
        case .reject: noEndpoints
        }
    }

    /// The set holding the node ports of a target: `node-ports-N`, `node-ports-drop` or `no-endpoint-node-ports`.
    public func nodePortSet(for target: ProxyPlan.Target) -> NFTSet {
        switch target {
        case .pick(let n), .pickExternal(let n):
            NFTSet(name: "node-ports-\(n)", key: [.inetProtocol, .inetService], id: 17 + 2 * UInt32(n))
        case .drop: NFTSet(name: "node-ports-drop", key: [.inetProtocol, .inetService], id: 9)
        case .reject: noEndpointNodePorts
        }
    }

    /// The firewall chain of Service `service` (`namespace/name`) letting `ranges` through: named after both, so that
    /// other ranges make another chain (added before the elements move to it, the old one deleted after).
    public static func firewallChain(service: String, ranges: [IPNetwork]) -> String {
        "firewall-\(service)-" + fnv(ranges.map(\.description).joined(separator: ","))
    }

    /// The affinity chain (and client map) of a service key with `endpoints`: named after both, so that a change of
    /// endpoints starts a fresh map (clients pick again), the old chain and map deleted after the element moved.
    public static func affinityChain(key: ProxyPlan.ServiceKey, endpoints: [Backend]) -> String {
        let text = endpoints.map { "\($0.address) \($0.port)" }.joined(separator: ",")
        return "affinity-\(key.address)-\(key.transport.rawValue.lowercased())-\(key.port)-" + fnv(text)
    }

    /// Eight hex digits of the FNV-1a hash of `text`.
    static func fnv(_ text: String) -> String {
        var hash: UInt32 = 2_166_136_261
        for byte in text.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// The client map of an affinity chain: client address → endpoint address . port, entries expiring.
    func affinityMap(_ chain: String) -> NFTSet {
        NFTSet(name: chain, key: [address], value: [address, .inetService], id: 12, dynamic: true)
    }

    /// The endpoint picks of an affinity chain: random index → `goto <chain>-<index>`.
    func affinityPicks(_ chain: String) -> NFTSet {
        NFTSet(name: chain + "-pick", key: [.mark], value: [.verdict], id: 13)
    }

    public static func pickChain(_ count: Int) -> String { "pick-\(count)" }
    public static func nodePortPickChain(_ count: Int) -> String { "node-port-pick-\(count)" }

    // MARK: Keys and values

    func key(_ key: ProxyPlan.ServiceKey) -> [UInt8] {
        noEndpoints.keyBytes([key.address.bytes, [key.transport.number], Self.bigEndian(key.port)])
    }

    func key(_ key: ProxyPlan.Indexed<ProxyPlan.ServiceKey>) -> [UInt8] {
        endpoints.keyBytes([
            key.key.address.bytes, [key.key.transport.number], Self.bigEndian(key.key.port), Self.hostOrder(key.index),
        ])
    }

    func key(_ key: ProxyPlan.NodePortKey) -> [UInt8] {
        noEndpointNodePorts.keyBytes([[key.transport.number], Self.bigEndian(key.port)])
    }

    func key(_ key: ProxyPlan.Indexed<ProxyPlan.NodePortKey>) -> [UInt8] {
        nodePortEndpoints.keyBytes([
            [key.key.transport.number], Self.bigEndian(key.key.port), Self.hostOrder(key.index),
        ])
    }

    func hairpinKey(_ address: IPAddress) -> [UInt8] { hairpin.keyBytes([address.bytes, address.bytes]) }

    func value(_ backend: Backend) -> [UInt8] {
        endpoints.valueBytes([backend.address.bytes, Self.bigEndian(backend.port)])
    }

    static func bigEndian(_ port: UInt16) -> [UInt8] { [UInt8(port >> 8), UInt8(port & 0xFF)] }

    /// `numgen` writes its number in host order.
    static func hostOrder(_ index: Int) -> [UInt8] {
        withUnsafeBytes(of: UInt32(index)) { Array($0) }
    }
}
