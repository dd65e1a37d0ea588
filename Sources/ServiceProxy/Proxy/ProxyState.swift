import KubeAPI
import NetCore

/// The proxy's plan for one address family, kept per Service (pure): replacing one Service's part (`update`) costs
/// that Service's objects and elements, not the cluster's. Parts are kept without their endpoints (10,000 Services
/// stay small): a changed Service's endpoint elements are all replaced.
///
/// Every service address and node port has one owner: the first Service that claims it keeps it, a later one
/// claiming the same key is told so by a `duplicateAddress` problem (until the owner lets go and the next whole
/// build, at resync, hands it over). Hairpin elements are counted, since several Services share an endpoint.
public struct ProxyState: Sendable {
    public let family: IPFamily
    /// This node's name (its endpoints are local).
    public let node: String?
    /// Each Service's part, by `namespace/name`, without endpoints.
    public private(set) var parts: [String: ProxyPlan] = [:]
    private var serviceOwners: [ProxyPlan.ServiceKey: String] = [:]
    private var nodePortOwners: [ProxyPlan.NodePortKey: String] = [:]
    private var hairpinUsers: [IPAddress: Int] = [:]

    /// An empty state.
    public init(family: IPFamily, node: String?) {
        self.family = family
        self.node = node
    }

    /// The state of every Service in `services` with its endpoints from `slices`, claiming keys in the order of
    /// the Services' `namespace/name`, and the whole plan (what a fresh table holds).
    public static func whole(services: [JSON], slices: [JSON], family: IPFamily, node: String?) -> (
        state: ProxyState, plan: ProxyPlan
    ) {
        var slicesByService: [String: [JSON]] = [:]
        for slice in slices {
            if let key = serviceKey(ofSlice: slice) { slicesByService[key, default: []].append(slice) }
        }
        var state = ProxyState(family: family, node: node)
        var plan = ProxyPlan(family: family)
        for service in services.sorted(by: { key($0) < key($1) }) {
            state.insert(key(service), service: service, slices: slicesByService[key(service)] ?? [], into: &plan)
        }
        return (state, plan)
    }

    /// For a whole build: `update`s Service `key` (not in the state yet) and adds its part, endpoints included, to
    /// `plan`.
    public mutating func insert(_ key: String, service: JSON?, slices: [JSON], into plan: inout ProxyPlan) {
        let (_, after) = update(key, service: service, slices: slices)
        plan.merge(after)
        plan.localEndpoints.formUnion(after.localEndpoints)
    }

    /// What the proxy reads of a Service (its informer caches only this: 10,000 Services stay small).
    public static let serviceShape: JSON = [
        "metadata": ["name": true, "namespace": true, "resourceVersion": true],
        "spec": [
            "type": true, "clusterIP": true, "clusterIPs": true, "externalIPs": true, "ports": true,
            "externalTrafficPolicy": true, "internalTrafficPolicy": true, "sessionAffinity": true,
            "sessionAffinityConfig": true, "loadBalancerSourceRanges": true, "healthCheckNodePort": true,
        ],
        "status": ["loadBalancer": true],
    ]

    /// What the proxy reads of an EndpointSlice.
    public static let sliceShape: JSON = [
        "metadata": ["name": true, "namespace": true, "resourceVersion": true, "labels": true],
        "addressType": true, "ports": true, "endpoints": ["addresses": true, "conditions": true, "nodeName": true],
    ]

    /// `namespace/name` of an object.
    public static func key(_ object: JSON) -> String {
        "\(object["metadata"]?["namespace"]?.stringValue ?? "")/\(object["metadata"]?["name"]?.stringValue ?? "")"
    }

    /// `namespace/service` of the Service an EndpointSlice belongs to (its `kubernetes.io/service-name` label).
    public static func serviceKey(ofSlice slice: JSON) -> String? {
        guard let name = slice["metadata"]?["labels"]?["kubernetes.io/service-name"]?.stringValue else { return nil }
        return "\(slice["metadata"]?["namespace"]?.stringValue ?? "")/\(name)"
    }

