import Allocator
import KubeAPI
import LoadBalancerConfig
import NetCore
import OrderedCollections
import Testing

/// MetalLB's allocator cases (`internal/allocator/allocator_test.go`: TestAssignment, TestPoolAllocation,
/// TestAllocation, TestBuggyIPs, TestConfigReload, TestAutoAssign, TestPoolCount) and the assignment rules of its
/// controller and e2e tests (`controller/service.go`, `e2etest/l2tests/assignment.go`), as a user observes them:
/// which Service gets which addresses. MetalLB's own tables put one range in several pools; Pylon refuses
/// overlapping pools, as MetalLB's configuration parser does, so the pools here are the same shapes without the
/// overlap.
@Suite struct MetalLBParityTests {
    static func ip(_ s: String) -> IPAddress { IPAddress(s)! }

    static func configuration(_ pools: [JSON]) throws -> Configuration {
        try Configuration.parse(pools: pools, l2Advertisements: []).get()
    }

    /// One step of a table: a Service asking for `ips` (none: the Service goes away), and whether it gets them.
    struct Step {
        var desc: String
        var key: String
        var namespace = "default"
        var labels: [String: String] = [:]
        var ips: [String]
        var ports: [String] = []
        var sharing: String? = nil
        var backend = ""
        var ok = true

        func request() -> ServiceRequest {
            let requested = ips.map(MetalLBParityTests.ip)
            let families: ServiceRequest.Families =
                requested.count == 2 ? .requireDual(primary: requested[0].family) : .single(requested[0].family)
            return ServiceRequest(
                namespace: namespace, name: key, labels: labels, families: families, requestedIPs: requested,
                sharingKey: sharing,
                ports: ports.map { p in
                    let parts = p.split(separator: "/")
                    return .init(Int(parts[1])!, parts[0].uppercased())
                }, backendKey: backend)
        }
    }

    static func run(_ steps: [Step], _ allocator: inout Allocator) {
        for step in steps {
            if step.ips.isEmpty {
                allocator.release("\(step.namespace)/\(step.key)")
                continue
            }
            let result = allocator.assign(step.request())
            switch result {
            case .success(let assignment):
                #expect(step.ok, "\(step.desc): should have failed, got \(assignment.ips)")
                #expect(assignment.ips == step.ips.map(ip), "\(step.desc)")
            case .failure(let failure):
                #expect(!step.ok, "\(step.desc): \(failure)")
            }
        }
    }

    static func pool(_ name: String, _ addresses: [String], _ extra: JSON = [:]) -> JSON {
        AllocatorTests.pool(name, addresses, extra)
    }

