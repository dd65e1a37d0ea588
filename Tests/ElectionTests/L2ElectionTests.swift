import Crypto
import KubeAPI
import LoadBalancerConfig
import NetCore
import Testing

@testable import Election

/// The L2 election's rules, table-driven.
@Suite struct L2ElectionTests {
    static let pool = AddressPool(name: "lan", ranges: [try! IPRange(parsing: "192.0.2.100-192.0.2.200")])
    static let vip = IPAddress("192.0.2.100")!
    static let nodes = ["node-a", "node-b", "node-c"].map { L2Election.Node(name: $0) }
    static let everyone = Set(nodes.map(\.name))

    static func service(local: Bool = false, serving: Set<String> = everyone, labels: [String: String] = [:])
        -> L2Election.Service
    {
        .init(labels: labels, ips: [vip], pool: pool, localTrafficPolicy: local, servingNodes: serving)
    }

    /// The expected winner computed independently: hex of sha256("node#ip"), smallest.
    static func expectedWinner(_ names: [String], _ ip: IPAddress = vip) -> String {
        names.min {
            SHA256.hash(data: Array("\($0)#\(ip)".utf8)).description
                < SHA256.hash(data: Array("\($1)#\(ip)".utf8)).description
        }!
    }

    static func winner(_ outcome: L2Election.Outcome) -> String? {
        if case .announce(let node, _, _, _) = outcome { return node }
        return nil
    }

    @Test func everySpeakerComputesTheSameWinner() {
        let outcome = L2Election.elect(
            Self.service(), nodes: Self.nodes, members: Self.everyone, advertisements: [L2Advertisement(name: "all")])
        #expect(Self.winner(outcome) == Self.expectedWinner(Self.everyone.sorted()))
        // Order of inputs does not matter.
        let shuffled = L2Election.elect(
            Self.service(), nodes: Self.nodes.reversed(), members: Self.everyone,
            advertisements: [L2Advertisement(name: "all")])
        #expect(shuffled == outcome)
        // Different VIPs spread over nodes: over 64 addresses every node wins some.
        var winners = Set<String>()
        for i in 0..<64 {
            var s = Self.service()
            s.ips = [IPAddress("192.0.2.\(100 + i)")!]
            if let w = Self.winner(
                L2Election.elect(s, nodes: Self.nodes, members: Self.everyone, advertisements: [.init(name: "all")]))
            {
                winners.insert(w)
            }
        }
        #expect(winners == Self.everyone)
    }

    @Test(arguments: [
        ("not a member", L2Election.Node(name: "node-a"), false, L2Election.Rejection.notAMember),
        ("network unavailable", .init(name: "node-a", networkUnavailable: true), true, .networkUnavailable),
        ("not ready", .init(name: "node-a", ready: false), true, .notReady),
        ("excluded", .init(name: "node-a", labels: [L2Election.excludeLabel: ""]), true, .excluded),
        ("node selector", .init(name: "node-a", labels: ["rack": "r2"]), true, .noAdvertisement),
    ])
    func rejectedNodesAreNamedWithTheReason(
        _ what: String, node: L2Election.Node, member: Bool, reason: L2Election.Rejection
    ) throws {
        let selective = L2Advertisement(
            name: "rack1", nodeSelectors: [try LabelSelector(parsing: "rack!=r2")])
        let nodes = [node] + Self.nodes.dropFirst()
        let members = member ? Self.everyone : Self.everyone.subtracting(["node-a"])
        let outcome = L2Election.elect(Self.service(), nodes: nodes, members: members, advertisements: [selective])
        guard case .announce(let winner, _, let candidates, let rejected) = outcome else {
            Issue.record("\(what): \(outcome)")
            return
        }
        #expect(rejected == ["node-a": reason], "\(what)")
        #expect(candidates == ["node-b", "node-c"])
        #expect(winner == Self.expectedWinner(["node-b", "node-c"]))
    }

    @Test func localTrafficPolicyNeedsALocalServingEndpoint() {
        let outcome = L2Election.elect(
            Self.service(local: true, serving: ["node-c"]), nodes: Self.nodes, members: Self.everyone,
            advertisements: [.init(name: "all")])
        #expect(Self.winner(outcome) == "node-c")
        let cluster = L2Election.elect(
            Self.service(local: false, serving: ["node-c"]), nodes: Self.nodes, members: Self.everyone,
            advertisements: [.init(name: "all")])
        #expect(Self.winner(cluster) == Self.expectedWinner(Self.everyone.sorted()), "Cluster policy: any node")
    }

    @Test func nobodyAnnouncesWithoutEndpointsAdvertisementsOrCandidates() throws {
        #expect(
            L2Election.elect(
                Self.service(serving: []), nodes: Self.nodes, members: Self.everyone,
                advertisements: [.init(name: "all")]) == .noServingEndpoint)
        #expect(
            L2Election.elect(Self.service(), nodes: Self.nodes, members: Self.everyone, advertisements: [])
                == .noAdvertisement)
        let otherPool = L2Advertisement(name: "other", pools: ["elsewhere"])
        #expect(
            L2Election.elect(Self.service(), nodes: Self.nodes, members: Self.everyone, advertisements: [otherPool])
                == .noAdvertisement)
        let webOnly = L2Advertisement(name: "web", serviceSelectors: [try LabelSelector(parsing: "app=web")])
        #expect(
            L2Election.elect(Self.service(), nodes: Self.nodes, members: Self.everyone, advertisements: [webOnly])
                == .noAdvertisement)
        #expect(
            Self.winner(
                L2Election.elect(
                    Self.service(labels: ["app": "web"]), nodes: Self.nodes, members: Self.everyone,
                    advertisements: [webOnly])) != nil)
        let none = L2Election.elect(
            Self.service(), nodes: Self.nodes, members: [], advertisements: [.init(name: "all")])
        #expect(
            none == .noCandidate(rejected: ["node-a": .notAMember, "node-b": .notAMember, "node-c": .notAMember]))
    }

    @Test func interfacesComeFromTheNodesAdvertisements() {
        let eth0 = L2Advertisement(name: "a", interfaces: ["eth0"])
        let eth1 = L2Advertisement(name: "b", interfaces: ["eth1"])
        let outcome = L2Election.elect(
            Self.service(), nodes: Self.nodes, members: Self.everyone, advertisements: [eth1, eth0])
        guard case .announce(_, let interfaces, _, _) = outcome else {
            Issue.record("\(outcome)")
            return
        }
        #expect(interfaces == ["eth0", "eth1"])
        let anyInterface = L2Election.elect(
            Self.service(), nodes: Self.nodes, members: Self.everyone, advertisements: [eth0, .init(name: "all")])
        guard case .announce(_, let all, _, _) = anyInterface else { return }
        #expect(all == [], "an advertisement without interfaces allows all")
    }
}
