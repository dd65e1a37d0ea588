import Announcement
import BGP
import KubeAPI
import LoadBalancerConfig
import NetCore
import Testing

/// Which routes a node announces to which BGP peer: MetalLB's BGP rules over the cluster's objects (pure).
@Suite struct BGPAnnouncementPlannerTests {
    typealias Fixtures = AnnouncementPlannerTests

    static func bgp(peers: [JSON], advertisements: [JSON]) throws -> BGPConfiguration {
        try BGPConfiguration.parse(
            peers: peers, advertisements: advertisements, communities: [], bfdProfiles: [],
            pools: Fixtures.configuration.pools
        ).get()
    }

    static func peer(_ name: String, nodeSelectors: JSON = []) -> JSON {
        [
            "metadata": ["name": .string(name)],
            "spec": [
                "myASN": 64_512, "peerASN": 64_500, "peerAddress": .string(name == "a" ? "192.0.2.1" : "192.0.2.2"),
                "nodeSelectors": nodeSelectors,
            ],
        ]
    }

    static func advertisement(_ name: String, _ spec: JSON) -> JSON {
        ["metadata": ["name": .string(name)], "spec": spec]
    }

    static let addresses = [IPAddress("192.0.2.11")!, IPAddress("2001:db8::b")!]

    static func plan(
        node: String = "node-1", services: [JSON], slices: [JSON], nodes: [JSON] = Fixtures.nodes,
        bgp: BGPConfiguration
    ) -> [String: [Route]] {
        BGPAnnouncementPlanner.plan(
            node: node, addresses: addresses, services: services, endpointSlices: slices, nodes: nodes,
            configuration: Fixtures.configuration, bgp: bgp, loadBalancerClass: nil)
    }

    static func prefixes(_ routes: [Route]?) -> [String] {
        (routes ?? []).map { "\($0.prefix.address)/\($0.prefix.prefixLength)" }
    }

    @Test func clusterTrafficIsAnnouncedByEveryNodeAndLocalOnlyWhereItIsServed() throws {
        let bgp = try Self.bgp(peers: [Self.peer("a")], advertisements: [Self.advertisement("all", [:])])
        let services = [
            Fixtures.service("cluster", ip: "192.0.2.100"), Fixtures.service("local", ip: "192.0.2.101", local: true),
            Fixtures.service("nobody", ip: "192.0.2.102"),
        ]
        let slices = [Fixtures.slice("cluster", nodes: ["node-2"]), Fixtures.slice("local", nodes: ["node-2"])]
        #expect(
            Self.prefixes(Self.plan(node: "node-1", services: services, slices: slices, bgp: bgp)["a"]) == [
                "192.0.2.100/32"
            ])
        #expect(
            Self.prefixes(Self.plan(node: "node-2", services: services, slices: slices, bgp: bgp)["a"]) == [
                "192.0.2.100/32", "192.0.2.101/32",
            ])
    }

    @Test func advertisementsAggregateTagAndTargetPeersAndNodes() throws {
        let bgp = try Self.bgp(
            peers: [Self.peer("a"), Self.peer("b")],
            advertisements: [
                Self.advertisement(
                    "aggregate",
                    ["aggregationLength": 24, "localPref": 300, "communities": ["64512:100"], "peers": ["a"]]),
                Self.advertisement("tagged", ["communities": ["64512:200", "large:64512:1:2"], "peers": ["a"]]),
                Self.advertisement("rack-b", ["nodeSelectors": [["matchLabels": ["rack": "b"]]]]),
            ])
        let plan = Self.plan(
            services: [Fixtures.service("web", ip: "192.0.2.100")], slices: [Fixtures.slice("web", nodes: ["node-1"])],
            bgp: bgp)
        let routes = try #require(plan["a"])
        #expect(Self.prefixes(routes) == ["192.0.2.0/24", "192.0.2.100/32"])
        #expect(routes[0].localPreference == 300 && routes[0].communities == [64_512 << 16 | 100])
        #expect(routes[1].communities == [64_512 << 16 | 200] && routes[1].largeCommunities == [.init(64_512, 1, 2)])
        #expect(routes.allSatisfy { $0.nextHop == IPAddress("192.0.2.11")! })
        #expect(plan["b"] == [], "peer b gets only rack-b's advertisement, which does not allow node-1")
    }

    @Test func ipv6UsesTheNodesIPv6AddressAndPeersSelectNodes() throws {
        let bgp = try Self.bgp(
            peers: [Self.peer("a"), Self.peer("b", nodeSelectors: [["matchLabels": ["rack": "b"]]])],
            advertisements: [Self.advertisement("all", [:])])
        let plan = Self.plan(
            services: [Fixtures.service("web", ip: "2001:db8::100")],
            slices: [Fixtures.slice("web", nodes: ["node-3"])],
            bgp: bgp)
        #expect(plan.keys.sorted() == ["a"], "node-1 is not in rack b")
        #expect(plan["a"]?.first?.nextHop == IPAddress("2001:db8::b")!)
        #expect(Self.prefixes(plan["a"]) == ["2001:db8::100/128"])
    }

    @Test func excludedNodesAnnounceNothing() throws {
        let bgp = try Self.bgp(peers: [Self.peer("a")], advertisements: [Self.advertisement("all", [:])])
        var excluded = Fixtures.node("node-1")
        excluded["metadata"]?["labels"] = ["node.kubernetes.io/exclude-from-external-load-balancers": ""]
        let plan = Self.plan(
            services: [Fixtures.service("web", ip: "192.0.2.100")], slices: [Fixtures.slice("web", nodes: ["node-1"])],
            nodes: [excluded], bgp: bgp)
        #expect(plan == ["a": []], "the session stays, with nothing announced")
    }
}
