import KubeAPI

/// An `L2Advertisement` (metallb.io/v1beta1) after validation.
public struct L2Advertisement: Sendable, Equatable {
    public var name: String
    /// Pools by name; together with `poolSelectors`, empty means every pool.
    public var pools: [String]
    public var poolSelectors: [LabelSelector]
    /// Nodes allowed to announce; empty means every node.
    public var nodeSelectors: [LabelSelector]
    /// Services this advertisement applies to; empty means every Service.
    public var serviceSelectors: [LabelSelector]
    /// Interfaces to announce from; empty means every eligible interface.
    public var interfaces: [String]

    public init(
        name: String, pools: [String] = [], poolSelectors: [LabelSelector] = [], nodeSelectors: [LabelSelector] = [],
        serviceSelectors: [LabelSelector] = [], interfaces: [String] = []
    ) {
        self.name = name
        self.pools = pools
        self.poolSelectors = poolSelectors
        self.nodeSelectors = nodeSelectors
        self.serviceSelectors = serviceSelectors
        self.interfaces = interfaces
    }

    /// Whether this advertisement covers `pool`.
    public func covers(_ pool: AddressPool) -> Bool {
        if pools.isEmpty && poolSelectors.isEmpty { return true }
        return pools.contains(pool.name) || poolSelectors.contains { $0.matches(pool.labels) }
    }

    /// Whether this advertisement applies to a Service with `labels`.
    public func applies(toServiceLabels labels: [String: String]) -> Bool {
        serviceSelectors.isEmpty || serviceSelectors.contains { $0.matches(labels) }
    }

    /// Whether a node with `labels` may announce for this advertisement.
    public func allows(nodeLabels labels: [String: String]) -> Bool {
        nodeSelectors.isEmpty || nodeSelectors.contains { $0.matches(labels) }
    }
}
