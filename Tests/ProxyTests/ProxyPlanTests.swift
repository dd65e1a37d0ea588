import KubeAPI
import NFTables
import NetCore
import Netlink
import OrderedCollections
import Testing

@testable import Proxy

/// The proxy's plan from Services and EndpointSlices, and the element changes between two plans.
@Suite struct ProxyPlanTests {
    static func service(
        _ name: String, clusterIPs: [String] = ["10.43.0.10"], ports: JSON = [["name": "http", "port": 80]],
        type: String = "ClusterIP", ingress: [String] = [], externalIPs: [String] = []
    ) -> JSON {
        [
            "metadata": ["name": .string(name), "namespace": "default"],
            "spec": [
                "type": .string(type), "clusterIPs": .array(clusterIPs.map(JSON.string)), "ports": ports,
                "externalIPs": .array(externalIPs.map(JSON.string)),
            ],
            "status": ["loadBalancer": ["ingress": .array(ingress.map { ["ip": .string($0)] })]],
        ]
    }

    static func slice(
        _ service: String, _ endpoints: [(String, JSON)], family: String = "IPv4", port: JSON = 8080
    ) -> JSON {
        [
            "metadata": [
                "name": .string("\(service)-x"), "namespace": "default",
                "labels": ["kubernetes.io/service-name": .string(service)],
            ],
            "addressType": .string(family),
            "endpoints": .array(
                endpoints.map { ["addresses": [.string($0.0)], "conditions": $0.1, "nodeName": "node-1"] }),
            "ports": [["name": "http", "port": port, "protocol": "TCP"]],
        ]
    }

    static let ready: JSON = ["ready": true, "serving": true, "terminating": false]

    @Test func everyAddressOfAServiceRoutesToItsReadyEndpoints() throws {
        let services = [
            Self.service(
                "web", clusterIPs: ["10.43.0.10", "2001:db8:43::10"],
                ports: [["name": "http", "port": 80, "nodePort": 30080]], type: "LoadBalancer",
                ingress: ["192.0.2.100"], externalIPs: ["198.51.100.7"])
        ]
        let slices = [
            Self.slice(
                "web",
                [
                    ("10.42.1.2", Self.ready), ("10.42.0.2", Self.ready),
                    ("10.42.2.2", ["ready": false, "serving": false, "terminating": false]),
                ])
        ]
        let plan = ProxyPlan(services: services, slices: slices, family: .ipv4)
        let tcp = ServicePort.TransportProtocol.tcp
        let cluster = ProxyPlan.ServiceKey(address: IPAddress("10.43.0.10")!, transport: tcp, port: 80)
        #expect(plan.services[cluster] == .pick(2))
        #expect(plan.services[.init(address: IPAddress("192.0.2.100")!, transport: tcp, port: 80)] == .pickExternal(2))
        #expect(plan.services[.init(address: IPAddress("198.51.100.7")!, transport: tcp, port: 80)] == .pickExternal(2))
        #expect(plan.nodePorts[.init(transport: tcp, port: 30080)] == .pickExternal(2))
        #expect(plan.endpoints[.init(key: cluster, index: 0)]?.address == IPAddress("10.42.0.2"), "sorted")
        #expect(plan.endpoints[.init(key: cluster, index: 1)]?.address == IPAddress("10.42.1.2"))
        #expect(plan.endpoints[.init(key: cluster, index: 2)] == nil, "the unready endpoint is left out")
        #expect(plan.endpoints[.init(key: cluster, index: 0)]?.port == 8080)
        #expect(plan.pickCounts == [2])
        // The IPv6 family has the Service's IPv6 address but no IPv6 endpoints: rejected.
        let v6 = ProxyPlan(services: services, slices: slices, family: .ipv6)
        #expect(v6.services == [.init(address: IPAddress("2001:db8:43::10")!, transport: tcp, port: 80): .reject])
        #expect(v6.nodePorts[.init(transport: tcp, port: 30080)] == .reject)
    }

