import KubeAPI
import LoadBalancerConfig
import NetCore
import OrderedCollections
import Testing

@Suite struct ConfigurationTests {
    static func pool(_ name: String, _ addresses: [String], extra: JSON = [:], labels: JSON = [:]) -> JSON {
        var spec: JSON = ["addresses": .array(addresses.map(JSON.string))]
        for (k, v) in extra.objectValue ?? [:] { spec[k] = v }
        return [
            "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
            "metadata": ["name": .string(name), "namespace": "metallb-system", "labels": labels], "spec": spec,
        ]
    }

    static func l2(_ name: String, _ spec: JSON = [:]) -> JSON {
        [
            "apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement", "metadata": ["name": .string(name)],
            "spec": spec,
        ]
    }

    @Test func seedConfiguration() throws {
        let config = try Configuration.parse(
            pools: [Self.pool("picluster-pool", ["10.0.0.100-10.0.0.200"])],
            l2Advertisements: [Self.l2("example", ["ipAddressPools": ["picluster-pool"]])]
        ).get()
        let pool = try #require(config.pool(named: "picluster-pool"))
        #expect(pool.autoAssign)
        #expect(!pool.avoidBuggyIPs)
        #expect(pool.capacity(.ipv4) == 101)
        #expect(pool.capacity(.ipv6) == 0)
        #expect(config.l2Advertisements.first?.covers(pool) == true)
        #expect(config.pool(containing: IPAddress("10.0.0.150")!)?.name == "picluster-pool")
        #expect(config.pool(containing: IPAddress("10.0.0.201")!) == nil)
    }

    @Test(arguments: [
        (["192.0.2.0/33"], "invalid CIDR"),
        (["192.0.2.20-192.0.2.10"], "is after"),
        (["192.0.2.1-2001:db8::1"], "mixes IPv4 and IPv6"),
        (["banana"], "expected a CIDR or FIRST-LAST"),
        (["192.0.2.0/24", "192.0.2.128/25"], "overlaps"),
        ([String](), "at least one address range"),
    ])
    func invalidPools(addresses: [String], expected: String) {
        let result = Configuration.parse(pools: [Self.pool("p", addresses)], l2Advertisements: [])
        guard case .failure(let errors) = result else {
            Issue.record("expected failure for \(addresses)")
            return
        }
        #expect(errors.description.contains(expected), "\(errors)")
        #expect(errors.description.hasPrefix("IPAddressPool \"p\": spec.addresses"))
    }

