import KubeAPI
import NetCore

/// An endpoint of a Service port as the proxy sends traffic to it: address, port, node and conditions, read from
/// EndpointSlices.
///
/// Pure value.
public struct Backend: Sendable, Hashable, Comparable {
    public var address: IPAddress
    public var port: UInt16
    public var node: String?
    public var ready: Bool
    public var serving: Bool
    public var terminating: Bool

    public init(
        address: IPAddress, port: UInt16, node: String? = nil, ready: Bool = true, serving: Bool = true,
        terminating: Bool = false
    ) {
        self.address = address
        self.port = port
        self.node = node
        self.ready = ready
        self.serving = serving
        self.terminating = terminating
    }

    /// Stands for an endpoint programmed earlier whose value is not kept (`ProxyState`): equal to no parsed endpoint
    /// (port 0 is never one), so its element is always replaced.
    public static let unknown = Backend(address: .v4(0), port: 0)

    public static func < (a: Backend, b: Backend) -> Bool { (a.address, a.port) < (b.address, b.port) }

    /// The endpoints of every Service in `slices` for `family`, by `namespace/service` and port name; problems for
    /// endpoints that cannot be used (the slice's other endpoints still are).
    public static func parse(_ slices: [JSON], family: IPFamily) -> (
        backends: [String: [String: [Backend]]], problems: [ProxyProblem]
    ) {
        var backends: [String: [String: [Backend]]] = [:]
        var problems: [ProxyProblem] = []
        for slice in slices where slice["addressType"]?.stringValue == family.rawValue {
            let namespace = slice["metadata"]?["namespace"]?.stringValue ?? ""
            guard let service = slice["metadata"]?["labels"]?["kubernetes.io/service-name"]?.stringValue else {
                continue
            }
            let key = "\(namespace)/\(service)"
            let sliceName = "\(namespace)/\(slice["metadata"]?["name"]?.stringValue ?? "")"
            var ports: [(String, UInt16)] = []
            for port in slice["ports"]?.arrayValue ?? [] {
                guard let number = port["port"]?.intValue, (1...65_535).contains(number) else {
                    problems.append(
                        ProxyProblem(.badEndpoint, object: sliceName, "port \(port["port"] ?? .null) is not 1-65535"))
                    continue
                }
                ports.append((port["name"]?.stringValue ?? "", UInt16(number)))
            }
            for endpoint in slice["endpoints"]?.arrayValue ?? [] {
                guard let text = endpoint["addresses"]?.arrayValue?.first?.stringValue,
                    let address = IPAddress(text), address.family == family
                else {
                    problems.append(
                        ProxyProblem(
                            .badEndpoint, object: sliceName,
                            "endpoint address \(endpoint["addresses"] ?? .null) is not an \(family.rawValue) address"))
                    continue
                }
                let conditions = endpoint["conditions"]
                let ready = conditions?["ready"]?.boolValue ?? true
                for (name, port) in ports {
                    backends[key, default: [:]][name, default: []].append(
                        Backend(
                            address: address, port: port, node: endpoint["nodeName"]?.stringValue, ready: ready,
                            serving: conditions?["serving"]?.boolValue ?? ready,
                            terminating: conditions?["terminating"]?.boolValue ?? false))
                }
            }
        }
        return (backends, problems)
    }

    /// The endpoints traffic goes to: the ready ones; when none is, those still serving while they terminate (as
    /// kube-proxy does). Sorted, without duplicates.
    public static func usable(_ all: [Backend]) -> [Backend] {
        let ready = all.filter(\.ready)
        let chosen = ready.isEmpty ? all.filter { $0.serving && $0.terminating } : ready
        return Array(Set(chosen)).sorted()
    }
}
