import KubeAPI

extension ClusterSnapshot {
    /// The kinds of object an explanation reads, by their Kubernetes kind.
    public enum Kind: String, Sendable, CaseIterable {
        case service = "Service"
        case namespace = "Namespace"
        case ipAddressPool = "IPAddressPool"
        case l2Advertisement = "L2Advertisement"
        case bgpAdvertisement = "BGPAdvertisement"
        case bgpPeer = "BGPPeer"
        case community = "Community"
        case bfdProfile = "BFDProfile"
        case endpointSlice = "EndpointSlice"
        case node = "Node"
        case serviceL2Status = "ServiceL2Status"
        case event = "Event"
    }

    /// Reads what explaining the Service `namespace/name` needs: every Service, Namespace and Node; the metallb.io
    /// configuration and ServiceL2Statuses in `configurationNamespace`; the Service's EndpointSlices; the Events
    /// about it. A kind the server does not serve reads as none.
    /// - Throws: the first error of `reader`.
    public static func gather(
        from reader: some ClusterReader, service namespace: String, name: String, configurationNamespace: String,
        loadBalancerClass: String?
    ) async throws -> ClusterSnapshot {
        func items(_ kind: Kind, in namespace: String? = nil, label: String? = nil) async throws -> [JSON] {
            try await reader.list(kind, namespace: namespace, labelSelector: label) ?? []
        }
        var snapshot = ClusterSnapshot(loadBalancerClass: loadBalancerClass)
        snapshot.services = try await items(.service)
        snapshot.namespaces = try await items(.namespace)
        snapshot.pools = try await items(.ipAddressPool, in: configurationNamespace)
        snapshot.l2Advertisements = try await items(.l2Advertisement, in: configurationNamespace)
        snapshot.bgpAdvertisements = try await items(.bgpAdvertisement, in: configurationNamespace)
        snapshot.bgpPeers = try await items(.bgpPeer, in: configurationNamespace)
        snapshot.communities = try await items(.community, in: configurationNamespace)
        snapshot.bfdProfiles = try await items(.bfdProfile, in: configurationNamespace)
        snapshot.endpointSlices = try await items(
            .endpointSlice, in: namespace, label: "kubernetes.io/service-name=\(name)")
        snapshot.nodes = try await items(.node)
        snapshot.serviceL2Statuses = try await items(.serviceL2Status, in: configurationNamespace)
        snapshot.events = try await items(.event, in: namespace).filter {
            $0["involvedObject"]?["kind"]?.stringValue == "Service"
                && $0["involvedObject"]?["name"]?.stringValue == name
        }
        return snapshot
    }
}
