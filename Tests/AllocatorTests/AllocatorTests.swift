import Allocator
import KubeAPI
import LoadBalancerConfig
import NetCore
import OrderedCollections
import Testing

@Suite struct AllocatorTests {
    static func config(_ pools: [JSON]) -> Configuration {
        (try? Configuration.parse(pools: pools, l2Advertisements: []).get()) ?? Configuration()
    }

    static func pool(_ name: String, _ addresses: [String], _ extra: JSON = [:]) -> JSON {
        var spec: JSON = ["addresses": .array(addresses.map(JSON.string))]
        for (k, v) in extra.objectValue ?? [:] { spec[k] = v }
        return ["metadata": ["name": .string(name)], "spec": spec]
    }

    static let seed = config([pool("picluster-pool", ["10.0.0.100-10.0.0.200"])])

    static func ip(_ s: String) -> IPAddress { IPAddress(s)! }

    @Test func assignsInOrderAndKeepsAssignments() throws {
        var a = Allocator(configuration: Self.seed)
        let first = try a.assign(ServiceRequest(namespace: "kube-system", name: "traefik")).get()
        #expect(first == Assignment(pool: "picluster-pool", ips: [Self.ip("10.0.0.100")]))
        #expect(try a.assign(ServiceRequest(namespace: "default", name: "b")).get().ips == [Self.ip("10.0.0.101")])
        #expect(try a.assign(ServiceRequest(namespace: "kube-system", name: "traefik")).get() == first, "stable")
        a.release("kube-system/traefik")
        #expect(
            try a.assign(ServiceRequest(namespace: "default", name: "c")).get().ips == [Self.ip("10.0.0.100")],
            "lowest free first")
    }

    @Test func exhaustionNamesThePool() {
        var a = Allocator(configuration: Self.config([Self.pool("tiny", ["192.0.2.0/31"])]))
        _ = a.assign(ServiceRequest(namespace: "d", name: "1"))
        _ = a.assign(ServiceRequest(namespace: "d", name: "2"))
        let third = a.assign(ServiceRequest(namespace: "d", name: "3"))
        #expect(third == .failure(.poolsExhausted(["tiny"])))
        #expect(third.failureDescription == "no available IPs: pool(s) tiny exhausted")
    }

    @Test func failureCauses() throws {
        let config = Self.config([
            Self.pool("a", ["192.0.2.0/28"]),
            Self.pool("manual", ["198.51.100.0/28"], ["autoAssign": false]),
            Self.pool("web-only", ["203.0.113.0/28"], ["serviceAllocation": ["namespaces": ["web"]]]),
        ])
        var a = Allocator(configuration: config)
        _ = a.assign(ServiceRequest(namespace: "d", name: "holder", requestedIPs: [Self.ip("192.0.2.5")]))
        let cases: [(ServiceRequest, AllocationFailure)] = [
            (
                ServiceRequest(namespace: "d", name: "x", requestedIPs: [Self.ip("203.0.113.200")]),
                .requestedIPOutsidePools(Self.ip("203.0.113.200"))
            ),
            (
                ServiceRequest(namespace: "d", name: "x", requestedIPs: [Self.ip("192.0.2.5")]),
                .requestedIPTaken(Self.ip("192.0.2.5"), by: "d/holder")
            ),
            (ServiceRequest(namespace: "d", name: "x", requestedPool: "nope"), .unknownPool("nope")),
            (
                ServiceRequest(
                    namespace: "d", name: "x", requestedIPs: [Self.ip("192.0.2.6")], requestedPool: "manual"),
                .requestedIPNotInRequestedPool(Self.ip("192.0.2.6"), pool: "manual")
            ),
            (
                ServiceRequest(namespace: "d", name: "x", requestedIPs: [Self.ip("203.0.113.1")]),
                .noPoolMatches([.init(pool: "web-only", reason: "the service is not admitted by serviceAllocation")])
            ),
            (ServiceRequest(namespace: "d", name: "x", families: .single(.ipv6)), .familyUnavailable(.ipv6)),
        ]
        for (request, expected) in cases {
            #expect(a.assign(request) == .failure(expected), "\(request.requestedIPs) \(request.requestedPool ?? "")")
            #expect(a.assignment(of: "d/x") == nil)
        }
        #expect(
            try a.assign(ServiceRequest(namespace: "d", name: "m", requestedPool: "manual")).get().ips == [
                Self.ip("198.51.100.0")
            ], "a named pool works without autoAssign")
        #expect(
            try a.assign(ServiceRequest(namespace: "web", name: "w", requestedPool: "web-only")).get().pool
                == "web-only")
    }

    @Test func noPoolAtAll() {
        var a = Allocator()
        #expect(
            a.assign(ServiceRequest(namespace: "d", name: "x")).failureDescription == "no IPAddressPool is configured")
    }

    @Test func sharingRules() throws {
        var a = Allocator(configuration: Self.seed)
        let shared = Self.ip("10.0.0.150")
        let dns = ServiceRequest(
            namespace: "d", name: "dns-tcp", requestedIPs: [shared], sharingKey: "dns", ports: [.init(53, "TCP")])
        #expect(try a.assign(dns).get().ips == [shared])
        let udp = ServiceRequest(
            namespace: "d", name: "dns-udp", requestedIPs: [shared], sharingKey: "dns", ports: [.init(53, "UDP")])
        #expect(try a.assign(udp).get().ips == [shared])
        #expect(a.users(of: shared) == ["d/dns-tcp", "d/dns-udp"])
        #expect(a.inUse(pool: "picluster-pool", family: .ipv4) == 1, "a shared address counts once")
        let clash = ServiceRequest(
            namespace: "d", name: "clash", requestedIPs: [shared], sharingKey: "dns", ports: [.init(53, "UDP")])
        #expect(
            a.assign(clash) == .failure(.sharingConflict(shared, port: .init(53, "UDP"), with: "d/dns-tcp"))
                || a.assign(clash) == .failure(.sharingConflict(shared, port: .init(53, "UDP"), with: "d/dns-udp")))
        let otherKey = ServiceRequest(
            namespace: "d", name: "k", requestedIPs: [shared], sharingKey: "other", ports: [.init(80)])
        #expect(a.assign(otherKey) == .failure(.sharingKeyMismatch(shared, with: "d/dns-tcp")))
        let local = ServiceRequest(
            namespace: "d", name: "local", requestedIPs: [shared], sharingKey: "dns", ports: [.init(8053)],
            backendKey: "app=dns")
        #expect(a.assign(local) == .failure(.backendMismatch(shared, with: "d/dns-tcp")))
        // Without a requested IP, a Service with the key joins the shared address.
        let joiner = ServiceRequest(namespace: "d", name: "metrics", sharingKey: "dns", ports: [.init(9153)])
        #expect(try a.assign(joiner).get().ips == [shared])
        a.release("d/dns-tcp")
        a.release("d/dns-udp")
        a.release("d/metrics")
        #expect(a.users(of: shared).isEmpty)
        #expect(a.inUse(pool: "picluster-pool", family: .ipv4) == 0)
    }

    @Test func dualStack() throws {
        let config = Self.config([
            Self.pool("v4only", ["192.0.2.0/28"], ["serviceAllocation": ["priority": 1]]),
            Self.pool("dual", ["198.51.100.0/28", "2001:db8::/124"], ["serviceAllocation": ["priority": 2]]),
        ])
        var a = Allocator(configuration: config)
        // PreferDualStack: the dual-stack pool although a single-stack one comes first (MetalLB).
        #expect(
            try a.assign(ServiceRequest(namespace: "d", name: "p", families: .preferDual(primary: .ipv4))).get()
                == Assignment(pool: "dual", ips: [Self.ip("198.51.100.0"), Self.ip("2001:db8::")]))
        #expect(
            try a.assign(ServiceRequest(namespace: "d", name: "r", families: .requireDual(primary: .ipv6))).get()
                == Assignment(pool: "dual", ips: [Self.ip("198.51.100.1"), Self.ip("2001:db8::1")]))
        #expect(
            try a.assign(ServiceRequest(namespace: "d", name: "s6", families: .single(.ipv6))).get()
                == Assignment(pool: "dual", ips: [Self.ip("2001:db8::2")]))
        #expect(try a.assign(ServiceRequest(namespace: "d", name: "s4")).get().pool == "v4only")
        var v4only = Allocator(configuration: Self.config([Self.pool("v4", ["192.0.2.0/28"])]))
        #expect(
            v4only.assign(ServiceRequest(namespace: "d", name: "r", families: .requireDual(primary: .ipv4)))
                == .failure(.familyUnavailable(.ipv6)))
    }

    @Test func avoidBuggyIPsSkipsZeroAnd255() throws {
        var a = Allocator(
            configuration: Self.config([Self.pool("p", ["192.0.2.255-192.0.3.1"], ["avoidBuggyIPs": true])]))
        #expect(try a.assign(ServiceRequest(namespace: "d", name: "x")).get().ips == [Self.ip("192.0.3.1")])
        #expect(a.assign(ServiceRequest(namespace: "d", name: "y")) == .failure(.poolsExhausted(["p"])))
    }

    @Test func reconfigureMovesOnlyWhatItMust() throws {
        var a = Allocator(
            configuration: Self.config([Self.pool("p", ["192.0.2.0/29"]), Self.pool("q", ["198.51.100.0/29"])]))
        for i in 0..<10 { _ = a.assign(ServiceRequest(namespace: "d", name: "s\(i)")) }
        #expect(a.assignment(of: "d/s7")?.pool == "p")
        #expect(a.assignment(of: "d/s8")?.pool == "q")
        // Shrink p to its first four addresses, drop nothing else.
        let released = a.reconfigure(
            Self.config([Self.pool("p", ["192.0.2.0/30"]), Self.pool("q", ["198.51.100.0/29"])]))
        #expect(released == ["d/s4", "d/s5", "d/s6", "d/s7"])
        #expect(a.assignment(of: "d/s0")?.ips == [Self.ip("192.0.2.0")])
        #expect(a.assignment(of: "d/s8")?.ips == [Self.ip("198.51.100.0")])
        for key in released { _ = a.assign(ServiceRequest(namespace: "d", name: String(key.dropFirst(2)))) }
        #expect(a.assignment(of: "d/s4")?.pool == "q")
    }

    @Test func restoreRebuildsWithoutChanges() throws {
        var a = Allocator(configuration: Self.seed)
        var requests: [ServiceRequest] = []
        for i in 0..<20 {
            let r = ServiceRequest(namespace: "d", name: "s\(i)")
            requests.append(r)
            _ = a.assign(r)
        }
        var restarted = Allocator(configuration: Self.seed)
        for r in requests.reversed() {
            #expect(try restarted.restore(r, ips: a.assignment(of: r.key)!.ips).get() == a.assignment(of: r.key))
        }
        for r in requests {
            #expect(try restarted.assign(r).get() == a.assignment(of: r.key), "no change after restart")
        }
        // A status naming an address taken by another Service is not restored.
        #expect(
            restarted.restore(ServiceRequest(namespace: "d", name: "intruder"), ips: [Self.ip("10.0.0.100")])
                == .failure(.requestedIPTaken(Self.ip("10.0.0.100"), by: "d/s0")))
    }
}

extension Result where Failure == AllocationFailure {
    var failureDescription: String? {
        if case .failure(let f) = self { return f.description }
        return nil
    }
}
