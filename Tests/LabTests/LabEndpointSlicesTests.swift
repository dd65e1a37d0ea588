import KubeAPI
import Lab
import OrderedCollections
import Testing

/// The EndpointSlices the lab writes for Services with selectors, checked against what kube-controller-manager
/// writes for the same Pods (conditions, targetRef, nodeName, ports resolved by name).
@Suite struct LabEndpointSlicesTests {
    static let service: JSON = [
        "metadata": ["name": "web", "namespace": "default", "uid": "svc-uid"],
        "spec": [
            "selector": ["app": "web"], "ipFamilies": ["IPv4", "IPv6"],
            "ports": [
                ["name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"],
                ["name": "raw", "port": 81, "targetPort": 9000],
            ],
        ],
    ]

    static func pod(
        _ name: String, ips: [String], ready: Bool = true, labels: JSON = ["app": "web"], deleting: Bool = false,
        phase: String = "Running", namespace: String = "default"
    ) -> JSON {
        var pod: JSON = [
            "metadata": [
                "name": .string(name), "namespace": .string(namespace), "uid": .string("uid-\(name)"), "labels": labels,
            ],
            "spec": [
                "nodeName": "node-1",
                "containers": [["name": "c", "ports": [["name": "http", "containerPort": 8080]]]],
            ],
            "status": [
                "phase": .string(phase), "podIPs": .array(ips.map { ["ip": .string($0)] }),
                "conditions": [["type": "Ready", "status": .string(ready ? "True" : "False")]],
            ],
        ]
        if deleting { pod[path: ["metadata", "deletionTimestamp"]] = "2026-01-01T00:00:00Z" }
        return pod
    }

    @Test func oneSlicePerFamilyWithConditionsAndResolvedPorts() throws {
        let pods = [
            Self.pod("b", ips: ["10.42.1.2", "2001:db8:42:1::2"]), Self.pod("a", ips: ["10.42.0.2"], ready: false),
            Self.pod("c", ips: ["10.42.2.2"], deleting: true),
            Self.pod("other", ips: ["10.42.0.9"], labels: ["app": "x"]),
            Self.pod("done", ips: ["10.42.0.8"], phase: "Succeeded"),
            Self.pod("elsewhere", ips: ["10.42.0.7"], namespace: "kube-system"),
        ]
        let slices = LabEndpointSlices.slices(for: Self.service, pods: pods)
        #expect(slices.map { $0["metadata"]?["name"]?.stringValue } == ["web-lab-ipv4", "web-lab-ipv6"])
        let v4 = slices[0]
        #expect(v4["addressType"] == "IPv4")
        #expect(v4["metadata"]?["labels"]?["kubernetes.io/service-name"] == "web")
        #expect(v4["metadata"]?["labels"]?["endpointslice.kubernetes.io/managed-by"] == "pylon-lab")
        #expect(v4["metadata"]?["ownerReferences"]?.arrayValue?.first?["uid"] == "svc-uid")
        #expect(
            v4["ports"] == [
                ["name": "http", "port": 8080, "protocol": "TCP"], ["name": "raw", "port": 9000, "protocol": "TCP"],
            ])
        let endpoints = v4["endpoints"]?.arrayValue ?? []
        #expect(endpoints.map { $0["addresses"] } == [["10.42.0.2"], ["10.42.1.2"], ["10.42.2.2"]])
        #expect(endpoints[0]["conditions"] == ["ready": false, "serving": false, "terminating": false])
        #expect(endpoints[1]["conditions"] == ["ready": true, "serving": true, "terminating": false])
        #expect(endpoints[2]["conditions"] == ["ready": false, "serving": true, "terminating": true])
        #expect(endpoints[1]["targetRef"] == ["kind": "Pod", "namespace": "default", "name": "b", "uid": "uid-b"])
        #expect(endpoints[1]["nodeName"] == "node-1")
        #expect(slices[1]["endpoints"]?.arrayValue?.map { $0["addresses"] } == [["2001:db8:42:1::2"]])
        #expect(LabEndpointSlices.equivalent(v4, v4))
        var changed = v4
        changed["endpoints"] = []
        #expect(!LabEndpointSlices.equivalent(v4, changed))
    }

    @Test func servicesWithoutSelectorsGetNone() {
        var service = Self.service
        service[path: ["spec", "selector"]] = nil
        #expect(LabEndpointSlices.slices(for: service, pods: [Self.pod("a", ips: ["10.42.0.2"])]).isEmpty)
    }
}
