import KubeAPI
import NetCore

/// One port of one Service as the proxy routes it, for one address family: the Service's cluster addresses,
/// external addresses (load balancer ingress and `externalIPs`) and node port, read from the Service object.
///
/// Pure value. `parse` never throws: a malformed port is a `ProxyProblem` and the Service's other ports still work.
public struct ServicePort: Sendable, Hashable {
    public enum TransportProtocol: String, Sendable, Hashable, CaseIterable {
        case tcp = "TCP"
        case udp = "UDP"
        case sctp = "SCTP"

        /// The IP protocol number (`meta l4proto`).
        public var number: UInt8 {
            switch self {
            case .tcp: 6
            case .udp: 17
            case .sctp: 132
            }
        }
    }

    /// `namespace/name`.
    public var service: String
    /// The port's name (`""` for a Service's only, unnamed port): how endpoints name theirs.
    public var name: String
    public var transport: TransportProtocol
    public var port: UInt16
    public var nodePort: UInt16?
    public var clusterAddresses: [IPAddress]
    public var externalAddresses: [IPAddress]
    /// `externalTrafficPolicy: Local`.
    public var externalLocal: Bool
    /// `internalTrafficPolicy: Local`: cluster addresses reach this node's endpoints only.
    public var internalLocal: Bool = false
    /// The load balancer ingress addresses among `externalAddresses`.
    public var loadBalancerAddresses: [IPAddress] = []
    /// `loadBalancerSourceRanges` of this family: the only sources its load balancer addresses accept (none of
    /// this family: none); nil when the Service sets none.
    public var sourceRanges: [IPNetwork]?
    /// `sessionAffinity: ClientIP`: how long (seconds) a client keeps its endpoint after its last new connection.
    public var affinityTimeout: UInt64?

    /// The Service's ports for `family`; problems for ports it cannot route.
    public static func parse(_ service: JSON, family: IPFamily) -> (ports: [ServicePort], problems: [ProxyProblem]) {
        let namespace = service["metadata"]?["namespace"]?.stringValue ?? ""
        let key = "\(namespace)/\(service["metadata"]?["name"]?.stringValue ?? "")"
        let spec = service["spec"]
        guard spec?["type"]?.stringValue != "ExternalName" else { return ([], []) }
        var problems: [ProxyProblem] = []
        func addresses(_ texts: [String], _ field: String) -> [IPAddress] {
            texts.compactMap { text in
                guard let address = IPAddress(text) else {
                    problems.append(ProxyProblem(.badAddress, object: key, "\(field) \(text) is not an IP address"))
                    return nil
                }
                return address.family == family ? address : nil
            }
        }
        var clusterTexts = (spec?["clusterIPs"]?.arrayValue ?? []).compactMap(\.stringValue)
        if clusterTexts.isEmpty, let single = spec?["clusterIP"]?.stringValue { clusterTexts = [single] }
        let cluster = addresses(clusterTexts.filter { $0 != "None" && !$0.isEmpty }, "clusterIP")
        let loadBalancer = addresses(
            (service["status"]?["loadBalancer"]?["ingress"]?.arrayValue ?? []).compactMap { $0["ip"]?.stringValue },
            "load balancer ingress")
        let external =
            addresses((spec?["externalIPs"]?.arrayValue ?? []).compactMap(\.stringValue), "externalIP") + loadBalancer
        var sourceRanges: [IPNetwork]?
        if spec?["type"]?.stringValue == "LoadBalancer" {
            let texts = (spec?["loadBalancerSourceRanges"]?.arrayValue ?? []).compactMap(\.stringValue)
            let ranges = texts.compactMap { text -> IPNetwork? in
                let trimmed = String(text.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
                guard let range = IPNetwork(trimmed) else {
                    problems.append(
                        ProxyProblem(.badAddress, object: key, "loadBalancerSourceRange \(text) is not a CIDR"))
                    return nil
                }
                return range
            }
            if !ranges.isEmpty { sourceRanges = ranges.filter { $0.family == family } }
        }
        let local = spec?["externalTrafficPolicy"]?.stringValue == "Local"
        let internalLocal = spec?["internalTrafficPolicy"]?.stringValue == "Local"
        var affinityTimeout: UInt64?
        if spec?["sessionAffinity"]?.stringValue == "ClientIP" {
            let seconds = spec?["sessionAffinityConfig"]?["clientIP"]?["timeoutSeconds"]?.intValue ?? 10_800
            affinityTimeout = (1...86_400).contains(seconds) ? UInt64(seconds) : 10_800
        }
        var ports: [ServicePort] = []
        for entry in spec?["ports"]?.arrayValue ?? [] {
            let name = entry["name"]?.stringValue ?? ""
            guard let transport = TransportProtocol(rawValue: entry["protocol"]?.stringValue ?? "TCP") else {
                problems.append(
                    ProxyProblem(
                        .malformedPort, object: key,
                        "port \(name): protocol \(entry["protocol"]?.stringValue ?? "") is not TCP, UDP or SCTP"))
                continue
            }
            guard let number = entry["port"]?.intValue, (1...65_535).contains(number) else {
                problems.append(
                    ProxyProblem(.malformedPort, object: key, "port \(name): \(entry["port"] ?? .null) is not 1-65535"))
                continue
            }
            var nodePort: UInt16?
            if let value = entry["nodePort"]?.intValue {
                guard (1...65_535).contains(value) else {
                    problems.append(
                        ProxyProblem(.malformedPort, object: key, "port \(name): nodePort \(value) is not 1-65535"))
                    continue
                }
                nodePort = UInt16(value)
            }
            ports.append(
                ServicePort(
                    service: key, name: name, transport: transport, port: UInt16(number), nodePort: nodePort,
                    clusterAddresses: cluster, externalAddresses: external, externalLocal: local,
                    internalLocal: internalLocal, loadBalancerAddresses: loadBalancer, sourceRanges: sourceRanges,
                    affinityTimeout: affinityTimeout))
        }
        return (ports, problems)
    }
}