    /// TestAssignment: requested addresses, sharing, buggy addresses, dual-stack and pinned pools.
    @Test func requestedAddresses() throws {
        let config = try Self.configuration([
            Self.pool("test", ["1.2.3.4/31", "1000::4/127"]),
            Self.pool("test2", ["1.2.4.0/24", "1000::4:0/120"], ["avoidBuggyIPs": true]),
            Self.pool(
                "test3", ["1.2.5.0/24", "1000::5:0/120"],
                ["avoidBuggyIPs": true, "serviceAllocation": ["namespaces": ["test-ns1"]]]),
            Self.pool(
                "test4", ["1.2.6.0/24", "1000::6:0/120"],
                [
                    "avoidBuggyIPs": true,
                    "serviceAllocation": ["serviceSelectors": [["matchLabels": ["team": "metallb"]]]],
                ]),
            Self.pool(
                "test5", ["1.2.7.0/24", "1000::7:0/120"],
                [
                    "avoidBuggyIPs": true,
                    "serviceAllocation": [
                        "priority": 20, "namespaces": ["test-ns1"],
                        "serviceSelectors": [["matchLabels": ["team": "metallb"]]],
                    ],
                ]),
            Self.pool(
                "test6", ["1.2.8.0/24", "1000::9:0/120"],
                [
                    "avoidBuggyIPs": true,
                    "serviceAllocation": [
                        "priority": 20, "namespaces": ["test-ns2"],
                        "serviceSelectors": [["matchLabels": ["foo": "bar"]]],
                    ],
                ]),
        ])
        var a = Allocator(configuration: config)
        var steps: [Step] = []
        for (one, other, buggy, spare) in [
            ("1.2.3.4", "1.2.3.5", ["1.2.4.0", "1.2.4.255"], "1.2.4.254"),
            ("1000::4", "1000::5", [], "1000::4:fe"),
        ] {
            let shared = one.contains(":") ? "1000::4:3" : "1.2.4.3"
            steps += [
                Step(desc: "assign s1", key: "s1", ips: [one]),
                Step(desc: "s1 idempotent reassign", key: "s1", ips: [one]),
                Step(desc: "s2 can't grab s1's IP", key: "s2", ips: [one], ok: false),
                Step(desc: "s2 can get the other IP", key: "s2", ips: [other]),
                Step(desc: "s1 now can't grab s2's IP", key: "s1", ips: [other], ok: false),
                Step(desc: "s1 frees its IP", key: "s1", ips: []),
                Step(desc: "s2 can grab s1's former IP", key: "s2", ips: [one]),
                Step(desc: "s1 can now grab s2's former IP", key: "s1", ips: [other]),
            ]
            steps += buggy.map { Step(desc: "s3 cannot grab buggy \($0)", key: "s3", ips: [$0], ok: false) }
            steps += [
                Step(desc: "s3 can grab another IP in that pool", key: "s3", ips: [spare]),
                Step(
                    desc: "s4 takes an IP, with sharing", key: "s4", ips: [shared], ports: ["tcp/80"],
                    sharing: "sharing", backend: "backend"),
                Step(
                    desc: "s4 changes its sharing key in place", key: "s4", ips: [shared], ports: ["tcp/80"],
                    sharing: "share", backend: "backend"),
                Step(
                    desc: "s3 can't share with s4 (port conflict)", key: "s3", ips: [shared], ports: ["tcp/80"],
                    sharing: "share", backend: "backend", ok: false),
                Step(
                    desc: "s3 can't share with s4 (wrong sharing key)", key: "s3", ips: [shared],
                    ports: ["tcp/443"], sharing: "othershare", backend: "backend", ok: false),
                Step(
                    desc: "s3 can't share with s4 (wrong backend key)", key: "s3", ips: [shared],
                    ports: ["tcp/443"], sharing: "share", backend: "otherbackend", ok: false),
                Step(
                    desc: "s3 takes the same IP as s4", key: "s3", ips: [shared], ports: ["tcp/443"], sharing: "share",
                    backend: "backend"),
                Step(
                    desc: "s3 can change its ports while keeping the same IP", key: "s3", ips: [shared],
                    ports: ["udp/53"], sharing: "share", backend: "backend"),
                Step(
                    desc: "s3 can't change its sharing key while keeping the same IP", key: "s3", ips: [shared],
                    ports: ["tcp/443"], sharing: "othershare", backend: "backend", ok: false),
                Step(
                    desc: "s3 can't change its backend key while keeping the same IP", key: "s3", ips: [shared],
                    ports: ["tcp/443"], sharing: "share", backend: "otherbackend", ok: false),
                Step(desc: "s4 takes s3's former IP", key: "s4", ips: [spare]),
                Step(desc: "s1 frees", key: "s1", ips: []), Step(desc: "s2 frees", key: "s2", ips: []),
                Step(desc: "s3 frees", key: "s3", ips: []), Step(desc: "s4 frees", key: "s4", ips: []),
            ]
        }
        steps += [
            Step(desc: "ip dual-stack assign s1", key: "s1", ips: ["1.2.3.4", "1000::4"]),
            Step(
                desc: "ip dual-stack assign s1 from different pools", key: "s1", ips: ["1.2.4.5", "1000::4"], ok: false),
            Step(desc: "s1 frees", key: "s1", ips: []),
            Step(desc: "pool pinned on the same namespace", key: "s1", namespace: "test-ns1", ips: ["1.2.5.10"]),
            Step(
                desc: "pool pinned on a different namespace", key: "s1", namespace: "testns-not-exist",
                ips: ["1.2.5.10"], ok: false),
            Step(
                desc: "pool pinned with the same service label", key: "s1", namespace: "testns-not-exist",
                labels: ["team": "metallb"], ips: ["1.2.6.10"]),
            Step(
                desc: "pool pinned with a different service label", key: "s1", namespace: "testns-not-exist",
                labels: ["team": "red"], ips: ["1.2.6.10"], ok: false),
            Step(
                desc: "pool pinned with namespace and service label", key: "s1", namespace: "test-ns1",
                labels: ["team": "metallb"], ips: ["1.2.7.10"]),
            Step(
                desc: "pool pinned with namespace and an incompatible service label", key: "s1",
                namespace: "test-ns2", labels: ["team": "metallb"], ips: ["1.2.8.10"], ok: false),
            Step(
                desc: "pool pinned with service label and an incompatible namespace", key: "s1",
                namespace: "testns-not-exist", labels: ["foo": "bar"], ips: ["1.2.8.10"], ok: false),
        ]
        Self.run(steps, &a)
    }

