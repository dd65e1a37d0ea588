import NetCore

extension ProxyPlan {
    /// A UDP service address (nil: a node port, any address) and port whose translated flows must go where the plan
    /// sends them: a tracked flow translated to an endpoint not in `endpoints` is stale (UDP has no connection end,
    /// so without its entry removed it would keep going to an endpoint that left).
    public struct StaleFlowCheck: Sendable, Hashable {
        public struct Endpoint: Sendable, Hashable {
            public var address: IPAddress
            public var port: UInt16

            public init(address: IPAddress, port: UInt16) {
                self.address = address
                self.port = port
            }
        }

        public var destination: IPAddress?
        public var port: UInt16
        public var endpoints: Set<Endpoint>
    }

    /// The checks for the UDP service keys and node ports of `old` and this plan (one Service's parts): each with the
    /// endpoints this plan keeps.
    public func staleFlowChecks(from old: ProxyPlan) -> [StaleFlowCheck] {
        var checks: [StaleFlowCheck] = []
        for key in Set(old.services.keys).union(services.keys).sorted() where key.transport == .udp {
            var kept: Set<StaleFlowCheck.Endpoint> = []
            for index in 0..<(services[key]?.count ?? 0) {
                if let backend = endpoints[Indexed(key: key, index: index)] {
                    kept.insert(StaleFlowCheck.Endpoint(address: backend.address, port: backend.port))
                }
            }
            checks.append(StaleFlowCheck(destination: key.address, port: key.port, endpoints: kept))
        }
        for key in Set(old.nodePorts.keys).union(nodePorts.keys).sorted() where key.transport == .udp {
            var kept: Set<StaleFlowCheck.Endpoint> = []
            for index in 0..<(nodePorts[key]?.count ?? 0) {
                if let backend = nodePortEndpoints[Indexed(key: key, index: index)] {
                    kept.insert(StaleFlowCheck.Endpoint(address: backend.address, port: backend.port))
                }
            }
            checks.append(StaleFlowCheck(destination: nil, port: key.port, endpoints: kept))
        }
        return checks
    }
}
