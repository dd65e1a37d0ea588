import KubeAPI
import OrderedCollections
import Testing

@testable import KubeServer

/// The EndpointSlice and Endpoints controllers' decisions, rule by rule, as kube-controller-manager makes them
/// (pkg/controller/endpointslice and pkg/controller/endpoint in Kubernetes 1.32).
@Suite struct EndpointSlicePlannerTests {
    static func service(
        selector: JSON = ["app": "web"], families: [String] = ["IPv4"], publishNotReady: Bool = false,
        ports: JSON = [["name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"]], labels: JSON = [:]
    ) -> JSON {
        [
            "metadata": ["name": "web", "namespace": "default", "uid": "svc-uid", "labels": labels],
            "spec": [
                "selector": selector, "ipFamilies": .array(families.map(JSON.string)), "ports": ports,
                "publishNotReadyAddresses": .bool(publishNotReady),
            ],
        ]
    }

    static func pod(
        _ name: String, ips: [String], ready: Bool = true, deleting: Bool = false, phase: String = "Running",
        labels: JSON = ["app": "web"], containerPort: Int64? = 8080, node: String = "node-1"
    ) -> JSON {
        var pod: JSON = [
            "metadata": [
                "name": .string(name), "namespace": "default", "uid": .string("uid-\(name)"), "labels": labels,
            ],
            "spec": [
                "nodeName": .string(node),
                "containers": [
                    ["name": "c", "ports": containerPort.map { [["name": "http", "containerPort": .int($0)]] } ?? []]
                ],
            ],
            "status": [
                "phase": .string(phase), "podIP": .string(ips.first ?? ""),
                "podIPs": .array(ips.map { ["ip": .string($0)] }),
                "conditions": [["type": "Ready", "status": .string(ready ? "True" : "False")]],
            ],
        ]
        if deleting { pod[path: ["metadata", "deletionTimestamp"]] = "2026-01-01T00:00:00Z" }
        return pod
    }

    /// The slices after applying `actions` to `existing`, as the store would hold them (created ones named).
    static func apply(_ actions: [EndpointSlicePlanner.Action], to existing: [JSON]) -> [JSON] {
        var slices = existing
        var counter = existing.count
        for action in actions {
            switch action {
            case .create(var slice):
                counter += 1
                slice[path: ["metadata", "name"]] = .string("web-\(counter)")
                slices.append(slice)
            case .update(let slice):
                let name = slice["metadata"]?["name"]
                slices = slices.map { $0["metadata"]?["name"] == name ? slice : $0 }
            case .delete(let name):
                slices.removeAll { $0["metadata"]?["name"]?.stringValue == name }
            }
        }
        return slices
    }

    static func endpoints(_ slices: [JSON]) -> [JSON] { slices.flatMap { $0["endpoints"]?.arrayValue ?? [] } }

    @Test func conditionsFollowReadinessAndDeletion() throws {
        let pods = [
            Self.pod("ready", ips: ["10.42.0.2"]), Self.pod("unready", ips: ["10.42.0.3"], ready: false),
            Self.pod("leaving", ips: ["10.42.0.4"], deleting: true),
            Self.pod("leaving-unready", ips: ["10.42.0.5"], ready: false, deleting: true),
        ]
        let slices = Self.apply(EndpointSlicePlanner.plan(service: Self.service(), pods: pods, existing: []), to: [])
        #expect(slices.count == 1)
        let byName = Dictionary(
            uniqueKeysWithValues: Self.endpoints(slices).map { ($0["targetRef"]?["name"]?.stringValue ?? "", $0) })
        #expect(byName["ready"]?["conditions"] == ["ready": true, "serving": true, "terminating": false])
        #expect(byName["unready"]?["conditions"] == ["ready": false, "serving": false, "terminating": false])
        #expect(byName["leaving"]?["conditions"] == ["ready": false, "serving": true, "terminating": true])
        #expect(byName["leaving-unready"]?["conditions"] == ["ready": false, "serving": false, "terminating": true])
        #expect(byName["ready"]?["nodeName"] == "node-1" && byName["ready"]?["addresses"] == ["10.42.0.2"])
        #expect(
            byName["ready"]?["targetRef"] == [
                "kind": "Pod", "namespace": "default", "name": "ready", "uid": "uid-ready",
            ])

