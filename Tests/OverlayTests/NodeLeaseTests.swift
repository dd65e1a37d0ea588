import KubeAPI
import NetCore
import Overlay
import Testing

/// Leases read from Nodes as flannel's Kubernetes subnet manager reads them, and what a node publishes.
@Suite struct NodeLeaseTests {
    static let conf = try! NetConf(parsing: #"{"Network":"10.42.0.0/16","Backend":{"Type":"vxlan"}}"#)

    static func node(_ name: String, podCIDRs: [String], annotations: [String: String]) -> JSON {
        var node: JSON = ["apiVersion": "v1", "kind": "Node", "metadata": ["name": .string(name)]]
        if !podCIDRs.isEmpty {
            node["spec"] = ["podCIDR": .string(podCIDRs[0]), "podCIDRs": .array(podCIDRs.map { .string($0) })]
        }
        var a: JSON = [:]
        for (k, v) in annotations { a[k] = .string(v) }
        node[path: ["metadata", "annotations"]] = a
        return node
    }

    static let published: [String: String] = [
        FlannelAnnotations.kubeSubnetManager: "true", FlannelAnnotations.backendType: "vxlan",
        FlannelAnnotations.backendData: #"{"VNI":1,"VtepMAC":"5e:08:1d:56:15:e3"}"#,
        FlannelAnnotations.publicIP: "192.0.2.11",
    ]

    @Test func aPublishedNodeIsALease() throws {
        let lease = try #require(
            try NodeLease(
                node: Self.node("node1", podCIDRs: ["10.42.0.0/24"], annotations: Self.published), conf: Self.conf))
        #expect(lease.subnet == IPNetwork("10.42.0.0/24"))
        #expect(lease.publicIP == IPAddress("192.0.2.11"))
        #expect(lease.vxlan == FlannelAnnotations.VXLANData(vni: 1, vtepMAC: MACAddress("5e:08:1d:56:15:e3")!))
        #expect(lease.backendType == "vxlan")
    }

