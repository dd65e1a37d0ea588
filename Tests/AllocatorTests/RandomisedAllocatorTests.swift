import Allocator
import KubeAPI
import LoadBalancerConfig
import NetCore
import PylonTestKit
import Testing

@Suite struct RandomisedAllocatorTests {
    static let poolShapes: [[JSON]] = [
        [AllocatorTests.pool("a", ["192.0.2.0/28"]), AllocatorTests.pool("b", ["198.51.100.0/29", "2001:db8::/125"])],
        [
            AllocatorTests.pool("a", ["192.0.2.0/29"]),
            AllocatorTests.pool("c", ["203.0.113.0/28"], ["avoidBuggyIPs": true]),
        ],
        [
            AllocatorTests.pool("b", ["198.51.100.0/28", "2001:db8::/124"], ["serviceAllocation": ["priority": 1]]),
            AllocatorTests.pool("a", ["192.0.2.0/30"]),
        ],
        [
            AllocatorTests.pool(
                "gold", ["203.0.113.0/29", "2001:db8:1::/126"],
                ["serviceAllocation": ["namespaceSelectors": [["matchLabels": ["tier": "gold"]]]]]),
            AllocatorTests.pool("a", ["192.0.2.0/30"]), AllocatorTests.pool("v6", ["2001:db8:2::/126"]),
        ],
    ]

    /// Checks every invariant; returns the violations.
    static func violations(_ a: Allocator, _ services: [String: ServiceRequest]) -> [String] {
        var problems: [String] = []
        var byIP: [IPAddress: [String]] = [:]
        for key in services.keys {
            guard let assignment = a.assignment(of: key) else { continue }
            guard let pool = a.configuration.pool(named: assignment.pool) else {
                problems.append("\(key) holds an address from missing pool \(assignment.pool)")
                continue
            }
            for ip in assignment.ips {
                if !pool.offers(ip) { problems.append("\(key): \(ip) outside pool \(pool.name)") }
                byIP[ip, default: []].append(key)
            }
        }
        for (ip, keys) in byIP where keys.count > 1 {
            let sharingKeys = Set(keys.map { services[$0]?.sharingKey ?? "" })
            let ports = keys.flatMap { services[$0]?.ports ?? [] }
            if sharingKeys.count != 1 || sharingKeys.first == "" || Set(ports).count != ports.count {
                problems.append("\(ip) shared illegally by \(keys.sorted())")
            }
        }
        return problems
    }

    @Test(arguments: [1, 2, 3, 42, 2026])
    func longRandomSequences(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        var shape = 0
        func config() -> Configuration { AllocatorTests.config(Self.poolShapes[shape]) }
        var allocator = Allocator(configuration: config())
        var services: [String: ServiceRequest] = [:]
        var namespaceLabels: [String: String] = [:]
        /// What the controller does after a change that can make a waiting Service feasible: every Service is
        /// decided again, in a fixed order; one holding a valid assignment keeps it (a PreferDualStack one may
        /// gain the other family).
        func reprocess(_ step: Int) {
            for (key, request) in services.sorted(by: { $0.key < $1.key }) {
                let before = allocator.assignment(of: key)?.ips ?? []
                let stillValid = !before.isEmpty && allocator.check(before, for: request) == nil
                let after = (try? allocator.assign(request).get())?.ips ?? []
                if stillValid {
                    #expect(after.starts(with: before), "\(key) moved although valid (seed \(seed), step \(step))")
                }
            }
        }
        for step in 0..<2_000 {
            let roll = Int.random(in: 0..<100, using: &rng)
            let name = "s\(Int.random(in: 0..<40, using: &rng))"
            switch roll {
            case 0..<45:
                let families: [ServiceRequest.Families] = [
                    .single(.ipv4), .single(.ipv4), .single(.ipv6), .preferDual(primary: .ipv4),
                    .requireDual(primary: .ipv6),
                ]
                var request = ServiceRequest(
                    namespace: "ns", name: name, namespaceLabels: namespaceLabels,
                    families: families.randomElement(using: &rng)!, ports: [.init(Int.random(in: 1...4, using: &rng))])
                if Int.random(in: 0..<4, using: &rng) == 0 {
                    request.sharingKey = "k\(Int.random(in: 0..<2, using: &rng))"
                }
                let termsChanged = services[request.key].map { $0.sharingTerms != request.sharingTerms } ?? false
                services[request.key] = request
                _ = allocator.assign(request)
                if termsChanged { reprocess(step) }
            case 45..<65:
                allocator.release("ns/\(name)")
                services["ns/\(name)"] = nil
                reprocess(step)
            case 65..<70:
                // The namespace is relabelled: its Services are decided again.
                namespaceLabels = namespaceLabels.isEmpty ? ["tier": "gold"] : [:]
                for key in services.keys { services[key]?.namespaceLabels = namespaceLabels }
                reprocess(step)
            case 70..<80:
                shape = Int.random(in: 0..<Self.poolShapes.count, using: &rng)
                _ = allocator.reconfigure(config())
                reprocess(step)
            default:
                // Controller restart: a new allocator rebuilt from what the statuses say.
                var restarted = Allocator(configuration: config())
                for (key, request) in services.sorted(by: { $0.key < $1.key }) {
                    if let assignment = allocator.assignment(of: key) {
                        let restored = try restarted.restore(request, ips: assignment.ips).get()
                        #expect(restored == assignment, "restart lost or changed \(key) (seed \(seed), step \(step))")
                    }
                }
                allocator = restarted
            }
            let problems = Self.violations(allocator, services)
            #expect(problems.isEmpty, "seed \(seed) step \(step): \(problems)")
            if !problems.isEmpty { return }
        }
    }
}
