import KubeAPI
import NetCore
import PylonTestSupport
import Testing

@testable import KubeServer

/// Node pod CIDRs as kube-controller-manager's range allocator hands them out and kube-apiserver guards them.
@Suite struct PodCIDRTests {
    static let nodes = "/api/v1/nodes"

    static func node(_ name: String, podCIDRs: [String] = []) -> String {
        let list = podCIDRs.map { "\"\($0)\"" }.joined(separator: ",")
        let spec = podCIDRs.isEmpty ? "{}" : #"{"podCIDR":"\#(podCIDRs[0])","podCIDRs":[\#(list)]}"#
        return #"{"apiVersion":"v1","kind":"Node","metadata":{"name":"\#(name)"},"spec":\#(spec)}"#
    }

    static func podCIDRs(_ api: InMemoryAPI, _ name: String) async throws -> [String] {
        let node = try #require(await api.request("GET", "\(nodes)/\(name)").json)
        let list = (node["spec"]?["podCIDRs"]?.arrayValue ?? []).compactMap(\.stringValue)
        #expect(node["spec"]?["podCIDR"]?.stringValue == list.first, "podCIDR is podCIDRs[0]")
        return list
    }

    static func with(
        _ networks: PodNetworks = .k3sDefault, _ body: (inout InMemoryAPI) async throws -> Void
    ) async throws {
        var api = try await InMemoryAPI(podNetworks: networks)
        do {
            try await body(&api)
        } catch {
            await api.close()
            throw error
        }
        await api.close()
    }

    // MARK: The allocator alone

    @Test func allocatorHandsOutSubnetsRoundRobin() throws {
        let allocator = PodCIDRAllocator(network: IPNetwork("10.42.0.0/22")!, subnetLength: 24)
        #expect(allocator.capacity == 4)
        let first = [allocator.allocate(), allocator.allocate()].map { $0?.description }
        #expect(first == ["10.42.0.0/24", "10.42.1.0/24"])
        allocator.release(IPNetwork("10.42.0.0/24")!)
        // A freed subnet comes back only after the ones never handed out.
        #expect(allocator.allocate()?.description == "10.42.2.0/24")
        #expect(allocator.allocate()?.description == "10.42.3.0/24")
        #expect(allocator.allocate()?.description == "10.42.0.0/24")
        #expect(allocator.allocate() == nil)
        #expect(allocator.usedCount == 4)
    }

