import Announcement
import Election
import KubeAPI
import LoadBalancerConfig
import NetCore
import Testing

/// The speaker's reading of cluster objects into elections: which Services count, where their endpoints serve,
/// which nodes are candidates.
@Suite struct AnnouncementPlannerTests {
    static let configuration = try! Configuration.parse(
        pools: [
            [
                "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
                "metadata": ["name": "lan", "namespace": "pylon-system"],
                "spec": ["addresses": ["192.0.2.100-192.0.2.200", "2001:db8::100-2001:db8::1ff"]],
            ]
        ],
        l2Advertisements: [
            [
                "apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
                "metadata": ["name": "lan", "namespace": "pylon-system"], "spec": ["ipAddressPools": ["lan"]],
            ]
        ]
    ).get()

    static func node(_ name: String, ready: Bool = true) -> JSON {
        [
            "metadata": ["name": .string(name)],
            "status": ["conditions": [["type": "Ready", "status": ready ? "True" : "False"]]],
        ]
    }

    static func service(
        _ name: String, ip: String?, type: String = "LoadBalancer", local: Bool = false, lbClass: String? = nil
    ) -> JSON {
        var spec: JSON = ["type": .string(type), "externalTrafficPolicy": local ? "Local" : "Cluster"]
        if let lbClass { spec["loadBalancerClass"] = .string(lbClass) }
        var object: JSON = ["metadata": ["name": .string(name), "namespace": "default"], "spec": spec]
        if let ip { object["status"] = ["loadBalancer": ["ingress": [["ip": .string(ip)]]]] }
        return object
    }

    static func slice(_ service: String, nodes: [String], ready: Bool = true, serving: Bool? = nil) -> JSON {
        var conditions: JSON = ["ready": .bool(ready)]
        if let serving { conditions["serving"] = .bool(serving) }
        return [
            "metadata": ["namespace": "default", "labels": ["kubernetes.io/service-name": .string(service)]],
            "endpoints": .array(nodes.map { ["nodeName": .string($0), "conditions": conditions] }),
        ]
    }

    static let nodes = [node("node-1"), node("node-2"), node("node-3")]
    static let members: Set<String> = ["node-1", "node-2", "node-3"]

    @Test func onlyAssignedLoadBalancersOfOurClassAreElected() {
        let decisions = AnnouncementPlanner.plan(
            services: [
                Self.service("web", ip: "192.0.2.100"), Self.service("pending", ip: nil),
                Self.service("cluster", ip: "192.0.2.101", type: "ClusterIP"),
                Self.service("other", ip: "192.0.2.102", lbClass: "example.com/other"),
                Self.service("outside", ip: "198.51.100.7"),
            ],
            endpointSlices: [Self.slice("web", nodes: ["node-3"])], nodes: Self.nodes,
            configuration: Self.configuration, members: Self.members, loadBalancerClass: nil)
        #expect(decisions.map(\.service) == ["default/web"])
        guard case .announce(let node, _, let candidates, _) = decisions.first?.outcome else {
            Issue.record("no announcement: \(decisions)")
            return
        }
        #expect(candidates == ["node-1", "node-2", "node-3"])
        // The same winner as the election computes from the same inputs.
        let expected = L2Election.elect(
            .init(
                ips: [IPAddress("192.0.2.100")!], pool: Self.configuration.pools[0], servingNodes: ["node-3"]),
            nodes: Self.nodes.map { L2Election.Node(name: $0["metadata"]!["name"]!.stringValue!) },
            members: Self.members, advertisements: Self.configuration.l2Advertisements)
        guard case .announce(let expectedNode, _, _, _) = expected else {
            Issue.record("election: \(expected)")
            return
        }
        #expect(node == expectedNode)
    }

    @Test func endpointsDecideLocalPolicyAndWhetherAnyoneAnnounces() {
        let decisions = AnnouncementPlanner.plan(
            services: [
                Self.service("local", ip: "192.0.2.110", local: true), Self.service("none", ip: "192.0.2.111"),
                Self.service("terminating", ip: "192.0.2.112", local: true),
                Self.service("v6", ip: "2001:db8::100"),
            ],
            endpointSlices: [
                Self.slice("local", nodes: ["node-2"]), Self.slice("none", nodes: ["node-1"], ready: false),
                Self.slice("terminating", nodes: ["node-1"], ready: false, serving: true),
                Self.slice("v6", nodes: ["node-1"]),
            ],
            nodes: Self.nodes, configuration: Self.configuration, members: Self.members, loadBalancerClass: nil)
        let byName = Dictionary(uniqueKeysWithValues: decisions.map { ($0.service, $0.outcome) })
        if case .announce(let node, _, _, _) = byName["default/local"] {
            #expect(node == "node-2")
        } else {
            Issue.record("local: \(String(describing: byName["default/local"]))")
        }
        #expect(byName["default/none"] == .noServingEndpoint)
        if case .announce(let node, _, _, _) = byName["default/terminating"] {
            #expect(node == "node-1")
        } else {
            Issue.record("terminating but serving counts: \(String(describing: byName["default/terminating"]))")
        }
        if case .announce = byName["default/v6"] {
        } else {
            Issue.record("IPv6: \(String(describing: byName["default/v6"]))")
        }
    }

    @Test func notReadyNodesAndDeadSpeakersAreNotCandidates() {
        let decisions = AnnouncementPlanner.plan(
            services: [Self.service("web", ip: "192.0.2.100")],
            endpointSlices: [Self.slice("web", nodes: ["node-1", "node-2", "node-3"])],
            nodes: [Self.node("node-1", ready: false), Self.node("node-2"), Self.node("node-3")],
            configuration: Self.configuration, members: ["node-1", "node-2"], loadBalancerClass: nil)
        guard case .announce(let node, _, let candidates, let rejected) = decisions.first?.outcome else {
            Issue.record("\(decisions)")
            return
        }
        #expect(node == "node-2" && candidates == ["node-2"])
        #expect(rejected == ["node-1": .notReady, "node-3": .notAMember])
    }
}
