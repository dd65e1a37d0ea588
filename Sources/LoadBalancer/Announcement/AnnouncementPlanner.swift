import Election
import KubeAPI
import LoadBalancerConfig
import NetCore
import OrderedCollections

/// Decides, from the cluster's objects, what every LoadBalancer Service's Layer 2 election comes to — the same
/// answer on every speaker given the same objects and members.
///
/// Pure: no I/O; the speaker feeds it its informers' caches.
public enum AnnouncementPlanner {
    /// One Service's decision.
    public struct Decision: Sendable, Equatable {
        /// `namespace/name`.
        public var service: String
        public var ips: [IPAddress]
        public var outcome: L2Election.Outcome
    }

    /// Decisions for every Service of type LoadBalancer of `loadBalancerClass` (nil: class-less) that has addresses
    /// in its status from a configured pool, sorted by Service.
    public static func plan(
        services: [JSON], endpointSlices: [JSON], nodes: [JSON], configuration: Configuration, members: Set<String>,
        loadBalancerClass: String?
    ) -> [Decision] {
        plan(
            services: services.compactMap(AnnouncedService.init), servingNodes: servingNodes(endpointSlices),
            nodes: nodes, configuration: configuration, members: members, loadBalancerClass: loadBalancerClass)
    }

    /// `plan` from Services already read (`AnnouncedService`) and the nodes serving each (`servingNodes(_:)`).
    public static func plan(
        services: [AnnouncedService], servingNodes serving: [String: Set<String>], nodes: [JSON],
        configuration: Configuration, members: Set<String>, loadBalancerClass: String?
    ) -> [Decision] {
        let electionNodes = nodes.map(electionNode).sorted { $0.name < $1.name }
        var decisions: [Decision] = []
        for service in services {
            guard let pool = pool(of: service, configuration, loadBalancerClass) else { continue }
            let election = L2Election.Service(
                labels: service.labels, ips: service.ips, pool: pool,
                localTrafficPolicy: service.localTrafficPolicy, servingNodes: serving[service.key] ?? [])
            decisions.append(
                Decision(
                    service: service.key, ips: service.ips,
                    outcome: L2Election.elect(
                        election, nodes: electionNodes, members: members,
                        advertisements: configuration.l2Advertisements)))
        }
        return decisions.sorted { $0.service < $1.service }
    }

    /// The pool a LoadBalancer Service of `loadBalancerClass` (nil: class-less) with addresses in its status has
    /// them from (its `metallb.io/ip-allocated-from-pool` annotation, else the pool holding the first); nil for any
    /// other Service.
    public static func pool(of service: AnnouncedService, _ configuration: Configuration, _ loadBalancerClass: String?)
        -> AddressPool?
    {
        guard service.loadBalancerClass == loadBalancerClass, let first = service.ips.first else { return nil }
        return service.pool.flatMap(configuration.pool(named:)) ?? configuration.pool(containing: first)
    }

    /// Nodes with a serving endpoint (ready, unknown readiness, or serving while terminating) per Service.
    public static func servingNodes(_ slices: [JSON]) -> [String: Set<String>] {
        var out: [String: Set<String>] = [:]
        for slice in slices {
            guard let service = slice["metadata"]?["labels"]?["kubernetes.io/service-name"]?.stringValue else {
                continue
            }
            let key = "\(slice["metadata"]?["namespace"]?.stringValue ?? "")/\(service)"
            for endpoint in slice["endpoints"]?.arrayValue ?? [] {
                let conditions = endpoint["conditions"] ?? [:]
                let ready = conditions["ready"]?.boolValue ?? true
                let serving = conditions["serving"]?.boolValue ?? false
                guard ready || serving, let node = endpoint["nodeName"]?.stringValue else { continue }
                out[key, default: []].insert(node)
            }
        }
        return out
    }

    /// What the Layer 2 election reads of a Node: its name, labels and conditions.
    public static func electionNode(_ node: JSON) -> L2Election.Node {
        var networkUnavailable = false
        var ready = false
        for condition in node["status"]?["conditions"]?.arrayValue ?? [] {
            let status = condition["status"]?.stringValue
            switch condition["type"]?.stringValue {
            case "NetworkUnavailable": networkUnavailable = status == "True"
            case "Ready": ready = status == "True"
            default: break
            }
        }
        return L2Election.Node(
            name: node["metadata"]?["name"]?.stringValue ?? "", labels: stringMap(node["metadata"]?["labels"]),
            networkUnavailable: networkUnavailable, ready: ready)
    }

    /// A JSON object of strings as a dictionary (a non-string value reads as "").
    public static func stringMap(_ json: JSON?) -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in json?.objectValue ?? [:] { out[k] = v.stringValue ?? "" }
        return out
    }
}