    @Test func terminatingEndpointsServeOnlyWhenNothingIsReady() {
        let terminating: JSON = ["ready": false, "serving": true, "terminating": true]
        let services = [Self.service("web")]
        let both = ProxyPlan(
            services: services, slices: [Self.slice("web", [("10.42.0.2", Self.ready), ("10.42.0.3", terminating)])],
            family: .ipv4)
        #expect(both.endpoints.values.map(\.address) == [IPAddress("10.42.0.2")!])
        let onlyTerminating = ProxyPlan(
            services: services, slices: [Self.slice("web", [("10.42.0.3", terminating)])], family: .ipv4)
        #expect(onlyTerminating.endpoints.values.map(\.address) == [IPAddress("10.42.0.3")!])
    }

    @Test func malformedPortsAndGarbageEndpointsAreSkippedAndNamed() {
        let services = [
            Self.service(
                "web",
                ports: [
                    ["name": "http", "port": 80], ["name": "bad", "port": 70000],
                    ["name": "odd", "port": 81, "protocol": "ICMP"],
                ]),
            Self.service("other", clusterIPs: ["not-an-ip", "10.43.0.11"]),
        ]
        let slices = [Self.slice("web", [("10.42.0.2", Self.ready), ("garbage", Self.ready)])]
        let plan = ProxyPlan(services: services, slices: slices, family: .ipv4)
        #expect(Set(plan.problems.map(\.reason)) == [.malformedPort, .badAddress, .badEndpoint])
        #expect(plan.problems.contains { $0.object == "default/web" && $0.message.contains("70000") })
        #expect(plan.problems.contains { $0.object == "default/web-x" && $0.message.contains("garbage") })
        // Everything else is routed: web's good port to its good endpoint, and other's good address (rejected: no
        // endpoints).
        let tcp = ServicePort.TransportProtocol.tcp
        #expect(plan.services[.init(address: IPAddress("10.43.0.10")!, transport: tcp, port: 80)] == .pick(1))
        #expect(plan.services[.init(address: IPAddress("10.43.0.11")!, transport: tcp, port: 80)] == .reject)
        #expect(plan.services.count == 2)
    }

    @Test func changesTouchOnlyWhatChanged() throws {
        let maps = ProxyMaps(family: .ipv4)
        let services = (0..<3).map { Self.service("s\($0)", clusterIPs: ["10.43.0.\($0 + 10)"]) }
        let slices = (0..<3).map { Self.slice("s\($0)", [("10.42.0.\($0 + 2)", Self.ready)]) }
        let before = ProxyPlan(services: services, slices: slices, family: .ipv4)
        // From nothing: one addition per map with elements (service-ips and endpoints).
        let start = before.elementChanges(from: ProxyPlan(family: .ipv4), maps: maps)
        #expect(start.count == 2)
        #expect(before.elementChanges(from: before, maps: maps).isEmpty, "nothing changed, nothing sent")

        // s1 gains an endpoint: its service-ips element changes (pick-1 → pick-2) and one endpoint is added.
        var grown = slices
        grown[1] = Self.slice("s1", [("10.42.0.3", Self.ready), ("10.42.0.9", Self.ready)])
        let after = ProxyPlan(services: services, slices: grown, family: .ipv4)
        let changes = after.elementChanges(from: before, maps: maps)
        let types = changes.map { $0.bytes(sequence: 1)[4] }  // low byte of the message type
        #expect(types == [14, 12, 12], "delete the old verdict, add the new one and the new endpoint: \(types)")

        // s2 loses its only endpoint: out of service-ips and endpoints, into no-endpoints.
        var emptied = slices
        emptied[2] = Self.slice("s2", [])
        let rejected = ProxyPlan(services: services, slices: emptied, family: .ipv4)
        let toReject = rejected.elementChanges(from: before, maps: maps)
        #expect(toReject.map { $0.bytes(sequence: 1)[4] } == [14, 14, 12])
    }

