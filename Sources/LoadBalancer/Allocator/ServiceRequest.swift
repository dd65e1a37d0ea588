import NetCore

/// What the allocator needs to know about one LoadBalancer Service.
public struct ServiceRequest: Sendable, Equatable {
    /// How many addresses of which families the Service wants (from `ipFamilyPolicy` and `ipFamilies`).
    public enum Families: Sendable, Equatable {
        /// One address of this family.
        case single(IPFamily)
        /// One of each family if one pool can give both, else one of the first family.
        case preferDual(primary: IPFamily)
        /// One of each family from the same pool, or nothing.
        case requireDual(primary: IPFamily)
    }

    /// A port the Service exposes (sharing needs them distinct).
    public struct Port: Sendable, Hashable, CustomStringConvertible {
        public var port: Int
        public var proto: String
        public init(_ port: Int, _ proto: String = "TCP") {
            self.port = port
            self.proto = proto
        }
        public var description: String { "\(port)/\(proto)" }
    }

    /// What decides whether the Service may share an address with another.
    public struct SharingTerms: Sendable, Equatable {
        public var sharingKey: String?
        public var backendKey: String
        public var ports: [Port]
    }

    /// `namespace/name`.
    public var key: String
    public var namespace: String
    public var labels: [String: String]
    public var namespaceLabels: [String: String]
    public var families: Families
    /// Addresses asked for (`spec.loadBalancerIP` or `metallb.io/loadBalancerIPs`).
    public var requestedIPs: [IPAddress]
    /// Pool asked for (`metallb.io/address-pool`).
    public var requestedPool: String?
    /// `metallb.io/allow-shared-ip`.
    public var sharingKey: String?
    public var ports: [Port]
    /// Services sharing an address must send it to the same backends: "" for externalTrafficPolicy Cluster,
    /// the selector for Local.
    public var backendKey: String

    /// The sharing key, backends and ports: a change to them can let another Service share this one's address.
    public var sharingTerms: SharingTerms {
        SharingTerms(sharingKey: sharingKey, backendKey: backendKey, ports: ports)
    }

    public init(
        namespace: String, name: String, labels: [String: String] = [:], namespaceLabels: [String: String] = [:],
        families: Families = .single(.ipv4), requestedIPs: [IPAddress] = [], requestedPool: String? = nil,
        sharingKey: String? = nil, ports: [Port] = [], backendKey: String = ""
    ) {
        self.key = "\(namespace)/\(name)"
        self.namespace = namespace
        self.labels = labels
        self.namespaceLabels = namespaceLabels
        self.families = families
        self.requestedIPs = requestedIPs
        self.requestedPool = requestedPool
        self.sharingKey = sharingKey
        self.ports = ports
        self.backendKey = backendKey
    }
}
