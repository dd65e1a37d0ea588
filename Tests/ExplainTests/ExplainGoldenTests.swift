import Explain
import Foundation
import KubeAPI
import Testing

/// `pylon explain service` as text, pinned by files in Golden/: the lab's demo and four causes of failure. A change
/// of wording fails here first; to accept one, rerun with PYLON_UPDATE_GOLDEN=1 and review the diff of Golden/.
@Suite struct ExplainGoldenTests {
    typealias Fixtures = ServiceExplainerTests

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    static func check(_ name: String, _ explanation: Explanation) throws {
        let file = directory.appendingPathComponent(name + ".txt")
        if ProcessInfo.processInfo.environment["PYLON_UPDATE_GOLDEN"] == "1" {
            try explanation.text.write(to: file, atomically: true, encoding: .utf8)
        }
        let pinned = try String(contentsOf: file, encoding: .utf8)
        #expect(explanation.text == pinned, "\(name).txt differs; PYLON_UPDATE_GOLDEN=1 rewrites it")
    }

    /// The lab's demo as `pylon lab up` makes it: default/demo with an IPv4 and an IPv6 address from lab-pool, an
    /// endpoint on every node, announced by the node the election picks.
    static func labDemo() throws -> Explanation {
        let pool: JSON = [
            "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
            "metadata": ["name": "lab-pool", "namespace": "pylon-system"],
            "spec": ["addresses": ["192.0.2.100-192.0.2.200", "2001:db8::100-2001:db8::1ff"]],
        ]
        var demo = Fixtures.service("demo", ips: ["192.0.2.100", "2001:db8::100"])
        demo["spec"]?["ipFamilyPolicy"] = "PreferDualStack"
        demo["spec"]?["ipFamilies"] = ["IPv4", "IPv6"]
        demo["metadata"]?["annotations"] = ["metallb.io/ip-allocated-from-pool": "lab-pool"]
        var snapshot = ClusterSnapshot(
            services: [demo], namespaces: [["metadata": ["name": "default"]]], pools: [pool],
            l2Advertisements: [Fixtures.advertisement],
            endpointSlices: [Fixtures.endpoints("demo", on: ["node-1", "node-2", "node-3"])],
            nodes: [Fixtures.node("node-1"), Fixtures.node("node-2"), Fixtures.node("node-3")])
        // The election decides which node announces; the golden file holds its choice.
        for node in ["node-1", "node-2", "node-3"] {
            snapshot.serviceL2Statuses = [Fixtures.l2Status("demo", node: node, macs: "eth0=02:00:c0:00:02:0a")]
            let explanation = try #require(ServiceExplainer.explain(namespace: "default", name: "demo", in: snapshot))
            if explanation.healthy, explanation.announcedBy == node,
                !explanation.findings.contains(where: { $0.level == .problem })
            {
                return explanation
            }
        }
        throw TestFailure("no node announces the demo")
    }

    struct TestFailure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    @Test func theLabDemo() throws {
        try Self.check("lab-demo", try Self.labDemo())
    }

    @Test func noPoolIsConfigured() throws {
        try Self.check("no-pool", try Fixtures.explain("web", Fixtures.cluster([Fixtures.service("web")], pools: [])))
    }

    @Test func thePoolIsExhausted() throws {
        let snapshot = Fixtures.cluster([
            Fixtures.service("first", ips: ["192.0.2.100"], created: "2026-11-25T00:00:00Z"),
            Fixtures.service("second", ips: ["192.0.2.101"], created: "2026-11-25T00:00:01Z"),
            Fixtures.service("web"),
        ])
        try Self.check("pool-exhausted", try Fixtures.explain("web", snapshot))
    }

    @Test func theRequestedAddressIsInNoPool() throws {
        let snapshot = Fixtures.cluster([
            Fixtures.service("web", annotations: ["metallb.io/loadBalancerIPs": "203.0.113.9"])
        ])
        try Self.check("requested-outside-pools", try Fixtures.explain("web", snapshot))
    }

    @Test func noAdvertisementCoversThePool() throws {
        var snapshot = Fixtures.cluster([Fixtures.service("web", ips: ["192.0.2.100"])], advertisements: [])
        snapshot.endpointSlices = [Fixtures.endpoints("web", on: ["a"])]
        try Self.check("no-advertisement", try Fixtures.explain("web", snapshot))
    }
}