    @Test func keysAreLaidOutAsTheKernelReadsThem() {
        let maps = ProxyMaps(family: .ipv4)
        let key = ProxyPlan.ServiceKey(address: IPAddress("10.43.0.10")!, transport: .udp, port: 53)
        #expect(maps.key(key) == [10, 43, 0, 10, 17, 0, 0, 0, 0, 53, 0, 0])
        #expect(
            maps.key(ProxyPlan.Indexed(key: key, index: 2)) == [10, 43, 0, 10, 17, 0, 0, 0, 0, 53, 0, 0, 2, 0, 0, 0])
        #expect(maps.value(Backend(address: IPAddress("10.42.1.2")!, port: 5353)) == [10, 42, 1, 2, 0x14, 0xE9, 0, 0])
        let v6 = ProxyMaps(family: .ipv6)
        #expect(v6.serviceSet(for: .pick(3)).keyLength == 24 && v6.endpoints.valueLength == 20)
    }

    @Test func localPolicyKeepsExternalTrafficOnThisNodesEndpoints() throws {
        var service = Self.service(
            "web", ports: [["name": "http", "port": 80, "nodePort": 30080]], type: "LoadBalancer",
            ingress: ["192.0.2.100"])
        service[path: ["spec", "externalTrafficPolicy"]] = "Local"
        var slice = Self.slice("web", [("10.42.0.2", Self.ready), ("10.42.1.2", Self.ready)])
        var endpoints = slice["endpoints"]?.arrayValue ?? []
        endpoints[1]["nodeName"] = "node-2"
        slice["endpoints"] = .array(endpoints)
        let tcp = ServicePort.TransportProtocol.tcp
        let ingress = ProxyPlan.ServiceKey(address: IPAddress("192.0.2.100")!, transport: tcp, port: 80)
        let cluster = ProxyPlan.ServiceKey(address: IPAddress("10.43.0.10")!, transport: tcp, port: 80)

        let onNode1 = ProxyPlan(services: [service], slices: [slice], family: .ipv4, node: "node-1")
        #expect(onNode1.services[cluster] == .pick(2), "cluster traffic goes anywhere")
        #expect(onNode1.services[ingress] == .pickExternal(1))
        #expect(onNode1.endpoints[.init(key: ingress, index: 0)]?.address == IPAddress("10.42.0.2"))
        #expect(onNode1.nodePorts[.init(transport: tcp, port: 30080)] == .pickExternal(1))
        #expect(onNode1.localEndpoints == [IPAddress("10.42.0.2")!])

        let onNode3 = ProxyPlan(services: [service], slices: [slice], family: .ipv4, node: "node-3")
        #expect(onNode3.services[ingress] == .drop, "no local endpoint: dropped, as kube-proxy does")
        #expect(onNode3.nodePorts[.init(transport: tcp, port: 30080)] == .drop)
        #expect(onNode3.services[cluster] == .pick(2))

        // Hairpin elements follow the node's endpoints.
        let maps = ProxyMaps(family: .ipv4)
        // From node-3's view to node-1's: the drop verdicts are replaced (deleted, then added as picks).
        let changes = onNode1.elementChanges(from: onNode3, maps: maps).map { $0.bytes(sequence: 1)[4] }
        #expect(changes.first == 14 && changes.contains(12), "\(changes)")
        let hairpinAdded = onNode1.elementChanges(from: ProxyPlan(family: .ipv4), maps: maps).contains { request in
            let bytes = request.bytes(sequence: 1)
            return bytes[4] == 12 && String(decoding: bytes, as: UTF8.self).contains("hairpin")
        }
        #expect(hairpinAdded)
    }

    @Test func clientIPAffinityGetsAChainNamedAfterItsEndpoints() throws {
        var service = Self.service("web")
        service[path: ["spec", "sessionAffinity"]] = "ClientIP"
        let key = ProxyPlan.ServiceKey(address: IPAddress("10.43.0.10")!, transport: .tcp, port: 80)
        let two = ProxyPlan(
            services: [service], slices: [Self.slice("web", [("10.42.0.2", Self.ready), ("10.42.1.2", Self.ready)])],
            family: .ipv4)
        let chain = try #require(two.affinity[key])
        #expect(two.affinityChains[chain]?.endpoints.count == 2)
        #expect(two.affinityChains[chain]?.timeout == 10_800, "kube-apiserver's default, 3 hours")
        let one = ProxyPlan(
            services: [service], slices: [Self.slice("web", [("10.42.0.2", Self.ready)])], family: .ipv4)
        #expect(one.affinity[key] != chain, "other endpoints, another chain (clients pick again)")
        // The change creates the new chain and its map before the element moves, and deletes the old ones after.
        let types = one.elementChanges(from: two, maps: ProxyMaps(family: .ipv4)).map { $0.bytes(sequence: 1)[4] }
        #expect(types.first == 14 && types.last == 11, "\(types)")
        #expect(ProxyPlan(services: [Self.service("web")], slices: [], family: .ipv4).affinity.isEmpty)
    }

    @Test func udpKeysAreCheckedForStaleFlowsWithTheEndpointsKept() {
        let udp: JSON = [["name": "dns", "port": 53, "protocol": "UDP"]]
        func slice(_ addresses: [String]) -> JSON {
            var slice = Self.slice("web", addresses.map { ($0, Self.ready) }, port: 9000)
            slice["ports"] = [["name": "dns", "port": 9000, "protocol": "UDP"]]
            return slice
        }
        let service = Self.service("web", ports: udp)
        let before = ProxyPlan(services: [service], slices: [slice(["10.42.0.2", "10.42.0.3"])], family: .ipv4)
        let after = ProxyPlan(services: [service], slices: [slice(["10.42.0.3"])], family: .ipv4)
        let checks = after.staleFlowChecks(from: before)
        #expect(checks.count == 1)
        #expect(checks.first?.destination == IPAddress("10.43.0.10"))
        #expect(checks.first?.endpoints == [.init(address: IPAddress("10.42.0.3")!, port: 9000)])
        #expect(
            ProxyPlan(services: [Self.service("tcp")], slices: [], family: .ipv4).staleFlowChecks(from: before).count
                == 1)
        #expect(after.staleFlowChecks(from: ProxyPlan(family: .ipv4)).count == 1)
        #expect(
            ProxyPlan(services: [Self.service("tcp")], slices: [], family: .ipv4).staleFlowChecks(
                from: ProxyPlan(family: .ipv4)
            ).isEmpty, "TCP needs none")
    }

    @Test func internalLocalPolicyKeepsClusterTrafficOnThisNode() {
        var service = Self.service("web")
        service[path: ["spec", "internalTrafficPolicy"]] = "Local"
        var slice = Self.slice("web", [("10.42.0.2", Self.ready), ("10.42.1.2", Self.ready)])
        var endpoints = slice["endpoints"]?.arrayValue ?? []
        endpoints[1]["nodeName"] = "node-2"
        slice["endpoints"] = .array(endpoints)
        let cluster = ProxyPlan.ServiceKey(address: IPAddress("10.43.0.10")!, transport: .tcp, port: 80)
        let onNode2 = ProxyPlan(services: [service], slices: [slice], family: .ipv4, node: "node-2")
        #expect(onNode2.services[cluster] == .pick(1))
        #expect(onNode2.endpoints[.init(key: cluster, index: 0)]?.address == IPAddress("10.42.1.2"))
        let onNode3 = ProxyPlan(services: [service], slices: [slice], family: .ipv4, node: "node-3")
        #expect(onNode3.services[cluster] == .drop)
    }
}