    @Test func allocatorOccupiesWhatNodesBring() throws {
        let allocator = PodCIDRAllocator(network: IPNetwork("10.42.0.0/22")!, subnetLength: 24)
        #expect(allocator.occupy(IPNetwork("10.42.0.0/23")!) == nil, "a wider CIDR occupies every subnet it covers")
        #expect(allocator.occupy(IPNetwork("10.42.3.128/25")!) == nil, "a narrower one occupies its subnet")
        #expect(
            allocator.occupy(IPNetwork("10.99.0.0/24")!)
                == "cidr 10.99.0.0/24 is out the range of cluster cidr 10.42.0.0/22")
        #expect(allocator.allocate()?.description == "10.42.2.0/24")
        #expect(allocator.allocate() == nil)
        let v6 = PodCIDRAllocator(network: IPNetwork("2001:db8:42::/56")!, subnetLength: 64)
        #expect(v6.capacity == 256)
        #expect(v6.allocate()?.description == "2001:db8:42::/64")
        #expect(v6.allocate()?.description == "2001:db8:42:1::/64")
    }

    @Test(
        arguments: [
            ("10.42.0.0/16", 24, 64, nil),
            ("10.42.0.0/16,2001:db8:42::/56", 24, 64, nil),
            ("", 24, 64, nil),
            ("10.42.0.0", 24, 64, "\"10.42.0.0\" is not a CIDR"),
            ("10.42.0.0/16,10.44.0.0/16", 24, 64, "give one CIDR, or one IPv4 and one IPv6 CIDR for dual-stack"),
            ("10.42.0.0/16", 12, 64, "--node-cidr-mask-size-ipv4 12 does not fit cluster CIDR 10.42.0.0/16"),
            ("10.42.0.0/8", 25, 64, "--node-cidr-mask-size-ipv4 25 is more than 16 bits longer"),
            ("2001:db8::/32", 24, 64, "--node-cidr-mask-size-ipv6 64 is more than 16 bits longer"),
        ] as [(String, Int, Int, String?)])
    func clusterCIDRFlagsAreChecked(text: String, v4: Int, v6: Int, problem: String?) {
        do {
            let networks = try PodNetworks.parse(text, ipv4SubnetLength: v4, ipv6SubnetLength: v6)
            #expect(problem == nil, "accepted \(text)")
            #expect(networks.cidrs.count == text.split(separator: ",").count)
        } catch {
            #expect(problem.map { error.description.contains($0) } == true, "\(error)")
        }
    }

    // MARK: Through the API

    @Test func nodesGetSubnetsInOrderAndKeepThemAcrossRestarts() async throws {
        try await Self.with { api in
            for name in ["node-1", "node-2", "node-3"] {
                #expect(await api.request("POST", Self.nodes, body: Self.node(name)).status == 201)
            }
            #expect(try await Self.podCIDRs(api, "node-1") == ["10.42.0.0/24"])
            #expect(try await Self.podCIDRs(api, "node-2") == ["10.42.1.0/24"])
            #expect(try await Self.podCIDRs(api, "node-3") == ["10.42.2.0/24"])
            // A Node that brings its own keeps it, and nobody else gets it.
            #expect(
                await api.request("POST", Self.nodes, body: Self.node("own", podCIDRs: ["10.42.3.0/24"])).status == 201)
            #expect(try await Self.podCIDRs(api, "own") == ["10.42.3.0/24"])

            api = try await api.restarted()
            for name in ["node-1", "node-2", "node-3", "own"] {
                #expect(try await Self.podCIDRs(api, name).count == 1, "\(name) kept its pod CIDR")
            }
            #expect(await api.request("POST", Self.nodes, body: Self.node("node-4")).status == 201)
            let fourth = try await Self.podCIDRs(api, "node-4")
            #expect(fourth.count == 1)
            #expect(!["10.42.0.0/24", "10.42.1.0/24", "10.42.2.0/24", "10.42.3.0/24"].contains(fourth[0]))
        }
    }

    @Test func podCIDRsAreImmutableOnceSet() async throws {
        try await Self.with { api in
            #expect(await api.request("POST", Self.nodes, body: Self.node("n")).status == 201)
            var node = try #require(await api.request("GET", "\(Self.nodes)/n").json)
            node[path: ["spec", "podCIDR"]] = "10.42.9.0/24"
            node[path: ["spec", "podCIDRs"]] = ["10.42.9.0/24"]
            let changed = await api.request(
                "PUT", "\(Self.nodes)/n", body: String(decoding: node.serialized(), as: UTF8.self))
            #expect(changed.status == 422)
            #expect(
                changed.json?["message"]?.stringValue
                    == #"Node "n" is invalid: spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid"#
            )
            // A merge patch that leaves the spec alone keeps them.
            let labelled = await api.request(
                "PATCH", "\(Self.nodes)/n", body: #"{"metadata":{"labels":{"a":"b"}}}"#,
                contentType: "application/merge-patch+json")
            #expect(labelled.status == 200)
            #expect(try await Self.podCIDRs(api, "n") == ["10.42.0.0/24"])
            let garbage = await api.request("POST", Self.nodes, body: Self.node("g", podCIDRs: ["10.42.1.0"]))
            #expect(garbage.status == 422)
            #expect(garbage.text.contains("spec.podCIDRs[0]: Invalid value: \\\"10.42.1.0\\\": must be a valid CIDR"))
            let twoV4 = await api.request(
                "POST", Self.nodes, body: Self.node("t", podCIDRs: ["10.42.1.0/24", "10.42.2.0/24"]))
            #expect(twoV4.status == 422)
            #expect(twoV4.text.contains("may specify no more than one CIDR for each IP family"))
        }
    }

    @Test func exhaustedRangeRecordsAnEventAndTheNodeWaitsForAFreedSubnet() async throws {
        let networks = try PodNetworks.parse("10.42.0.0/23")
        try await Self.with(networks) { api in
            for name in ["a", "b", "c"] {
                #expect(await api.request("POST", Self.nodes, body: Self.node(name)).status == 201)
            }
            #expect(try await Self.podCIDRs(api, "c") == [], "no subnet left for the third node")
            let events = try #require(await api.request("GET", "/api/v1/namespaces/default/events").json)
            let event = try #require(
                events["items"]?.arrayValue?.first { $0["involvedObject"]?["name"]?.stringValue == "c" })
            #expect(event["reason"]?.stringValue == "CIDRNotAvailable")
            #expect(event["message"]?.stringValue == "Node c status is now: CIDRNotAvailable")
            #expect(event["involvedObject"]?["kind"]?.stringValue == "Node")
            #expect(event["source"]?["component"]?.stringValue == "cidrAllocator")

            let freed = try await Self.podCIDRs(api, "a")
            #expect(await api.request("DELETE", "\(Self.nodes)/a").status == 200)
            #expect(try await Self.podCIDRs(api, "c") == freed, "the freed subnet went to the waiting node")
        }
    }

    @Test func dualStackNodesGetOneSubnetPerFamily() async throws {
        let networks = try PodNetworks.parse("10.42.0.0/16,2001:db8:42::/56")
        try await Self.with(networks) { api in
            #expect(await api.request("POST", Self.nodes, body: Self.node("a")).status == 201)
            #expect(await api.request("POST", Self.nodes, body: Self.node("b")).status == 201)
            let (a, b) = (try await Self.podCIDRs(api, "a"), try await Self.podCIDRs(api, "b"))
            #expect(a == ["10.42.0.0/24", "2001:db8:42::/64"])
            #expect(b == ["10.42.1.0/24", "2001:db8:42:1::/64"])
        }
    }

    @Test func aServerWithoutClusterCIDRsHandsOutNone() async throws {
        try await Self.with(.none) { api in
            #expect(await api.request("POST", Self.nodes, body: Self.node("a")).status == 201)
            #expect(try await Self.podCIDRs(api, "a") == [])
            let events = try #require(await api.request("GET", "/api/v1/namespaces/default/events").json)
            #expect(events["items"]?.arrayValue?.isEmpty == true)
        }
    }
}
