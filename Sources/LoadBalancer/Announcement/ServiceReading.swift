import Allocator
import KubeAPI
import NetCore
import OrderedCollections

/// Reading a Service object into an allocation request, with MetalLB's annotations and rules.
public enum ServiceReading {
    public static let loadBalancerIPs = "metallb.io/loadBalancerIPs"
    public static let addressPool = "metallb.io/address-pool"
    public static let allowSharedIP = "metallb.io/allow-shared-ip"
    public static let allocatedFromPool = "metallb.io/ip-allocated-from-pool"
    /// The prefix of MetalLB's deprecated annotations, read as their `metallb.io/` equivalents.
    public static let legacyPrefix = "metallb.universe.tf/"

    /// The outcome of reading a Service.
    public enum Outcome: Sendable, Equatable {
        /// Not a LoadBalancer Service of this controller's class: hands off.
        case notOurs
        case request(ServiceRequest, deprecatedAnnotations: [String])
        /// Ours, but the request itself is wrong (the message is the Event text).
        case invalid(String)
    }

    /// Reads `service`; `loadBalancerClass` is the controller's `--lb-class` (nil: only class-less Services).
    public static func read(_ service: JSON, namespaceLabels: [String: String], loadBalancerClass: String?) -> Outcome {
        let spec = service["spec"] ?? [:]
        guard spec["type"]?.stringValue == "LoadBalancer" else { return .notOurs }
        guard spec["loadBalancerClass"]?.stringValue == loadBalancerClass else { return .notOurs }
        let meta = service["metadata"] ?? [:]
        let namespace = meta["namespace"]?.stringValue ?? "default"
        let name = meta["name"]?.stringValue ?? ""
        var annotations: [String: String] = [:]
        var deprecated: [String] = []
        for (k, v) in meta["annotations"]?.objectValue ?? [:] {
            guard let value = v.stringValue else { continue }
            if k.hasPrefix(legacyPrefix) {
                let modern = "metallb.io/" + k.dropFirst(legacyPrefix.count)
                deprecated.append(k)
                if annotations[modern] == nil { annotations[modern] = value }
            } else {
                annotations[k] = value
            }
        }
        var labels: [String: String] = [:]
        for (k, v) in meta["labels"]?.objectValue ?? [:] { labels[k] = v.stringValue ?? "" }

        var requested: [IPAddress] = []
        let specIP = spec["loadBalancerIP"]?.stringValue ?? ""
        let annotated = annotations[loadBalancerIPs] ?? ""
        if !specIP.isEmpty && !annotated.isEmpty {
            return .invalid("spec.loadBalancerIP and the \(loadBalancerIPs) annotation cannot both be set")
        }
        for text in (annotated.isEmpty ? specIP : annotated).split(separator: ",").map({ $0.trimmed() })
        where !text.isEmpty {
            guard let ip = IPAddress(text) else {
                return .invalid("requested address \"\(text)\" is not an IP address")
            }
            requested.append(ip)
        }
        if requested.count > 2 || Set(requested.map(\.family)).count != requested.count {
            return .invalid("\(loadBalancerIPs) takes at most one address per IP family")
        }

        // The families the server gave the Service; from its ClusterIPs when `ipFamilies` is missing (MetalLB goes
        // by the ClusterIPs).
        var declared = (spec["ipFamilies"]?.arrayValue ?? []).compactMap {
            $0.stringValue.flatMap(IPFamily.init(rawValue:))
        }
        if declared.isEmpty {
            let clusterIPs =
                spec["clusterIPs"]?.arrayValue?.compactMap(\.stringValue) ?? [spec["clusterIP"]?.stringValue ?? ""]
            declared = clusterIPs.compactMap { IPAddress($0)?.family }
        }
        let primary = declared.first ?? requested.first?.family ?? .ipv4
        let families: ServiceRequest.Families
        switch spec["ipFamilyPolicy"]?.stringValue {
        case "RequireDualStack":
            if declared.count == 1 {
                return .invalid(
                    "the service requires dual stack but has only one IP family (\(primary.rawValue)); the cluster is single-stack"
                )
            }
            families = .requireDual(primary: primary)
        // PreferDualStack in a single-stack cluster, where the server gave the Service one family, is single-stack.
        case "PreferDualStack" where declared.count != 1: families = .preferDual(primary: primary)
        default: families = .single(primary)
        }
        let ports = (spec["ports"]?.arrayValue ?? []).compactMap { p -> ServiceRequest.Port? in
            guard let port = p["port"]?.intValue else { return nil }
            return .init(Int(port), p["protocol"]?.stringValue ?? "TCP")
        }
        var backend = ""
        if spec["externalTrafficPolicy"]?.stringValue == "Local" {
            backend = (spec["selector"]?.objectValue ?? [:]).map { "\($0.key)=\($0.value.stringValue ?? "")" }.sorted()
                .joined(separator: ",")
        }
        let pool = annotations[addressPool].flatMap { $0.isEmpty ? nil : $0 }
        let sharing = annotations[allowSharedIP].flatMap { $0.isEmpty ? nil : $0 }
        return .request(
            ServiceRequest(
                namespace: namespace, name: name, labels: labels, namespaceLabels: namespaceLabels, families: families,
                requestedIPs: requested, requestedPool: pool, sharingKey: sharing, ports: ports, backendKey: backend),
            deprecatedAnnotations: deprecated.sorted())
    }

    /// The addresses in the Service's `status.loadBalancer.ingress`.
    public static func statusIPs(_ service: JSON) -> [IPAddress] {
        (service["status"]?["loadBalancer"]?["ingress"]?.arrayValue ?? []).compactMap {
            $0["ip"]?.stringValue.flatMap(IPAddress.init)
        }
    }
}
