import Explain
import KubeAPI
import Testing

/// `pylon explain service`: each cause of a pending or unannounced Service is named, and a healthy one says where
/// it is announced.
@Suite struct ServiceExplainerTests {
    static func pool(_ name: String, _ addresses: [String], autoAssign: Bool = true) -> JSON {
        [
            "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
            "metadata": ["name": .string(name), "namespace": "pylon-system"],
            "spec": ["addresses": .array(addresses.map { .string($0) }), "autoAssign": .bool(autoAssign)],
        ]
    }

    static let advertisement: JSON = [
        "apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
        "metadata": ["name": "all", "namespace": "pylon-system"],
    ]

    static func service(
        _ name: String, ips: [String] = [], annotations: JSON = [:], type: String = "LoadBalancer",
        local: Bool = false, created: String = "2026-11-26T00:00:00Z", lbClass: String? = nil
    ) -> JSON {
        var spec: JSON = [
            "type": .string(type), "ports": [["port": 80, "protocol": "TCP"]], "selector": ["app": .string(name)],
            "externalTrafficPolicy": local ? "Local" : "Cluster",
        ]
        if let lbClass { spec["loadBalancerClass"] = .string(lbClass) }
        return [
            "apiVersion": "v1", "kind": "Service",
            "metadata": [
                "name": .string(name), "namespace": "default", "annotations": annotations,
                "creationTimestamp": .string(created),
            ],
            "spec": spec,
            "status": ["loadBalancer": ["ingress": .array(ips.map { ["ip": .string($0)] })]],
        ]
    }

    static func node(_ name: String, ready: Bool = true, labels: JSON = [:]) -> JSON {
        [
            "metadata": ["name": .string(name), "labels": labels],
            "status": ["conditions": [["type": "Ready", "status": ready ? "True" : "False"]]],
        ]
    }

    static func endpoints(_ service: String, on nodes: [String]) -> JSON {
        [
            "metadata": [
                "name": .string(service), "namespace": "default",
                "labels": ["kubernetes.io/service-name": .string(service)],
            ],
            "endpoints": .array(
                nodes.map { ["addresses": ["10.42.0.1"], "nodeName": .string($0), "conditions": ["ready": true]] }),
        ]
    }

    static func l2Status(_ service: String, node: String, macs: String? = nil) -> JSON {
        var metadata: JSON = ["name": .string("l2-\(node)")]
        if let macs { metadata["annotations"] = ["pylon.io/interface-macs": .string(macs)] }
        return [
            "metadata": metadata,
            "status": [
                "node": .string(node), "serviceName": .string(service), "serviceNamespace": "default",
                "interfaces": [["name": "eth0"]],
            ],
        ]
    }

    /// A small cluster: pool `lan` (192.0.2.100-101), an L2Advertisement, nodes a, b, c.
    static func cluster(_ services: [JSON], pools: [JSON]? = nil, advertisements: [JSON]? = nil) -> ClusterSnapshot {
        ClusterSnapshot(
            services: services, namespaces: [["metadata": ["name": "default"]]],
            pools: pools ?? [pool("lan", ["192.0.2.100-192.0.2.101"])],
            l2Advertisements: advertisements ?? [advertisement],
            nodes: [node("a"), node("b"), node("c")])
    }

    static func explain(_ name: String, _ snapshot: ClusterSnapshot) throws -> Explanation {
        try #require(ServiceExplainer.explain(namespace: "default", name: name, in: snapshot))
    }

