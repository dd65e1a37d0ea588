import KubeAPI

/// The objects an explanation is computed from, as read from the API at one moment.
public struct ClusterSnapshot: Sendable {
    public var services: [JSON]
    public var namespaces: [JSON]
    public var pools: [JSON]
    public var l2Advertisements: [JSON]
    public var bgpAdvertisements: [JSON]
    public var bgpPeers: [JSON]
    public var communities: [JSON]
    public var bfdProfiles: [JSON]
    public var endpointSlices: [JSON]
    public var nodes: [JSON]
    public var serviceL2Statuses: [JSON]
    /// Events about the Service being explained.
    public var events: [JSON]
    /// The controller's and speakers' `--lb-class` (nil: class-less Services).
    public var loadBalancerClass: String?

    public init(
        services: [JSON] = [], namespaces: [JSON] = [], pools: [JSON] = [], l2Advertisements: [JSON] = [],
        bgpAdvertisements: [JSON] = [], bgpPeers: [JSON] = [], communities: [JSON] = [], bfdProfiles: [JSON] = [],
        endpointSlices: [JSON] = [], nodes: [JSON] = [],
        serviceL2Statuses: [JSON] = [], events: [JSON] = [], loadBalancerClass: String? = nil
    ) {
        self.services = services
        self.namespaces = namespaces
        self.pools = pools
        self.l2Advertisements = l2Advertisements
        self.bgpAdvertisements = bgpAdvertisements
        self.bgpPeers = bgpPeers
        self.communities = communities
        self.bfdProfiles = bfdProfiles
        self.endpointSlices = endpointSlices
        self.nodes = nodes
        self.serviceL2Statuses = serviceL2Statuses
        self.events = events
        self.loadBalancerClass = loadBalancerClass
    }
}
