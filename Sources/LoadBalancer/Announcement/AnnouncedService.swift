import KubeAPI
import NetCore

/// What announcing reads of a Service, decoded once when it arrives rather than on every decision: a few hundred
/// bytes instead of the Service's JSON tree.
///
/// A value; `init?(_:)` gives nil for a Service that is not of type LoadBalancer (the speakers never announce those).
public struct AnnouncedService: Sendable, Equatable {
    /// `namespace/name`.
    public var key: String
    public var labels: [String: String]
    public var loadBalancerClass: String?
    /// `externalTrafficPolicy: Local`: only nodes with a serving endpoint may announce.
    public var localTrafficPolicy: Bool
    /// The addresses in `status.loadBalancer.ingress`, in order.
    public var ips: [IPAddress]
    /// The `metallb.io/ip-allocated-from-pool` annotation.
    public var pool: String?

    public init(
        key: String, labels: [String: String] = [:], loadBalancerClass: String? = nil,
        localTrafficPolicy: Bool = false, ips: [IPAddress], pool: String? = nil
    ) {
        self.key = key
        self.labels = labels
        self.loadBalancerClass = loadBalancerClass
        self.localTrafficPolicy = localTrafficPolicy
        self.ips = ips
        self.pool = pool
    }

    /// The Service's announcing fields; nil unless `spec.type` is LoadBalancer.
    public init?(_ service: JSON) {
        let spec = service["spec"] ?? [:]
        guard spec["type"]?.stringValue == "LoadBalancer" else { return nil }
        self.init(
            key: service.namespacedName, labels: AnnouncementPlanner.stringMap(service["metadata"]?["labels"]),
            loadBalancerClass: spec["loadBalancerClass"]?.stringValue,
            localTrafficPolicy: spec["externalTrafficPolicy"]?.stringValue == "Local",
            ips: ServiceReading.statusIPs(service),
            pool: service["metadata"]?["annotations"]?[ServiceReading.allocatedFromPool]?.stringValue)
    }
}