    @Test func aHealthyServiceNamesItsAddressPoolNodeAndMAC() throws {
        var snapshot = Self.cluster([Self.service("web", ips: ["192.0.2.100"])])
        snapshot.endpointSlices = [Self.endpoints("web", on: ["a", "b"])]
        // Which node wins is the election's business: exactly one announcer is the expected one.
        var expected = 0
        for node in ["a", "b", "c"] {
            snapshot.serviceL2Statuses = [Self.l2Status("web", node: node, macs: "eth0=02:00:00:00:00:0\(node.count)")]
            let explanation = try Self.explain("web", snapshot)
            if explanation.findings.contains(where: { $0.topic == "layer2" && $0.level == .ok }) {
                expected += 1
                #expect(explanation.healthy)
                #expect(explanation.summary == "192.0.2.100 from pool lan, announced by \(node)")
                #expect(explanation.announcedBy == node && explanation.interfaces == ["eth0"])
                #expect(explanation.macs == ["eth0": "02:00:00:00:00:01"])
                #expect(explanation.pool == "lan" && explanation.addresses == ["192.0.2.100"])
                #expect(explanation.pools == [.init(name: "lan", admits: true, detail: "IPv4 1/2 in use")])
                #expect(
                    explanation.nodes.map(\.name) == ["a", "b", "c"] && explanation.nodes.allSatisfy { $0.candidate })
            } else {
                // Another node than the elected one announces: still serving, but reported.
                #expect(explanation.healthy)
                #expect(explanation.findings.contains { $0.text.contains("is probably not a member") })
            }
        }
        #expect(expected == 1)
    }

    @Test(arguments: [
        ("not a LoadBalancer", "is of type ClusterIP"),
        ("another class", "spec.loadBalancerClass is \"other\" but Pylon handles class none"),
        ("no pools", "no IPAddressPool is configured"),
        ("pool not auto-assigning", "pending: no pool matches the service: lan: autoAssign is false"),
        ("exhausted", "pending: no available IPs: pool(s) lan exhausted"),
        ("requested taken", "pending: requested IP 192.0.2.100 is already assigned to default/first"),
        ("requested outside", "pending: requested IP 203.0.113.9 is not in any pool"),
        ("unknown pool", "pending: pool \"gold\" requested by metallb.io/address-pool does not exist"),
        (
            "sharing conflict",
            "pending: IP 192.0.2.100 cannot be shared with default/first: port 80/TCP is used by both"
        ),
        ("both requests", "spec.loadBalancerIP and the metallb.io/loadBalancerIPs annotation cannot both be set"),
        ("invalid configuration", "the metallb.io configuration is invalid"),
        (
            "controller down",
            "pending: an address is free for it (192.0.2.100 from pool lan), but none is in its status"
        ),
    ])
    func eachCauseOfAPendingServiceIsNamed(_ scenario: String, _ expected: String) throws {
        let first = Self.service(
            "first", ips: ["192.0.2.100"], annotations: ["metallb.io/allow-shared-ip": "k"],
            created: "2026-11-25T00:00:00Z")
        let second = Self.service("second", ips: ["192.0.2.101"], created: "2026-11-25T00:00:01Z")
        var snapshot: ClusterSnapshot
        switch scenario {
        case "not a LoadBalancer": snapshot = Self.cluster([Self.service("web", type: "ClusterIP")])
        case "another class": snapshot = Self.cluster([Self.service("web", lbClass: "other")])
        case "no pools": snapshot = Self.cluster([Self.service("web")], pools: [])
        case "pool not auto-assigning":
            snapshot = Self.cluster(
                [Self.service("web")], pools: [Self.pool("lan", ["192.0.2.100/32"], autoAssign: false)])
        case "exhausted": snapshot = Self.cluster([first, second, Self.service("web")])
        case "requested taken":
            snapshot = Self.cluster([
                first, Self.service("web", annotations: ["metallb.io/loadBalancerIPs": "192.0.2.100"]),
            ])
        case "requested outside":
            snapshot = Self.cluster([Self.service("web", annotations: ["metallb.io/loadBalancerIPs": "203.0.113.9"])])
        case "unknown pool":
            snapshot = Self.cluster([Self.service("web", annotations: ["metallb.io/address-pool": "gold"])])
        case "sharing conflict":
            snapshot = Self.cluster([
                first,
                Self.service(
                    "web",
                    annotations: ["metallb.io/loadBalancerIPs": "192.0.2.100", "metallb.io/allow-shared-ip": "k"]),
            ])
        case "both requests":
            var web = Self.service("web", annotations: ["metallb.io/loadBalancerIPs": "192.0.2.100"])
            web["spec"]?["loadBalancerIP"] = "192.0.2.101"
            snapshot = Self.cluster([web])
        case "invalid configuration":
            snapshot = Self.cluster([Self.service("web")], pools: [Self.pool("lan", ["not-a-range"])])
        default:
            snapshot = Self.cluster([Self.service("web")])
        }
        let explanation = try Self.explain("web", snapshot)
        #expect(!explanation.healthy)
        #expect(explanation.summary.contains(expected), "\(scenario): \(explanation.summary)")
        #expect(explanation.findings.contains { $0.level == .problem }, "\(scenario)")
    }

    @Test func aPoolThatDoesNotAdmitTheServiceSaysWhyWhileAnotherServesIt() throws {
        let snapshot = Self.cluster(
            [Self.service("web", ips: ["192.0.2.100"])],
            pools: [Self.pool("lan", ["192.0.2.100/31"]), Self.pool("manual", ["198.51.100.0/30"], autoAssign: false)])
        let explanation = try Self.explain("web", snapshot)
        #expect(
            explanation.pools.first { $0.name == "manual" }
                == .init(name: "manual", admits: false, detail: "autoAssign is false"))
        #expect(explanation.pools.first { $0.name == "lan" }?.admits == true)
    }

    @Test func nobodyAnnouncesWithoutAdvertisementEndpointsOrEligibleNodes() throws {
        let web = Self.service("web", ips: ["192.0.2.100"], local: true)
        var snapshot = Self.cluster([web], advertisements: [])
        snapshot.endpointSlices = [Self.endpoints("web", on: ["a"])]
        #expect(
            try Self.explain("web", snapshot).summary
                == "nobody announces it: no L2Advertisement or BGPAdvertisement covers pool lan")

        snapshot = Self.cluster([web])
        #expect(try Self.explain("web", snapshot).summary.contains("the Service has no ready endpoint"))

        // externalTrafficPolicy Local: only b has an endpoint, and b is not Ready.
        snapshot.endpointSlices = [Self.endpoints("web", on: ["b"])]
        snapshot.nodes = [Self.node("a"), Self.node("b", ready: false), Self.node("c")]
        let explanation = try Self.explain("web", snapshot)
        #expect(explanation.summary == "nobody announces it: no node is eligible")
        #expect(
            explanation.nodes == [
                .init(
                    name: "a", candidate: false,
                    reason: "externalTrafficPolicy is Local and the node has no serving endpoint"),
                .init(name: "b", candidate: false, reason: "the node is not Ready"),
                .init(
                    name: "c", candidate: false,
                    reason: "externalTrafficPolicy is Local and the node has no serving endpoint"),
            ])

        // b Ready again: b should announce; no ServiceL2Status yet → its speaker is suspect.
        snapshot.nodes = [Self.node("a"), Self.node("b"), Self.node("c")]
        #expect(
            try Self.explain("web", snapshot).summary == "nobody announces it yet: b's speaker should — is it running?")
        snapshot.serviceL2Statuses = [Self.l2Status("web", node: "a"), Self.l2Status("web", node: "b")]
        #expect(try Self.explain("web", snapshot).summary.hasPrefix("several nodes announce it at once"))
    }

    @Test func bgpPeersAndTheNodesAnnouncingToThemAreNamed() throws {
        var snapshot = Self.cluster([Self.service("web", ips: ["192.0.2.100"], local: true)], advertisements: [])
        snapshot.endpointSlices = [Self.endpoints("web", on: ["a", "c"])]
        snapshot.nodes = ["a", "b", "c"].enumerated().map { i, name in
            var node = Self.node(name)
            node["status"]?["addresses"] = [["type": "InternalIP", "address": .string("192.0.2.\(10 + i)")]]
            return node
        }
        snapshot.bgpPeers = [
            [
                "metadata": ["name": "router"],
                "spec": ["myASN": 64_512, "peerASN": 64_500, "peerAddress": "192.0.2.1"],
            ]
        ]
        #expect(
            try Self.explain("web", snapshot).summary
                == "nobody announces it: no L2Advertisement or BGPAdvertisement covers pool lan")
        snapshot.bgpAdvertisements = [["metadata": ["name": "all"], "spec": ["ipAddressPools": ["lan"]]]]
        let explanation = try Self.explain("web", snapshot)
        #expect(explanation.healthy)
        #expect(explanation.bgp == [.init(peer: "router", nodes: ["a", "c"])], "Local: only nodes with an endpoint")
        #expect(explanation.summary == "192.0.2.100 from pool lan, announced over BGP to router (from a, c)")
    }

    @Test func anUnknownServiceIsNil() {
        #expect(ServiceExplainer.explain(namespace: "default", name: "nope", in: Self.cluster([])) == nil)
    }
}
