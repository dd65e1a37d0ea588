import Allocator
import Announcement
import KubeAPI
import NetCore
import Testing

@Suite struct ServiceReadingTests {
    static func service(_ spec: JSON, annotations: JSON = [:]) -> JSON {
        [
            "metadata": ["name": "web", "namespace": "shop", "annotations": annotations, "labels": ["app": "web"]],
            "spec": spec,
        ]
    }

    @Test func readsRequests() {
        let outcome = ServiceReading.read(
            Self.service(
                [
                    "type": "LoadBalancer", "ipFamilyPolicy": "PreferDualStack", "ipFamilies": ["IPv6", "IPv4"],
                    "externalTrafficPolicy": "Local", "selector": ["b": "2", "a": "1"],
                    "ports": [["port": 80], ["port": 53, "protocol": "UDP"]],
                ],
                annotations: [
                    "metallb.io/loadBalancerIPs": "2001:db8::5, 192.0.2.5", "metallb.io/allow-shared-ip": "k",
                    "metallb.universe.tf/address-pool": "p",
                ]),
            namespaceLabels: ["team": "x"], loadBalancerClass: nil)
        guard case .request(let r, let deprecated) = outcome else {
            Issue.record("expected a request, got \(outcome)")
            return
        }
        #expect(r.key == "shop/web")
        #expect(r.families == .preferDual(primary: .ipv6))
        #expect(r.requestedIPs == [IPAddress("2001:db8::5")!, IPAddress("192.0.2.5")!])
        #expect(r.requestedPool == "p")
        #expect(r.sharingKey == "k")
        #expect(r.ports == [.init(80, "TCP"), .init(53, "UDP")])
        #expect(r.backendKey == "a=1,b=2")
        #expect(r.namespaceLabels == ["team": "x"])
        #expect(deprecated == ["metallb.universe.tf/address-pool"])
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var spec: JSON
        var annotations: JSON
        var lbClass: String?
        var expected: String
        var testDescription: String { expected }
    }

    static let cases: [Case] = [
        Case(spec: ["type": "ClusterIP"], annotations: [:], lbClass: nil, expected: "notOurs"),
        Case(
            spec: ["type": "LoadBalancer", "loadBalancerClass": "other"], annotations: [:], lbClass: nil,
            expected: "notOurs"),
        Case(spec: ["type": "LoadBalancer"], annotations: [:], lbClass: "pylon", expected: "notOurs"),
        Case(
            spec: ["type": "LoadBalancer", "loadBalancerClass": "pylon"], annotations: [:], lbClass: "pylon",
            expected: "request"),
        Case(
            spec: ["type": "LoadBalancer", "loadBalancerIP": "192.0.2.1"],
            annotations: ["metallb.io/loadBalancerIPs": "192.0.2.2"], lbClass: nil, expected: "cannot both be set"),
        Case(
            spec: ["type": "LoadBalancer"], annotations: ["metallb.io/loadBalancerIPs": "192.0.2.1,192.0.2.2"],
            lbClass: nil, expected: "at most one address per IP family"),
        Case(
            spec: ["type": "LoadBalancer", "loadBalancerIP": "banana"], annotations: [:], lbClass: nil,
            expected: "is not an IP address"),
    ]

    @Test(arguments: cases)
    func outcomes(_ c: Case) {
        let outcome = ServiceReading.read(
            Self.service(c.spec, annotations: c.annotations), namespaceLabels: [:], loadBalancerClass: c.lbClass)
        switch outcome {
        case .notOurs: #expect(c.expected == "notOurs")
        case .request: #expect(c.expected == "request")
        case .invalid(let message): #expect(message.contains(c.expected), "\(message)")
        }
    }
}