    /// Replaces the part of Service `key` (`service` nil: it is gone) and returns two plans whose element
    /// difference (`elementChanges`) is the kernel's change: the Service's old and new entries, with the hairpin
    /// addresses that lost their last user (`before`) and gained their first (`after`).
    public mutating func update(_ key: String, service: JSON?, slices: [JSON]) -> (before: ProxyPlan, after: ProxyPlan)
    {
        let old = parts[key] ?? ProxyPlan(family: family)
        var new =
            service.map { ProxyPlan(service: $0, slices: slices, family: family, node: node) }
            ?? ProxyPlan(family: family)
        let takenAddresses = Self.claim(key, old: old.services, new: new.services, owners: &serviceOwners) {
            "\($0.address) \($0.transport.rawValue) \($0.port)"
        }
        for (serviceKey, problem) in takenAddresses {
            new.remove(serviceKey)
            new.problems.append(problem)
        }
        let takenNodePorts = Self.claim(key, old: old.nodePorts, new: new.nodePorts, owners: &nodePortOwners) {
            "node port \($0.transport.rawValue) \($0.port)"
        }
        for (nodePort, problem) in takenNodePorts {
            new.remove(nodePort)
            new.problems.append(problem)
        }
        var lost: Set<IPAddress> = []
        var gained: Set<IPAddress> = []
        for address in old.localEndpoints.subtracting(new.localEndpoints) {
            let users = (hairpinUsers[address] ?? 1) - 1
            hairpinUsers[address] = users > 0 ? users : nil
            if users <= 0 { lost.insert(address) }
        }
        for address in new.localEndpoints.subtracting(old.localEndpoints) {
            hairpinUsers[address, default: 0] += 1
            if hairpinUsers[address] == 1 { gained.insert(address) }
        }
        // Kept without its endpoints (the larger part of a plan): a later change deletes every endpoint element the
        // part's targets imply and adds the new ones.
        var kept = new
        kept.endpoints = [:]
        kept.nodePortEndpoints = [:]
        let empty = new.services.isEmpty && new.nodePorts.isEmpty && new.problems.isEmpty
        parts[key] = empty && new.localEndpoints.isEmpty ? nil : kept
        var before = old
        for (serviceKey, target) in old.services {
            for index in 0..<target.count { before.endpoints[.init(key: serviceKey, index: index)] = .unknown }
        }
        for (nodePort, target) in old.nodePorts {
            for index in 0..<target.count { before.nodePortEndpoints[.init(key: nodePort, index: index)] = .unknown }
        }
        before.localEndpoints = lost
        var after = new
        after.localEndpoints = gained
        return (before, after)
    }

    /// Releases the keys of Service `key`'s old part and claims those of its new one: each key another Service
    /// holds comes back with its `duplicateAddress` problem (the caller removes it from the part).
    private static func claim<Key: Hashable & Comparable, Value>(
        _ key: String, old: [Key: Value], new: [Key: Value], owners: inout [Key: String], name: (Key) -> String
    ) -> [(key: Key, problem: ProxyProblem)] {
        for item in old.keys where owners[item] == key { owners[item] = nil }
        var taken: [(key: Key, problem: ProxyProblem)] = []
        for item in new.keys.sorted() {
            if let owner = owners[item] {
                taken.append((item, ProxyProblem(.duplicateAddress, object: key, "\(name(item)) belongs to \(owner)")))
            } else {
                owners[item] = key
            }
        }
        return taken
    }

    /// The endpoint addresses of this node that some Service uses (the `hairpin` set's elements).
    public var hairpinAddresses: Set<IPAddress> { Set(hairpinUsers.keys) }

    /// Everything skipped, every Service's.
    public var problems: [ProxyProblem] { parts.values.flatMap(\.problems) }
}