    @Test func aNodeThatHasNotPublishedIsIgnored() throws {
        var annotations = Self.published
        annotations[FlannelAnnotations.kubeSubnetManager] = nil
        #expect(
            try NodeLease(node: Self.node("n", podCIDRs: ["10.42.0.0/24"], annotations: annotations), conf: Self.conf)
                == nil)
    }

    @Test(
        arguments: [
            ([], [:], OverlayError.Reason.podCIDRNotAssigned, "node \"n\" pod cidr not assigned"),
            (
                ["10.99.0.0/24"], [:], .podCIDROutsideNetwork,
                "pod CIDR 10.99.0.0/24 lies outside the cluster network 10.42.0.0/16"
            ),
            (
                ["10.42.0.0/24"], [FlannelAnnotations.backendData: "garbage"], .invalidBackendData,
                "is not a JSON object"
            ),
            (["10.42.0.0/24"], [FlannelAnnotations.backendData: #"{"VNI":1}"#], .invalidBackendData, "has no VtepMAC"),
            (
                ["10.42.0.0/24"], [FlannelAnnotations.backendData: #"{"VNI":1,"VtepMAC":"zz"}"#], .invalidBackendData,
                "VtepMAC"
            ),
            (
                ["10.42.0.0/24"], [FlannelAnnotations.publicIP: "node-1"], .invalidPublicIP,
                "public-ip \"node-1\" is not an IPv4 address"
            ),
            (["10.42.0.0/24"], [FlannelAnnotations.publicIP: "2001:db8::1"], .invalidPublicIP, "not an IPv4 address"),
        ] as [([String], [String: String], OverlayError.Reason, String)])
    func badLeasesAreRefusedWithWhatIsWrong(
        cidrs: [String], overrides: [String: String], reason: OverlayError.Reason, fragment: String
    ) {
        let annotations = Self.published.merging(overrides) { $1 }
        #expect {
            _ = try NodeLease(node: Self.node("n", podCIDRs: cidrs, annotations: annotations), conf: Self.conf)
        } throws: { error in
            guard let error = error as? OverlayError else { return false }
            return error.reason == reason && error.message.contains(fragment)
        }
    }

    @Test func dualStackLeaseTakesOneSubnetPerFamily() throws {
        let conf = try NetConf(
            parsing: #"{"Network":"10.42.0.0/16","IPv6Network":"2001:db8:42::/56","EnableIPv6":true}"#)
        var annotations = Self.published
        annotations[FlannelAnnotations.publicIPv6] = "2001:db8::11"
        annotations[FlannelAnnotations.backendV6Data] = #"{"VNI":1,"VtepMAC":"5e:08:1d:56:15:e4"}"#
        let node = Self.node("n", podCIDRs: ["10.42.3.0/24", "2001:db8:42:3::/64"], annotations: annotations)
        let lease = try #require(try NodeLease(node: node, conf: conf))
        #expect(lease.ipv6Subnet == IPNetwork("2001:db8:42:3::/64"))
        #expect(lease.publicIPv6 == IPAddress("2001:db8::11"))
        #expect(lease.vxlanV6?.vtepMAC == MACAddress("5e:08:1d:56:15:e4"))
        let v4Only = Self.node("m", podCIDRs: ["10.42.4.0/24"], annotations: annotations)
        #expect(throws: OverlayError.self) { _ = try NodeLease(node: v4Only, conf: conf) }
    }

    @Test func publishedAnnotationsAreFlannelsWithTheOverwriteHonoured() {
        let mac = MACAddress("5e:08:1d:56:15:e3")!
        let plain = FlannelAnnotations.published(
            backend: OverlayBackend(), publicIP: IPAddress("192.0.2.11"), publicIPv6: nil, vtepMAC: mac, vtepMACv6: nil,
            existing: [:])
        #expect(
            plain.map(\.key) == [
                FlannelAnnotations.backendType, FlannelAnnotations.backendData, FlannelAnnotations.publicIP,
                FlannelAnnotations.kubeSubnetManager,
            ])
        #expect(plain.map(\.value) == ["vxlan", #"{"VNI":1,"VtepMAC":"5e:08:1d:56:15:e3"}"#, "192.0.2.11", "true"])
        let overwritten = FlannelAnnotations.published(
            backend: OverlayBackend(kind: .hostGW), publicIP: IPAddress("192.0.2.11"), publicIPv6: nil, vtepMAC: nil,
            vtepMACv6: nil, existing: [FlannelAnnotations.publicIPOverwrite: "198.51.100.7"])
        #expect(overwritten.map(\.value) == ["host-gw", "null", "198.51.100.7", "true"])
    }
}

/// Which Node changes the overlay reacts to.
@Suite struct OverlayPartTests {
    @Test func aHeartbeatIsNotAChangeButALeaseIs() {
        let node = NodeLeaseTests.node("n", podCIDRs: ["10.42.0.0/24"], annotations: NodeLeaseTests.published)
        var heartbeat = node
        heartbeat[path: ["status", "conditions"]] = [["type": "Ready", "status": "True"]]
        heartbeat[path: ["metadata", "annotations", "node.alpha.kubernetes.io/ttl"]] = "0"
        #expect(NodeLease.overlayPart(of: heartbeat) == NodeLease.overlayPart(of: node))
        var moved = node
        moved[path: ["metadata", "annotations", FlannelAnnotations.publicIP]] = "192.0.2.99"
        #expect(NodeLease.overlayPart(of: moved) != NodeLease.overlayPart(of: node))
        var readdressed = node
        readdressed[path: ["status", "addresses"]] = [["type": "InternalIP", "address": "192.0.2.50"]]
        #expect(NodeLease.overlayPart(of: readdressed) != NodeLease.overlayPart(of: node))
    }
}