    /// TestPoolAllocation and TestAllocation: a pool of four addresses per family fills up; sharing lets one more
    /// Service in; a freed address goes to the next Service; dual-stack takes one of each.
    @Test func poolsFillUpAndSharingLetsMoreIn() throws {
        let config = try Self.configuration([
            Self.pool("test", ["1.2.3.4/31", "1.2.3.10/31", "1000::/127", "2000::/127"], ["autoAssign": false])
        ])
        for families in [ServiceRequest.Families.single(.ipv4), .single(.ipv6), .requireDual(primary: .ipv4)] {
            var a = Allocator(configuration: config)
            func request(_ name: String, sharing: String? = nil, ports: [Int] = [80]) -> ServiceRequest {
                ServiceRequest(
                    namespace: "d", name: name, families: families, requestedPool: "test", sharingKey: sharing,
                    ports: ports.map { .init($0) })
            }
            var given: [IPAddress] = []
            for name in ["s1", "s2", "s3", "s4"] {
                let ips = try a.assign(request(name)).get().ips
                #expect(ips.count == (families == .single(.ipv4) || families == .single(.ipv6) ? 1 : 2))
                if ips.count == 2 { #expect(ips[0].family == .ipv4 && ips[1].family == .ipv6, "IPv4 first") }
                given += ips
            }
            #expect(Set(given).count == given.count, "no address given twice")
            #expect(a.assign(request("s5")) == .failure(.poolsExhausted(["test"])), "s5 can't get one")
            #expect(a.assign(request("s6")) == .failure(.poolsExhausted(["test"])), "s6 can't get one")
            let s1 = a.assignment(of: "d/s1")!.ips
            a.release("d/s1")
            #expect(try a.assign(request("s5")).get().ips == s1, "s5 can now grab s1's former address")
            #expect(a.assign(request("s6")) == .failure(.poolsExhausted(["test"])), "s6 still can't")
            a.release("d/s5")
            #expect(try a.assign(request("s5", sharing: "share", ports: [80])).get().ips == s1, "s5 enables sharing")
            #expect(
                try a.assign(request("s6", sharing: "share", ports: [443])).get().ips == s1,
                "s6 gets an address now, with sharing")
            #expect(
                a.assign(request("s7", sharing: "share", ports: [80])) == .failure(.poolsExhausted(["test"])),
                "the same port again does not share")
        }
    }

    /// TestPoolAllocation's PreferDualStack steps and the e2e "PREFER DUALSTACK" cases: a dual-stack pool is
    /// preferred; among single-stack pools the primary family's; a pool gaining the other family adds an address
    /// and keeps the first; a Service from a single-stack pool does not jump to a dual-stack one.
    @Test func preferDualStack() throws {
        let v4 = Self.pool("test-ns-ipv4-pool", ["192.168.10.100/32"])
        let v6 = Self.pool("test-ns-ipv6-pool", ["fc00:f853:ccd:e799::/124"])
        let dual = Self.pool("test-ns-dualstack-pool", ["192.168.11.100/32", "fc00:f853:ccd:e800::/124"])
        func prefer(_ name: String, _ primary: IPFamily = .ipv4) -> ServiceRequest {
            ServiceRequest(namespace: "t", name: name, families: .preferDual(primary: primary))
        }
        // Should select dual-stack pool if available (its name sorts after the single-stack ones).
        var a = Allocator(configuration: try Self.configuration([v4, v6, dual]))
        #expect(
            try a.assign(prefer("svc1")).get()
                == Assignment(
                    pool: "test-ns-dualstack-pool", ips: [Self.ip("192.168.11.100"), Self.ip("fc00:f853:ccd:e800::")]))
        // Among single-stack pools, the primary family's, whichever comes first.
        a = Allocator(configuration: try Self.configuration([v6, v4]))
        #expect(try a.assign(prefer("svc2")).get().ips == [Self.ip("192.168.10.100")])
        a = Allocator(configuration: try Self.configuration([v4, v6]))
        #expect(try a.assign(prefer("svc2", .ipv6)).get().ips == [Self.ip("fc00:f853:ccd:e799::")])
        // No pool has the primary family: the other one, as MetalLB does.
        a = Allocator(configuration: try Self.configuration([v6]))
        #expect(try a.assign(prefer("svc3")).get().ips == [Self.ip("fc00:f853:ccd:e799::")])

        // Additional ip when the assigned single-stack pool becomes dual-stack; the first address stays.
        let pinned: JSON = ["serviceAllocation": ["namespaces": ["t"]]]
        a = Allocator(configuration: try Self.configuration([Self.pool("p", ["192.168.10.100/32"], pinned)]))
        #expect(try a.assign(prefer("svc1")).get().ips == [Self.ip("192.168.10.100")])
        #expect(
            a.reconfigure(
                try Self.configuration([Self.pool("p", ["192.168.10.0/24", "fc00:f853:ccd:e799::/124"], pinned)])
            ).isEmpty)
        #expect(
            try a.assign(prefer("svc1")).get().ips == [Self.ip("192.168.10.100"), Self.ip("fc00:f853:ccd:e799::")])
        #expect(a.inUse(pool: "p", family: .ipv6) == 1)

        // Between PreferDualStack and RequireDualStack on a single-stack pool.
        a = Allocator(configuration: try Self.configuration([Self.pool("p", ["192.168.10.100/32"], pinned)]))
        #expect(try a.assign(prefer("svc1")).get().ips == [Self.ip("192.168.10.100")])
        let require = ServiceRequest(namespace: "t", name: "svc1", families: .requireDual(primary: .ipv4))
        #expect(a.assign(require) == .failure(.familyUnavailable(.ipv6)))
        #expect(try a.assign(prefer("svc1")).get().ips == [Self.ip("192.168.10.100")])

        // Assigned from a single-stack pool: does not jump when a dual-stack pool appears.
        a = Allocator(configuration: try Self.configuration([v4]))
        #expect(try a.assign(prefer("svc1")).get().ips == [Self.ip("192.168.10.100")])
        #expect(a.reconfigure(try Self.configuration([v4, dual])).isEmpty)
        #expect(try a.assign(prefer("svc1")).get().ips == [Self.ip("192.168.10.100")])

        // The dual-stack pool it came from loses IPv4: another dual-stack pool gives both.
        let edited = Self.pool("test-ns-dualstack-pool-to-edit", ["192.168.10.100/32", "fc00:f853:ccd:e799::/124"])
        a = Allocator(configuration: try Self.configuration([edited]))
        #expect(try a.assign(prefer("svc1")).get().ips.count == 2)
        let released = a.reconfigure(
            try Self.configuration([
                Self.pool("test-ns-dualstack-pool-to-edit", ["fc00:f853:ccd:e799::/124"]), dual,
            ]))
        #expect(released == ["t/svc1"])
        #expect(
            try a.assign(prefer("svc1")).get()
                == Assignment(
                    pool: "test-ns-dualstack-pool", ips: [Self.ip("192.168.11.100"), Self.ip("fc00:f853:ccd:e800::")]))
    }

    /// TestBuggyIPs: `.0` and `.255` are handed out unless the pool avoids them.
    @Test func buggyAddresses() throws {
        var a = Allocator(
            configuration: try Self.configuration([
                Self.pool("test", ["1.2.3.0/31"]), Self.pool("test2", ["1.2.3.254/31"]),
                Self.pool("test3", ["1.2.4.0/31"], ["avoidBuggyIPs": true]),
                Self.pool("test4", ["1.2.4.254/31"], ["avoidBuggyIPs": true]),
            ]))
        var given: Set<IPAddress> = []
        for i in 1...6 { given.insert(try a.assign(ServiceRequest(namespace: "d", name: "s\(i)")).get().ips[0]) }
        #expect(given == Set(["1.2.3.0", "1.2.3.1", "1.2.3.254", "1.2.3.255", "1.2.4.1", "1.2.4.254"].map(Self.ip)))
        #expect(a.assign(ServiceRequest(namespace: "d", name: "s7")).failureDescription?.contains("exhausted") == true)
    }

    /// TestConfigReload: what a new configuration keeps, moves and releases.
    @Test func configurationReload() throws {
        let start = try Self.configuration([
            Self.pool("test", ["1.2.3.0/30", "1000::/126"]), Self.pool("unused", ["1.2.4.0/30", "1001::/126"]),
        ])
        let cases: [(String, [JSON], s1: String?, s2: String?)] = [
            ("set same config is no-op", [Self.pool("test", ["1.2.3.0/30", "1000::/126"])], "test", "test"),
            ("expand pool", [Self.pool("test", ["1.2.3.0/24", "1000::/120"])], "test", "test"),
            ("can't shrink further", [Self.pool("test", ["1.2.3.2/31", "1000::0/126"])], nil, "test"),
            ("can't shrink further ipv6", [Self.pool("test", ["1.2.3.0/30", "1000::2/127"])], "test", nil),
            ("rename the pool", [Self.pool("test2", ["1.2.3.0/30", "1000::0/126"])], "test2", "test2"),
            (
                "split pool",
                [Self.pool("test", ["1.2.3.0/31", "1000::2/127"]), Self.pool("test2", ["1.2.3.2/31", "1000::/127"])],
                "test", "test2"
            ),
            (
                "enable buggy IPs not allowed",
                [Self.pool("test2", ["1.2.3.0/31", "1000::/127"], ["avoidBuggyIPs": true])], nil, "test2"
            ),
        ]
        for (desc, pools, s1, s2) in cases {
            var a = Allocator(configuration: start)
            _ = try a.assign(ServiceRequest(namespace: "d", name: "s1", requestedIPs: [Self.ip("1.2.3.0")])).get()
            _ = try a.assign(
                ServiceRequest(namespace: "d", name: "s2", families: .single(.ipv6), requestedIPs: [Self.ip("1000::")])
            ).get()
            let released = a.reconfigure(try Self.configuration(pools))
            #expect(a.assignment(of: "d/s1")?.pool == s1, "\(desc): s1")
            #expect(a.assignment(of: "d/s2")?.pool == s2, "\(desc): s2")
            #expect(released == [s1 == nil ? "d/s1" : nil, s2 == nil ? "d/s2" : nil].compactMap { $0 }, "\(desc)")
            if s1 != nil { #expect(a.assignment(of: "d/s1")?.ips == [Self.ip("1.2.3.0")], "\(desc): same address") }
        }
    }

    /// TestAutoAssign: pools with `autoAssign: false` are skipped unless asked for.
    @Test func autoAssign() throws {
        let config = try Self.configuration([
            Self.pool("test1", ["1.2.3.4/31", "1000::4/127"], ["autoAssign": false]),
            Self.pool("test2", ["1.2.3.10/31", "1000::10/127"]),
        ])
        for families in [ServiceRequest.Families.single(.ipv4), .single(.ipv6), .requireDual(primary: .ipv4)] {
            var a = Allocator(configuration: config)
            for name in ["s1", "s2"] {
                #expect(
                    try a.assign(ServiceRequest(namespace: "d", name: name, families: families)).get().pool == "test2")
            }
            for name in ["s3", "s4", "s5"] {
                #expect(
                    a.assign(ServiceRequest(namespace: "d", name: name, families: families))
                        == .failure(.poolsExhausted(["test2"])))
            }
        }
    }

    /// TestPoolCount: a pool's capacity per family, with and without avoidBuggyIPs.
    @Test func poolCapacity() throws {
        let cases: [([String], Bool, v4: UInt128, v6: UInt128)] = [
            (["1.2.3.0/24"], false, 256, 0),
            (["1.2.3.0/24", "2.3.4.128/25"], false, 384, 0),
            (["1.2.3.0/24", "2.3.4.128/25"], true, 381, 0),
            (["1.2.3.0/24", "1000::/64"], false, 256, UInt128(1) << 64),
        ]
        for (addresses, buggy, v4, v6) in cases {
            let pool = try Self.configuration([Self.pool("p", addresses, ["avoidBuggyIPs": .bool(buggy)])]).pools[0]
            #expect(pool.capacity(.ipv4) == v4, "\(addresses)")
            #expect(pool.capacity(.ipv6) == v6, "\(addresses)")
        }
    }

    /// The e2e "Validate service allocation in address pools" cases (`e2etest/l2tests/assignment.go`): three
    /// Services of one namespace fill the pools in MetalLB's order, and a relabelled namespace's next Service gets
    /// the pool its new labels select; "IPV4 removing pools" too.
    @Test func serviceAllocationInAddressPools() throws {
        let ns = "e2e"
        func pool(_ name: String, _ address: String, _ allocation: JSON?) -> JSON {
            Self.pool(name, [address], allocation.map { ["serviceAllocation": $0] } ?? [:])
        }
        func fill(_ pools: [JSON], labels: [String: String] = [:], nsLabels: [String: String] = [:]) throws -> [String]
        {
            var a = Allocator(configuration: try Self.configuration(pools))
            return try (1...pools.count).map {
                try a.assign(
                    ServiceRequest(namespace: ns, name: "svc\($0)", labels: labels, namespaceLabels: nsLabels)
                ).get().pool
            }
        }
        let noPriority = pool("ns-e2e-ip-pool", "192.168.20.0/32", ["namespaces": [.string(ns)]])
        // with namespace
        #expect(
            try fill([
                pool("test-ns-pool-1", "192.168.5.0/32", ["priority": 20, "namespaces": [.string(ns)]]),
                pool("test-ns-pool-2", "192.168.10.0/32", ["priority": 10, "namespaces": [.string(ns)]]), noPriority,
            ]) == ["test-ns-pool-2", "test-ns-pool-1", "ns-e2e-ip-pool"])
        // with only priority
        #expect(
            try fill([
                pool("test-priority-pool-1", "192.168.5.0/32", ["priority": 20]),
                pool("test-priority-pool-2", "192.168.10.0/32", ["priority": 10]),
            ]) == ["test-priority-pool-2", "test-priority-pool-1"])
        // with namespace and namespace labels
        #expect(
            try fill(
                [
                    pool("test-ns-label-pool-1", "192.168.5.0/32", ["priority": 20, "namespaces": [.string(ns)]]),
                    pool(
                        "test-ns-label-pool-2", "192.168.10.0/32",
                        ["priority": 10, "namespaceSelectors": [["matchLabels": ["foo1": "bar1", "foo2": "bar2"]]]]),
                    noPriority,
                ], nsLabels: ["foo1": "bar1", "foo2": "bar2"])
                == ["test-ns-label-pool-2", "test-ns-label-pool-1", "ns-e2e-ip-pool"])
        // with service label
        let e2e: JSON = [["matchLabels": ["test": "e2e"]]]
        #expect(
            try fill(
                [
                    pool("test-svc-label-pool-1", "192.168.5.0/32", ["priority": 20, "serviceSelectors": e2e]),
                    pool("test-svc-label-pool-2", "192.168.10.0/32", ["priority": 10, "serviceSelectors": e2e]),
                    noPriority,
                ], labels: ["test": "e2e"]) == ["test-svc-label-pool-2", "test-svc-label-pool-1", "ns-e2e-ip-pool"])
        // with namespace and service label
        #expect(
            try fill(
                [
                    pool("test-ns-svc-label-pool-1", "192.168.5.0/32", ["priority": 20, "namespaces": [.string(ns)]]),
                    pool("test-ns-svc-label-pool-2", "192.168.10.0/32", ["priority": 10, "serviceSelectors": e2e]),
                    noPriority,
                ], labels: ["test": "e2e"])
                == ["test-ns-svc-label-pool-2", "test-ns-svc-label-pool-1", "ns-e2e-ip-pool"])

        // with namespace with labels, then the second namespace relabelled
        let first = ["first": "ns"]
        let second = ["second": "ns"]
        var relabelled = second
        relabelled["newLabel"] = "true"
        let selecting: (Int, [String: String]) -> JSON = { priority, labels in
            [
                "priority": .int(Int64(priority)),
                "namespaceSelectors": [
                    ["matchLabels": .object(.init(uniqueKeysWithValues: labels.map { ($0, JSON.string($1)) }))]
                ],
            ]
        }
        var a = Allocator(
            configuration: try Self.configuration([
                pool("first-ns-labels-ip-pool", "192.168.20.0/32", selecting(10, first)),
                pool("second-ns-labels-ip-pool", "192.168.30.0/32", selecting(10, second)),
                pool("second-ns-labels-higher-priority-ip-pool", "192.168.50.0/32", selecting(5, relabelled)),
                pool("no-ns-labels-ip-pool", "192.168.40.0/32", nil),
            ]))
        func assign(_ namespace: String, _ name: String, _ labels: [String: String]) throws -> String {
            try a.assign(ServiceRequest(namespace: namespace, name: name, namespaceLabels: labels)).get().pool
        }
        #expect(try assign("second", "second-ns-service", second) == "second-ns-labels-ip-pool")
        #expect(try assign(ns, "default-ns-service", first) == "first-ns-labels-ip-pool")
        #expect(try assign(ns, "default-ns-service2", first) == "no-ns-labels-ip-pool")
        #expect(try assign("second", "second-ns-service", relabelled) == "second-ns-labels-ip-pool", "kept")
        #expect(try assign("second", "second-ns-service2", relabelled) == "second-ns-labels-higher-priority-ip-pool")

        // IPV4 removing pools: all pools gone clears; pool 1 gone moves the Service to pool 2.
        let removing = [
            pool("test-ns-pool-1", "192.168.5.0/32", ["priority": 20, "namespaces": [.string(ns)]]),
            pool("test-ns-pool-2", "192.168.10.0/32", nil),
        ]
        a = Allocator(configuration: try Self.configuration(removing))
        #expect(try assign(ns, "svc", [:]) == "test-ns-pool-1")
        #expect(a.reconfigure(Configuration()) == ["e2e/svc"])
        #expect(a.assign(ServiceRequest(namespace: ns, name: "svc")) == .failure(.noPoolMatches([])))
        a = Allocator(configuration: try Self.configuration(removing))
        #expect(try assign(ns, "svc", [:]) == "test-ns-pool-1")
        #expect(a.reconfigure(try Self.configuration([removing[1]])) == ["e2e/svc"])
        #expect(try assign(ns, "svc", [:]) == "test-ns-pool-2")
    }

    /// Differs on purpose: a pool whose `namespaceSelectors` select no namespace admits no Service, also not for a
    /// requested address (MetalLB's empty namespace set reads as "no restriction" there).
    @Test func aPoolSelectingNoNamespaceAdmitsNobody() throws {
        var a = Allocator(
            configuration: try Self.configuration([
                Self.pool(
                    "p", ["192.0.2.0/30"],
                    ["serviceAllocation": ["namespaceSelectors": [["matchLabels": ["tier": "none"]]]]])
            ]))
        #expect(
            a.assign(ServiceRequest(namespace: "d", name: "x", requestedIPs: [Self.ip("192.0.2.1")]))
                == .failure(
                    .noPoolMatches([.init(pool: "p", reason: "the service is not admitted by serviceAllocation")])))
    }

    // MARK: The differences found (issue 20), each failing before its fix

    /// 1. A pool restricted to a namespace (no priority) is tried before an unrestricted pool, whatever the names.
    @Test func pinnedPoolBeforeUnrestrictedOne() throws {
        var a = Allocator(
            configuration: try Self.configuration([
                Self.pool("a-general", ["198.51.100.0/30"]),
                Self.pool("z-team", ["203.0.113.0/30"], ["serviceAllocation": ["namespaces": ["team"]]]),
                Self.pool("m-only-priority", ["192.0.2.0/30"], ["serviceAllocation": ["priority": 0]]),
            ]))
        #expect(try a.assign(ServiceRequest(namespace: "team", name: "x")).get().pool == "m-only-priority")
        a.release("team/x")
        var b = Allocator(
            configuration: try Self.configuration([
                Self.pool("a-general", ["198.51.100.0/30"]),
                Self.pool("z-team", ["203.0.113.0/31"], ["serviceAllocation": ["namespaces": ["team"]]]),
            ]))
        #expect(try b.assign(ServiceRequest(namespace: "team", name: "x")).get().pool == "z-team")
        #expect(try b.assign(ServiceRequest(namespace: "other", name: "y")).get().pool == "a-general")
        #expect(try b.assign(ServiceRequest(namespace: "team", name: "x2")).get().pool == "z-team")
        #expect(
            try b.assign(ServiceRequest(namespace: "team", name: "x3")).get().pool == "a-general",
            "the pinned pool full: the unrestricted ones")
        // MetalLB: priority 0 is no priority; a pool with a priority comes before every other.
        var c = Allocator(
            configuration: try Self.configuration([
                Self.pool("a", ["198.51.100.0/30"], ["serviceAllocation": ["priority": 0]]),
                Self.pool("b", ["203.0.113.0/30"], ["serviceAllocation": ["priority": 5]]),
            ]))
        #expect(try c.assign(ServiceRequest(namespace: "d", name: "x")).get().pool == "b")
    }

    /// 3. Removing the request annotations keeps an assignment from an `autoAssign: false` pool.
    @Test func validAssignmentKeptWhenRequestRemoved() throws {
        var a = Allocator(
            configuration: try Self.configuration([
                Self.pool("manual", ["192.0.2.0/30"], ["autoAssign": false]), Self.pool("auto", ["198.51.100.0/30"]),
            ]))
        #expect(
            try a.assign(ServiceRequest(namespace: "d", name: "x", requestedPool: "manual")).get().ips == [
                Self.ip("192.0.2.0")
            ])
        #expect(try a.assign(ServiceRequest(namespace: "d", name: "x")).get().ips == [Self.ip("192.0.2.0")])
        #expect(
            try a.assign(ServiceRequest(namespace: "d", name: "y", requestedIPs: [Self.ip("192.0.2.3")])).get().ips
                == [Self.ip("192.0.2.3")])
        #expect(try a.assign(ServiceRequest(namespace: "d", name: "y")).get().ips == [Self.ip("192.0.2.3")])
        // Naming another pool or address does move it.
        #expect(try a.assign(ServiceRequest(namespace: "d", name: "x", requestedPool: "auto")).get().pool == "auto")
        // A restart restores it too.
        var b = Allocator(configuration: a.configuration)
        #expect(
            b.restore(ServiceRequest(namespace: "d", name: "y"), ips: [Self.ip("192.0.2.3")])
                == .success(Assignment(pool: "manual", ips: [Self.ip("192.0.2.3")])))
    }

    /// 4. A CIDR with host bits is its network, with a warning; MetalLB reads it with Go's `net.ParseCIDR`.
    @Test func cidrWithHostBitsIsItsNetwork() throws {
        let config = try Self.configuration([Self.pool("p", ["198.51.100.77/29", "2001:db8::7/126"])])
        #expect(
            config.pools[0].ranges == [
                try IPRange(parsing: "198.51.100.72/29"), try IPRange(parsing: "2001:db8::4/126"),
            ])
        #expect(
            config.warnings.map(\.description) == [
                "IPAddressPool \"p\": spec.addresses[0]: 198.51.100.77/29 has host bits set; read as 198.51.100.72/29, as MetalLB reads it",
                "IPAddressPool \"p\": spec.addresses[1]: 2001:db8::7/126 has host bits set; read as 2001:db8::4/126, as MetalLB reads it",
            ])
        var a = Allocator(configuration: config)
        #expect(try a.assign(ServiceRequest(namespace: "d", name: "x")).get().ips == [Self.ip("198.51.100.72")])
        #expect(try Self.configuration([Self.pool("p", ["198.51.100.72/29"])]).warnings.isEmpty)
    }

    /// 7. A dual-stack Service gets its addresses IPv4 first, whatever its primary family.
    @Test func dualStackIsIPv4First() throws {
        var a = Allocator(configuration: try Self.configuration([Self.pool("p", ["2001:db8::/126", "192.0.2.0/30"])]))
        for families in [ServiceRequest.Families.requireDual(primary: .ipv6), .preferDual(primary: .ipv6)] {
            let name = "\(families)".hasPrefix("require") ? "r" : "p"
            let ips = try a.assign(ServiceRequest(namespace: "d", name: name, families: families)).get().ips
            #expect(ips.map(\.family) == [.ipv4, .ipv6], "\(families)")
        }
    }

    /// 8. PreferDualStack takes a dual-stack pool over an earlier single-stack one.
    @Test func preferDualStackTakesTheDualStackPool() throws {
        var a = Allocator(
            configuration: try Self.configuration([
                Self.pool("a-v4", ["192.0.2.0/30"]), Self.pool("b-dual", ["198.51.100.0/30", "2001:db8::/126"]),
            ]))
        let assignment = try a.assign(ServiceRequest(namespace: "d", name: "x", families: .preferDual(primary: .ipv4)))
            .get()
        #expect(assignment == Assignment(pool: "b-dual", ips: [Self.ip("198.51.100.0"), Self.ip("2001:db8::")]))
    }

    /// 9. A PreferDualStack Service whose pool gains IPv6 keeps its IPv4 address and adds an IPv6 one.
    @Test func preferDualStackKeepsItsAddressWhenThePoolGainsAFamily() throws {
        var a = Allocator(configuration: try Self.configuration([Self.pool("p", ["192.0.2.0/30"])]))
        _ = try a.assign(ServiceRequest(namespace: "d", name: "first")).get()
        let request = ServiceRequest(namespace: "d", name: "x", families: .preferDual(primary: .ipv4))
        #expect(try a.assign(request).get().ips == [Self.ip("192.0.2.1")])
        a.release("d/first")
        #expect(a.reconfigure(try Self.configuration([Self.pool("p", ["192.0.2.0/30", "2001:db8::/126"])])).isEmpty)
        #expect(try a.assign(request).get().ips == [Self.ip("192.0.2.1"), Self.ip("2001:db8::")])
    }
}
