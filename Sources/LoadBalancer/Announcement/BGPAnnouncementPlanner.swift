import BGP
import Election
import KubeAPI
import LoadBalancerConfig
import NetCore

/// Decides, from the cluster's objects, which routes one node announces to each BGP peer — MetalLB's BGP rules:
/// every node a BGPPeer selects peers; it announces a Service's addresses when a BGPAdvertisement covers their pool,
/// allows the node and targets the peer, and when the Service can be served from it (`externalTrafficPolicy: Local`:
/// a serving endpoint on this node; `Cluster`: one anywhere). Nodes labelled
/// `node.kubernetes.io/exclude-from-external-load-balancers` or with NetworkUnavailable announce nothing.
///
/// Pure: no I/O. The same prefix from several advertisements is announced once, with their communities together
/// and the LOCAL_PREF of the first (by name) that sets one.
public enum BGPAnnouncementPlanner {
    /// Routes per BGPPeer name, for the peers that select `node`.
    /// - Parameters:
    ///   - addresses: the node's own addresses, the next hops (per family) unless a peer's `sourceAddress` is of
    ///     that family; a family without a next hop is not announced.
    public static func plan(
        node: String, addresses: [IPAddress], services: [JSON], endpointSlices: [JSON], nodes: [JSON],
        configuration: Configuration, bgp: BGPConfiguration, loadBalancerClass: String?
    ) -> [String: [Route]] {
        announcements(
            node: node, addresses: addresses, services: services.compactMap(AnnouncedService.init),
            servingNodes: AnnouncementPlanner.servingNodes(endpointSlices), nodes: nodes,
            configuration: configuration, bgp: bgp, loadBalancerClass: loadBalancerClass
        ).routes
    }

    /// `plan`'s routes, and per Service (`namespace/name`) the names of the BGPPeers its addresses go to, from
    /// Services already read (`AnnouncedService`) and the nodes serving each (`AnnouncementPlanner.servingNodes`).
    public static func announcements(
        node: String, addresses: [IPAddress], services: [AnnouncedService], servingNodes serving: [String: Set<String>],
        nodes: [JSON], configuration: Configuration, bgp: BGPConfiguration, loadBalancerClass: String?
    ) -> (routes: [String: [Route]], services: [String: Set<String>]) {
        guard let me = nodes.first(where: { $0["metadata"]?["name"]?.stringValue == node }) else { return ([:], [:]) }
        let thisNode = AnnouncementPlanner.electionNode(me)
        let peers = bgp.peers.filter { $0.selects(nodeLabels: thisNode.labels) }
        var plan: [String: [Route]] = Dictionary(uniqueKeysWithValues: peers.map { ($0.name, []) })
        var announced: [String: Set<String>] = [:]
        guard !thisNode.networkUnavailable, thisNode.labels[L2Election.excludeLabel] == nil else {
            return (plan, announced)
        }
        for service in services {
            guard let pool = AnnouncementPlanner.pool(of: service, configuration, loadBalancerClass) else { continue }
            let servers = serving[service.key] ?? []
            guard service.localTrafficPolicy ? servers.contains(node) : !servers.isEmpty else { continue }
            let advertisements = bgp.advertisements.filter { $0.covers(pool) && $0.allows(nodeLabels: thisNode.labels) }
            for peer in peers {
                for advertisement in advertisements where advertisement.targets(peer: peer.name) {
                    for ip in service.ips {
                        guard let route = route(ip, advertisement, peer: peer, addresses: addresses) else { continue }
                        plan[peer.name, default: []].append(route)
                        announced[service.key, default: []].insert(peer.name)
                    }
                }
            }
        }
        return (plan.mapValues(merge), announced)
    }

    /// The route for `ip` under `advertisement`: aggregated to its length, with its attributes.
    static func route(_ ip: IPAddress, _ advertisement: BGPAdvertisement, peer: BGPPeerSpec, addresses: [IPAddress])
        -> Route?
    {
        let length = ip.family == .ipv4 ? advertisement.aggregationLength : advertisement.aggregationLengthV6
        guard let prefix = IPNetwork(address: ip, prefixLength: length) else { return nil }
        let nextHop =
            peer.sourceAddress.flatMap { $0.family == ip.family ? $0 : nil }
            ?? addresses.first { $0.family == ip.family }
        guard let nextHop else { return nil }
        var route = Route(prefix: prefix, nextHop: nextHop, localPreference: advertisement.localPreference)
        for community in advertisement.communities {
            switch community {
            case .standard(let value): route.communities.append(value)
            case .large(let a, let b, let c): route.largeCommunities.append(.init(a, b, c))
            }
        }
        return route
    }

    /// One route per prefix: communities together, the first LOCAL_PREF set (advertisements are sorted by name).
    static func merge(_ routes: [Route]) -> [Route] {
        var merged: [IPNetwork: Route] = [:]
        var order: [IPNetwork] = []
        for route in routes {
            guard var existing = merged[route.prefix] else {
                merged[route.prefix] = route
                order.append(route.prefix)
                continue
            }
            existing.localPreference = existing.localPreference ?? route.localPreference
            existing.communities = Array(Set(existing.communities + route.communities)).sorted()
            existing.largeCommunities = Array(Set(existing.largeCommunities + route.largeCommunities))
                .sorted { $0.description < $1.description }
            merged[route.prefix] = existing
        }
        return order.map { merged[$0]! }
    }
}
