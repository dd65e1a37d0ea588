import KubeAPI
import NFTables
import NetCore
import Netlink
import PylonTestKit
import Testing

@testable import Proxy

/// The plan kept per Service: one Service's update gives the same tables as a whole rebuild, costs its own
/// elements only, and keys and hairpin elements shared between Services are handled.
@Suite struct ProxyStateTests {
    typealias Fixture = ProxyPlanTests

    /// What the kernel would hold after element changes from `before` to `after`: an element deleted must be
    /// there with the value deleted (else the kernel refuses the batch), one added must not be there.
    static func apply<Key, Value: Equatable>(
        _ before: [Key: Value], _ after: [Key: Value], to kernel: inout [Key: Value], known: Bool = true
    ) {
        for (key, value) in before where after[key].map({ !known || $0 != value }) ?? true {
            #expect(kernel[key] != nil, "deleting an element the kernel does not hold: \(key)")
            if known { #expect(kernel[key] == value) }
            kernel[key] = nil
        }
        for (key, value) in after where known ? before[key] != value : true {
            #expect(kernel[key] == nil, "adding an element the kernel holds: \(key)")
            kernel[key] = value
        }
    }

    @Test func updatesOneAtATimeEndWhereAWholeBuildDoes() {
        var services = (0..<20).map { Fixture.service("s\($0)", clusterIPs: ["10.43.0.\($0 + 10)"]) }
        var slices = (0..<20).map { Fixture.slice("s\($0)", [("10.42.0.\($0 + 2)", Fixture.ready)]) }
        var (state, kernel) = ProxyState.whole(services: services, slices: slices, family: .ipv4, node: "node-1")
        let maps = ProxyMaps(family: .ipv4)
        var generator = SeededGenerator(seed: 25)
        for step in 0..<60 {
            let n = Int.random(in: 0..<20, using: &generator)
            let key = "default/s\(n)"
            switch step % 3 {
            case 0:  // endpoints change
                slices[n] = Fixture.slice(
                    "s\(n)",
                    (0..<Int.random(in: 0...3, using: &generator)).map { ("10.42.1.\($0 + n * 4)", Fixture.ready) })
            case 1:  // the port changes
                services[n] = Fixture.service(
                    "s\(n)", clusterIPs: ["10.43.0.\(n + 10)"],
                    ports: [["name": "http", "port": .int(Int64(80 + step))]])
            default: break
            }
            let (before, after) = state.update(key, service: services[n], slices: [slices[n]])
            Self.apply(before.services, after.services, to: &kernel.services)
            Self.apply(before.endpoints, after.endpoints, to: &kernel.endpoints, known: false)
            // Every request names elements of service s<n> only: its cluster address is in each key.
            for request in after.elementChanges(from: before, maps: maps)
            where !String(decoding: request.bytes(sequence: 1), as: UTF8.self).contains("hairpin") {
                #expect(request.bytes(sequence: 1).contains(UInt8(n + 10)))
            }
        }
        let whole = ProxyState.whole(services: services, slices: slices, family: .ipv4, node: "node-1")
        #expect(kernel.services == whole.plan.services && kernel.endpoints == whole.plan.endpoints)
        #expect(state.parts == whole.state.parts)
        // A deleted Service leaves nothing behind.
        for n in 0..<20 { _ = state.update("default/s\(n)", service: nil, slices: []) }
        #expect(state.parts.isEmpty && state.hairpinAddresses.isEmpty)
    }

    @Test func anAddressTwoServicesClaimStaysWithTheFirst() {
        let first = Fixture.service("first", clusterIPs: ["10.43.0.10"])
        let second = Fixture.service("second", clusterIPs: ["10.43.0.11"], externalIPs: ["10.43.0.10"])
        let key = ProxyPlan.ServiceKey(address: IPAddress("10.43.0.10")!, transport: .tcp, port: 80)
        var (state, plan) = ProxyState.whole(
            services: [first, second],
            slices: [Fixture.slice("first", [("10.42.0.2", Fixture.ready)]), Fixture.slice("second", [])],
            family: .ipv4, node: nil)
        #expect(plan.services[key] == .pick(1), "the first claim keeps the address")
        #expect(state.problems.map(\.reason) == [.duplicateAddress])
        #expect(state.problems.first?.description == "default/second: 10.43.0.10 TCP 80 belongs to default/first")
        // Its own address is routed all the same.
        #expect(plan.services[.init(address: IPAddress("10.43.0.11")!, transport: .tcp, port: 80)] == .reject)
        // Updating the second again does not take the address over.
        let (_, after) = state.update("default/second", service: second, slices: [])
        #expect(after.services[key] == nil)
        #expect(state.parts["default/first"]?.services[key] == .pick(1))
    }

    @Test func aHairpinElementStaysWhileAnyServiceUsesItsEndpoint() {
        let endpoint = ("10.42.0.2", Fixture.ready)
        let a = Fixture.service("a", clusterIPs: ["10.43.0.10"])
        let b = Fixture.service("b", clusterIPs: ["10.43.0.11"])
        var (state, plan) = ProxyState.whole(
            services: [a, b], slices: [Fixture.slice("a", [endpoint]), Fixture.slice("b", [endpoint])],
            family: .ipv4, node: "node-1")
        let address = IPAddress("10.42.0.2")!
        #expect(plan.localEndpoints == [address] && state.hairpinAddresses == [address])
        let (before, after) = state.update("default/a", service: nil, slices: [])
        #expect(before.localEndpoints.isEmpty && after.localEndpoints.isEmpty, "b still uses it: no hairpin change")
        #expect(state.hairpinAddresses == [address])
        let (lastBefore, _) = state.update("default/b", service: b, slices: [Fixture.slice("b", [])])
        #expect(lastBefore.localEndpoints == [address], "its last user let go: the element is deleted")
        #expect(state.hairpinAddresses.isEmpty)
    }
}