        // publishNotReadyAddresses: every endpoint is ready.
        let published = Self.apply(
            EndpointSlicePlanner.plan(service: Self.service(publishNotReady: true), pods: pods, existing: []), to: [])
        #expect(Self.endpoints(published).allSatisfy { $0["conditions"]?["ready"] == true })
    }

    @Test func labelsOwnerPortsAndWhoIsLeftOut() throws {
        let pods = [
            Self.pod("a", ips: ["10.42.0.2"]), Self.pod("other-app", ips: ["10.42.0.3"], labels: ["app": "db"]),
            Self.pod("done", ips: ["10.42.0.4"], phase: "Succeeded"),
            Self.pod("failed", ips: ["10.42.0.5"], phase: "Failed"),
            Self.pod("no-ip", ips: []),
        ]
        let slices = Self.apply(
            EndpointSlicePlanner.plan(service: Self.service(labels: ["tier": "front"]), pods: pods, existing: []),
            to: [])
        #expect(Self.endpoints(slices).map { $0["targetRef"]?["name"] } == ["a"])
        let slice = try #require(slices.first)
        #expect(slice["metadata"]?["generateName"] == "web-")
        #expect(
            slice["metadata"]?["labels"]
                == [
                    "tier": "front", "kubernetes.io/service-name": "web",
                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                ])
        #expect(
            slice["metadata"]?["ownerReferences"]
                == [
                    [
                        "apiVersion": "v1", "kind": "Service", "name": "web", "uid": "svc-uid", "controller": true,
                        "blockOwnerDeletion": true,
                    ]
                ])
        #expect(
            slice["addressType"] == "IPv4" && slice["ports"] == [["name": "http", "port": 8080, "protocol": "TCP"]])
    }

    @Test func podsResolvingPortsDifferentlyGetSlicesOfTheirOwn() throws {
        let pods = [
            Self.pod("a", ips: ["10.42.0.2"]), Self.pod("b", ips: ["10.42.0.3"], containerPort: 9090),
            Self.pod("no-port", ips: ["10.42.0.4"], containerPort: nil),
        ]
        let slices = Self.apply(EndpointSlicePlanner.plan(service: Self.service(), pods: pods, existing: []), to: [])
        let ports = Set(slices.map { $0["ports"] ?? [] })
        #expect(
            ports == [
                [["name": "http", "port": 8080, "protocol": "TCP"]],
                [["name": "http", "port": 9090, "protocol": "TCP"]], [],
            ])
    }

    @Test func dualStackServicesGetASliceGroupPerFamilyAndEmptyOnesAPlaceholder() throws {
        let pods = [Self.pod("a", ips: ["10.42.0.2", "2001:db8:42::2"]), Self.pod("b", ips: ["10.42.0.3"])]
        let slices = Self.apply(
            EndpointSlicePlanner.plan(service: Self.service(families: ["IPv4", "IPv6"]), pods: pods, existing: []),
            to: [])
        let v4 = slices.filter { $0["addressType"] == "IPv4" }
        let v6 = slices.filter { $0["addressType"] == "IPv6" }
        #expect(Self.endpoints(v4).count == 2 && Self.endpoints(v6).map { $0["addresses"] } == [["2001:db8:42::2"]])

        let none = Self.apply(EndpointSlicePlanner.plan(service: Self.service(), pods: [], existing: []), to: [])
        #expect(none.count == 1 && none[0]["endpoints"] == [] && none[0]["ports"] == [], "the placeholder")
        #expect(EndpointSlicePlanner.plan(service: Self.service(), pods: [], existing: none).isEmpty)
    }

    @Test func a150EndpointServiceTakesTwoSlicesAndChangesStayLocal() throws {
        let pods = (0..<150).map { Self.pod("p\($0)", ips: ["10.42.\($0 / 200).\($0 % 200 + 2)"]) }
        var slices = Self.apply(EndpointSlicePlanner.plan(service: Self.service(), pods: pods, existing: []), to: [])
        #expect(slices.map { $0["endpoints"]?.arrayValue?.count } == [100, 50])
        // Nothing changed: nothing to write.
        #expect(EndpointSlicePlanner.plan(service: Self.service(), pods: pods, existing: slices).isEmpty)
        // One Pod goes NotReady: one slice is rewritten, the other left alone.
        var changed = pods
        changed[120] = Self.pod("p120", ips: ["10.42.0.122"], ready: false)
        let actions = EndpointSlicePlanner.plan(service: Self.service(), pods: changed, existing: slices)
        #expect(actions.count == 1)
        guard case .update(let updated)? = actions.first else {
            Issue.record("expected one update, got \(actions)")
            return
        }
        let holder = slices.first { slice in
            (slice["endpoints"]?.arrayValue ?? []).contains { $0["targetRef"]?["name"] == "p120" }
        }
        #expect(updated["metadata"]?["name"] == holder?["metadata"]?["name"], "the slice holding the Pod")
        slices = Self.apply(actions, to: slices)
        let flipped = Self.endpoints(slices).first { $0["targetRef"]?["name"] == "p120" }
        #expect(flipped?["conditions"]?["ready"] == false)
        // A new Pod fills the room left in the second slice; a removed one leaves its slice without a new one.
        let grown = changed + [Self.pod("p150", ips: ["10.42.1.99"])]
        let growth = EndpointSlicePlanner.plan(service: Self.service(), pods: grown, existing: slices)
        #expect(growth.count == 1)
        if case .update(let slice)? = growth.first { #expect(slice["endpoints"]?.arrayValue?.count == 51) }
    }

    @Test func aServiceThatLosesItsSelectorLosesItsSlices() {
        let slices = Self.apply(
            EndpointSlicePlanner.plan(service: Self.service(), pods: [Self.pod("a", ips: ["10.42.0.2"])], existing: []),
            to: [])
        let actions = EndpointSlicePlanner.plan(service: Self.service(selector: [:]), pods: [], existing: slices)
        #expect(actions == [.delete(name: "web-1")])
        #expect(EndpointSlicePlanner.plan(service: [:], pods: [], existing: slices) == [.delete(name: "web-1")])
    }

    @Test func theEndpointsObjectListsReadyAndNotReadyAddressesButNotTerminatingOnes() throws {
        let pods = [
            Self.pod("b", ips: ["10.42.0.3"]), Self.pod("a", ips: ["10.42.0.2"]),
            Self.pod("unready", ips: ["10.42.0.4"], ready: false),
            Self.pod("leaving", ips: ["10.42.0.5"], deleting: true),
        ]
        let object = try #require(EndpointSlicePlanner.endpointsObject(service: Self.service(), pods: pods))
        #expect(object["metadata"]?["name"] == "web" && object["kind"] == "Endpoints")
        let subset = try #require(object["subsets"]?.arrayValue?.first)
        #expect(subset["addresses"]?.arrayValue?.map { $0["ip"] } == ["10.42.0.2", "10.42.0.3"], "sorted by IP")
        #expect(subset["notReadyAddresses"]?.arrayValue?.map { $0["ip"] } == ["10.42.0.4"])
        #expect(subset["ports"] == [["name": "http", "port": 8080, "protocol": "TCP"]])
        #expect(object["subsets"]?.arrayValue?.count == 1, "the terminating Pod is left out")
        #expect(EndpointSlicePlanner.endpointsObject(service: Self.service(selector: [:]), pods: pods) == nil)
    }
}