    @Test func overlappingPoolsAndUnknownReferencesAreRejectedTogether() {
        let result = Configuration.parse(
            pools: [Self.pool("a", ["192.0.2.0/24"]), Self.pool("b", ["192.0.2.200-192.0.2.210", "2001:db8::/64"])],
            l2Advertisements: [
                Self.l2("x", ["ipAddressPools": ["missing"]]),
                Self.l2("y", ["nodeSelectors": [["matchExpressions": [["key": "k", "operator": "Sometimes"]]]]]),
            ])
        guard case .failure(let errors) = result else {
            Issue.record("expected failure")
            return
        }
        let messages = errors.errors.map(\.description)
        #expect(
            messages.contains(
                "IPAddressPool \"b\": spec.addresses: 192.0.2.200-192.0.2.210 overlaps 192.0.2.0-192.0.2.255 of pool \"a\""
            ))
        #expect(messages.contains("L2Advertisement \"x\": spec.ipAddressPools[0]: pool \"missing\" does not exist"))
        #expect(
            messages.contains {
                $0.hasPrefix("L2Advertisement \"y\": spec.nodeSelectors[0]:") && $0.contains("Sometimes")
            })
    }

    @Test func priorityOrderAndSelectors() throws {
        let config = try Configuration.parse(
            pools: [
                Self.pool("zeta", ["192.0.2.0/28"]),
                Self.pool("alpha", ["192.0.2.16/28"]),
                Self.pool("second", ["192.0.2.32/28"], extra: ["serviceAllocation": ["priority": 20]]),
                Self.pool(
                    "first", ["192.0.2.48/28"],
                    extra: [
                        "serviceAllocation": [
                            "priority": 10, "namespaces": ["web"],
                            "serviceSelectors": [["matchLabels": ["tier": "front"]]],
                        ]
                    ]),
            ],
            l2Advertisements: []
        ).get()
        #expect(config.pools.map(\.name) == ["first", "second", "alpha", "zeta"])
        let first = try #require(config.pool(named: "first"))
        #expect(first.allocation.admits(namespace: "web", namespaceLabels: [:], serviceLabels: ["tier": "front"]))
        #expect(!first.allocation.admits(namespace: "web", namespaceLabels: [:], serviceLabels: ["tier": "back"]))
        #expect(!first.allocation.admits(namespace: "other", namespaceLabels: [:], serviceLabels: ["tier": "front"]))
        #expect(
            config.pool(named: "zeta")!.allocation.admits(namespace: "any", namespaceLabels: [:], serviceLabels: [:]))
    }

    @Test func advertisementCoverage() throws {
        let config = try Configuration.parse(
            pools: [Self.pool("a", ["192.0.2.0/28"], labels: ["zone": "east"]), Self.pool("b", ["192.0.2.16/28"])],
            l2Advertisements: [
                Self.l2("all"),
                Self.l2(
                    "east",
                    [
                        "ipAddressPoolSelectors": [["matchLabels": ["zone": "east"]]],
                        "nodeSelectors": [["matchLabels": ["rack": "1"]]],
                    ]),
            ]
        ).get()
        let a = config.pool(named: "a")!
        let b = config.pool(named: "b")!
        let all = config.l2Advertisements[0]
        let east = config.l2Advertisements[1]
        #expect(all.covers(a) && all.covers(b))
        #expect(east.covers(a) && !east.covers(b))
        #expect(east.allows(nodeLabels: ["rack": "1"]) && !east.allows(nodeLabels: ["rack": "2"]))
    }

    @Test func avoidBuggyIPs() throws {
        let config = try Configuration.parse(
            pools: [Self.pool("p", ["192.0.2.0/23"], extra: ["avoidBuggyIPs": true])], l2Advertisements: []
        ).get()
        let pool = config.pool(named: "p")!
        #expect(pool.capacity(.ipv4) == 512 - 4)
        #expect(!pool.offers(IPAddress("192.0.2.255")!))
        #expect(!pool.offers(IPAddress("192.0.3.0")!))
        #expect(pool.offers(IPAddress("192.0.3.1")!))
        #expect(pool.contains(IPAddress("192.0.3.0")!))
    }

    /// MetalLB's configuration cases that must be refused (`internal/config/config_test.go`), each by its field.
    @Test func metalLBRefusals() {
        let gold: JSON = ["matchLabels": ["tier": "gold"]]
        let cases: [(String, [JSON], [JSON], String)] = [
            (
                "duplicate namespace selection",
                [Self.pool("pool1", ["10.20.0.0/16"], extra: ["serviceAllocation": ["namespaces": ["ns1", "ns1"]]])],
                [], "spec.serviceAllocation.namespaces[1]: duplicate namespace \"ns1\""
            ),
            (
                "duplicate namespace selectors",
                [
                    Self.pool(
                        "pool1", ["10.20.0.0/16"], extra: ["serviceAllocation": ["namespaceSelectors": [gold, gold]]])
                ],
                [], "spec.serviceAllocation.namespaceSelectors[1]: duplicate selector"
            ),
            (
                "duplicate service selection",
                [
                    Self.pool(
                        "pool1", ["10.20.0.0/16"], extra: ["serviceAllocation": ["serviceSelectors": [gold, gold]]])
                ],
                [], "spec.serviceAllocation.serviceSelectors[1]: duplicate selector"
            ),
            ("no pool name", [Self.pool("", ["10.20.0.0/16"])], [], "metadata.name: a pool needs a name"),
            ("address pool with no address", [Self.pool("pool1", [])], [], "at least one address range"),
            ("invalid pool CIDR", [Self.pool("pool1", ["100.200.300.400/24"])], [], "invalid CIDR"),
            ("invalid pool CIDR prefix length", [Self.pool("pool1", ["1.2.3.0/33"])], [], "invalid CIDR"),
            ("range backwards", [Self.pool("pool1", ["1.2.3.10-1.2.3.1"])], [], "is after"),
            (
                "duplicate pool definition",
                [Self.pool("pool1", ["10.0.0.0/16"]), Self.pool("pool1", ["10.1.0.0/16"])], [], "duplicate pool name"
            ),
            (
                "duplicate CIDRs", [Self.pool("pool1", [" 10.0.0.0/8"]), Self.pool("pool2", [" 10.0.0.0/8"])], [],
                "overlaps"
            ),
            (
                "overlapping CIDRs", [Self.pool("pool1", [" 10.0.0.0/8"]), Self.pool("pool2", ["10.0.0.0/16"])], [],
                "overlaps"
            ),
            (
                "duplicate ip address pools in an L2Advertisement", [Self.pool("pool1", ["10.20.0.0/16"])],
                [Self.l2("adv1", ["ipAddressPools": ["pool1", "pool1"]])],
                "spec.ipAddressPools[1]: duplicate pool \"pool1\""
            ),
            (
                "duplicate ip pool selectors in an L2Advertisement", [Self.pool("pool1", ["10.20.0.0/16"])],
                [Self.l2("adv1", ["ipAddressPoolSelectors": [gold, gold]])],
                "spec.ipAddressPoolSelectors[1]: duplicate selector"
            ),
            (
                "duplicate node selectors in an L2Advertisement", [Self.pool("pool1", ["10.20.0.0/16"])],
                [Self.l2("adv1", ["nodeSelectors": [gold, gold]])], "spec.nodeSelectors[1]: duplicate selector"
            ),
        ]
        for (desc, pools, l2, expected) in cases {
            guard case .failure(let errors) = Configuration.parse(pools: pools, l2Advertisements: l2) else {
                Issue.record("\(desc): accepted")
                continue
            }
            #expect(errors.description.contains(expected), "\(desc): \(errors)")
        }
    }
}

@Suite struct IPRangeTests {
    @Test func parsesBothForms() throws {
        let cidr = try IPRange(parsing: "2001:db8::/126")
        #expect(cidr.count == 4)
        #expect(cidr.description == "2001:db8::-2001:db8::3")
        let range = try IPRange(parsing: "192.0.2.10 - 192.0.2.20")
        #expect(range.count == 11)
        #expect(range.contains(IPAddress("192.0.2.20")!))
        #expect(!range.contains(IPAddress("192.0.2.21")!))
        #expect(range.address(at: 10)?.description == "192.0.2.20")
        #expect(range.address(at: 11) == nil)
        #expect(range.overlaps(try IPRange(parsing: "192.0.2.20/32")))
        #expect(!range.overlaps(try IPRange(parsing: "2001:db8::/64")))
    }
}
