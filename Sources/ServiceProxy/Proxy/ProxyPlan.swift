import KubeAPI
import NetCore

/// What the proxy's maps hold for one address family (pure): every Service address, protocol and port with where
/// its connections go — `pick(n)`, a random one of its n usable endpoints (`Backend.usable`), `pickExternal(n)` the
/// same for traffic from outside the cluster (load balancer and external addresses, node ports: masqueraded, as
/// kube-proxy does for `externalTrafficPolicy: Cluster`), or `reject` when it has none — and each endpoint by its
/// index. Node ports are keyed by protocol and port alone (any local address of the node). Local traffic
/// policies (`externalTrafficPolicy` for external addresses and node ports, `internalTrafficPolicy` for cluster
/// addresses) keep traffic on this node's endpoints and drop it where there are none, as kube-proxy does.
///
/// A plan is built per Service (`init(service:slices:family:node:)`) and kept per Service by `ProxyState`;
/// `ProxyPlan+Changes` turns two plans into the element changes between them, so one endpoint's change touches one
/// Service's elements only.
public struct ProxyPlan: Sendable, Equatable {
    public struct ServiceKey: Sendable, Hashable, Comparable {
        public var address: IPAddress
        public var transport: ServicePort.TransportProtocol
        public var port: UInt16

        public static func < (a: ServiceKey, b: ServiceKey) -> Bool {
            (a.address, a.transport.number, a.port) < (b.address, b.transport.number, b.port)
        }
    }

    public struct NodePortKey: Sendable, Hashable, Comparable {
        public var transport: ServicePort.TransportProtocol
        public var port: UInt16

        public static func < (a: NodePortKey, b: NodePortKey) -> Bool {
            (a.transport.number, a.port) < (b.transport.number, b.port)
        }
    }

    /// A key with the index of one of its endpoints (the random number's value).
    public struct Indexed<Key: Sendable & Hashable & Comparable>: Sendable, Hashable, Comparable {
        public var key: Key
        public var index: Int

        public static func < (a: Indexed, b: Indexed) -> Bool { (a.key, a.index) < (b.key, b.index) }
    }

    public enum Target: Sendable, Hashable {
        case pick(Int)
        case pickExternal(Int)
        case reject
        /// External traffic of an `externalTrafficPolicy: Local` Service on a node without a local endpoint:
        /// dropped, as kube-proxy drops it (the client's retry goes to a node that has one).
        case drop

        /// How many endpoints it picks from.
        public var count: Int {
            switch self {
            case .pick(let n), .pickExternal(let n): n
            case .reject, .drop: 0
            }
        }
    }

    /// What an affinity chain needs: the endpoints it picks from and how long (seconds) a client keeps one.
    public struct Affinity: Sendable, Hashable {
        public var endpoints: [Backend]
        public var timeout: UInt64
    }

    public var family: IPFamily
    public var services: [ServiceKey: Target] = [:]
    public var endpoints: [Indexed<ServiceKey>: Backend] = [:]
    public var nodePorts: [NodePortKey: Target] = [:]
    public var nodePortEndpoints: [Indexed<NodePortKey>: Backend] = [:]
    /// Endpoints on this node: a pod reaching itself through its Service is masqueraded (`hairpin`).
    public var localEndpoints: Set<IPAddress> = []
    /// Load balancer addresses of Services with `loadBalancerSourceRanges`: each key's firewall chain.
    public var firewall: [ServiceKey: String] = [:]
    /// Firewall chains: the source ranges of this family each lets through (everything else is dropped).
    public var firewallChains: [String: [IPNetwork]] = [:]
    /// Service addresses with `sessionAffinity: ClientIP`: each key's affinity chain (and map, of the same name).
    public var affinity: [ServiceKey: String] = [:]
    /// Affinity chains: the endpoints they pick from and the timeout.
    public var affinityChains: [String: Affinity] = [:]
    /// A Service's part only: its `healthCheckNodePort` (a LoadBalancer Service with `externalTrafficPolicy:
    /// Local`), where the proxy answers with the count of `localEndpoints`.
    public var healthCheckNodePort: UInt16?
    public var problems: [ProxyProblem] = []

    /// An empty plan (nothing routed).
    public init(family: IPFamily) {
        self.family = family
    }

    /// The plan of every Service in `serviceObjects` with their endpoints from `slices` (`ProxyState.whole`).
    ///
    /// - Parameter node: this node's name: `externalTrafficPolicy: Local` keeps external traffic on its endpoints.
    public init(services serviceObjects: [JSON], slices: [JSON], family: IPFamily, node: String? = nil) {
        self = ProxyState.whole(services: serviceObjects, slices: slices, family: family, node: node).plan
    }

