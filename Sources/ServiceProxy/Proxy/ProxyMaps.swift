import NFTables
import NetCore

/// The named maps and sets of the proxy's table in one family, and how plan entries become their elements.
///
/// - `service-ips`: address . protocol . port → `goto pick-N` (or `pick-external-N`);
/// - `endpoints`: address . protocol . port . index → endpoint address . port (the pick chains' `dnat … numgen
///   random mod N map @endpoints`);
/// - `node-ports`: protocol . port → `goto pick-external-N`, and `node-port-endpoints`: protocol . port . index →
///   endpoint;
/// - `no-endpoints` and `no-endpoint-node-ports`: what the filter chains reject.
public struct ProxyMaps: Sendable {
    public static let table = "pylon-proxy"

    public let family: IPFamily
    public let serviceIPs: NFTSet
    public let endpoints: NFTSet
    public let nodePorts: NFTSet
    public let nodePortEndpoints: NFTSet
    public let noEndpoints: NFTSet
    public let noEndpointNodePorts: NFTSet
    /// Endpoint . the same endpoint: a pod reaching itself through its Service.
    public let hairpin: NFTSet

    public init(family: IPFamily) {
        self.family = family
        let address: NFTSet.DataType = family == .ipv4 ? .ipv4Address : .ipv6Address
        serviceIPs = NFTSet(name: "service-ips", key: [address, .inetProtocol, .inetService], value: [.verdict], id: 1)
        // The random index is typed `mark` (4 bytes, host order, as numgen writes it): `nft list` cannot print an
        // untyped integer in a concatenation without the user data nft itself would have attached.
        endpoints = NFTSet(
            name: "endpoints", key: [address, .inetProtocol, .inetService, .mark], value: [address, .inetService],
            id: 2)
        nodePorts = NFTSet(name: "node-ports", key: [.inetProtocol, .inetService], value: [.verdict], id: 3)
        nodePortEndpoints = NFTSet(
            name: "node-port-endpoints", key: [.inetProtocol, .inetService, .mark], value: [address, .inetService],
            id: 4)
        noEndpoints = NFTSet(name: "no-endpoints", key: [address, .inetProtocol, .inetService], id: 5)
        noEndpointNodePorts = NFTSet(name: "no-endpoint-node-ports", key: [.inetProtocol, .inetService], id: 6)
        hairpin = NFTSet(name: "hairpin", key: [address, address], id: 7)
    }

    /// Every map and set, in the order they are created.
    public var all: [NFTSet] {
        [serviceIPs, endpoints, nodePorts, nodePortEndpoints, noEndpoints, noEndpointNodePorts, hairpin]
    }

    /// The verdict of a target's element (none for `reject`: those are in the `no-endpoints` sets). External
    /// traffic picks as cluster traffic does; postrouting masquerades it by its source and destination.
    public static func verdict(for target: ProxyPlan.Target, nodePort: Bool = false) -> NFTExpression.Verdict? {
        switch target {
        case .pick(let n), .pickExternal(let n): .goto(nodePort ? nodePortPickChain(n) : pickChain(n))
        case .drop: .drop
        case .reject: nil
        }
    }

    public static func pickChain(_ count: Int) -> String { "pick-\(count)" }
    public static func nodePortPickChain(_ count: Int) -> String { "node-port-pick-\(count)" }

    // MARK: Keys and values

    func key(_ key: ProxyPlan.ServiceKey) -> [UInt8] {
        serviceIPs.keyBytes([key.address.bytes, [key.transport.number], Self.bigEndian(key.port)])
    }

    func key(_ key: ProxyPlan.Indexed<ProxyPlan.ServiceKey>) -> [UInt8] {
        endpoints.keyBytes([
            key.key.address.bytes, [key.key.transport.number], Self.bigEndian(key.key.port), Self.hostOrder(key.index),
        ])
    }

    func key(_ key: ProxyPlan.NodePortKey) -> [UInt8] {
        nodePorts.keyBytes([[key.transport.number], Self.bigEndian(key.port)])
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