    /// The part of one Service: its addresses and node ports with their endpoints from `slices` (the Service's own).
    public init(service: JSON, slices: [JSON], family: IPFamily, node: String?) {
        self.family = family
        let (backends, endpointProblems) = Backend.parse(slices, family: family)
        let (ports, portProblems) = ServicePort.parse(service, family: family)
        problems = portProblems + endpointProblems
        let spec = service["spec"]
        if spec?["type"]?.stringValue == "LoadBalancer", spec?["externalTrafficPolicy"]?.stringValue == "Local",
            let port = spec?["healthCheckNodePort"]?.intValue, (1...65_535).contains(port)
        {
            healthCheckNodePort = UInt16(port)
        }
        for port in ports {
            let usable = Backend.usable(backends[port.service]?[port.name] ?? [])
            let local = usable.filter { node != nil && $0.node == node }
            localEndpoints.formUnion(local.map(\.address))
            // External traffic of a Local Service goes to this node's endpoints only, or nowhere.
            let external = port.externalLocal ? local : usable
            let externalFallback: Target = port.externalLocal && !usable.isEmpty ? .drop : .reject
            func route(_ address: IPAddress, to chosen: [Backend], target: (Int) -> Target, otherwise: Target) {
                let key = ServiceKey(address: address, transport: port.transport, port: port.port)
                guard !chosen.isEmpty else {
                    services[key] = otherwise
                    return
                }
                services[key] = target(chosen.count)
                for (index, backend) in chosen.enumerated() { endpoints[Indexed(key: key, index: index)] = backend }
                if let timeout = port.affinityTimeout {
                    let chain = ProxyMaps.affinityChain(key: key, endpoints: chosen)
                    affinity[key] = chain
                    affinityChains[chain] = Affinity(endpoints: chosen, timeout: timeout)
                }
            }
            // Cluster traffic of an internal-Local Service stays on this node too (dropped where it has none).
            let clusterBound = port.internalLocal ? local : usable
            let internalFallback: Target = port.internalLocal && !usable.isEmpty ? .drop : .reject
            for address in port.clusterAddresses {
                route(address, to: clusterBound, target: { .pick($0) }, otherwise: internalFallback)
            }
            for address in port.externalAddresses {
                route(address, to: external, target: { .pickExternal($0) }, otherwise: externalFallback)
            }
            if let ranges = port.sourceRanges {
                let chain = ProxyMaps.firewallChain(service: port.service, ranges: ranges)
                firewallChains[chain] = ranges
                for address in port.loadBalancerAddresses {
                    firewall[ServiceKey(address: address, transport: port.transport, port: port.port)] = chain
                }
            }
            if let nodePort = port.nodePort {
                let key = NodePortKey(transport: port.transport, port: nodePort)
                nodePorts[key] = external.isEmpty ? externalFallback : .pickExternal(external.count)
                for (index, backend) in external.enumerated() {
                    nodePortEndpoints[Indexed(key: key, index: index)] = backend
                }
            }
        }
    }

    /// Removes a service address and its endpoints (another Service holds it).
    mutating func remove(_ key: ServiceKey) {
        guard let target = services.removeValue(forKey: key) else { return }
        for index in 0..<target.count { endpoints[Indexed(key: key, index: index)] = nil }
        firewall[key] = nil
        if let chain = affinity.removeValue(forKey: key) { affinityChains[chain] = nil }
    }

    /// Removes a node port and its endpoints (another Service holds it).
    mutating func remove(_ key: NodePortKey) {
        guard let target = nodePorts.removeValue(forKey: key) else { return }
        for index in 0..<target.count { nodePortEndpoints[Indexed(key: key, index: index)] = nil }
    }

    /// Adds `part`'s entries (their keys are not in this plan: `ProxyState` gives every key one owner).
    mutating func merge(_ part: ProxyPlan) {
        services.merge(part.services) { _, new in new }
        endpoints.merge(part.endpoints) { _, new in new }
        nodePorts.merge(part.nodePorts) { _, new in new }
        nodePortEndpoints.merge(part.nodePortEndpoints) { _, new in new }
        firewall.merge(part.firewall) { _, new in new }
        firewallChains.merge(part.firewallChains) { _, new in new }
        affinity.merge(part.affinity) { _, new in new }
        affinityChains.merge(part.affinityChains) { _, new in new }
        problems += part.problems
    }

    /// The endpoint counts the plan's targets use (a pick chain each).
    public var pickCounts: Set<Int> {
        Set(services.values.map(\.count) + nodePorts.values.map(\.count)).subtracting([0])
    }
}
