import Crypto
import LoadBalancerConfig
import NetCore

/// Which node answers ARP/NDP for a Service's addresses. Every speaker evaluates the same inputs and so reaches
/// the same answer without talking to the others.
///
/// Pure: no I/O, no clock.
public enum L2Election {
    /// What the election needs to know about a node.
    public struct Node: Sendable, Equatable {
        public var name: String
        public var labels: [String: String]
        /// `NetworkUnavailable` condition is True.
        public var networkUnavailable: Bool
        /// `Ready` condition is True (a node without the condition counts as ready, as at registration).
        public var ready: Bool

        public init(name: String, labels: [String: String] = [:], networkUnavailable: Bool = false, ready: Bool = true)
        {
            self.name = name
            self.labels = labels
            self.networkUnavailable = networkUnavailable
            self.ready = ready
        }
    }

    /// What the election needs to know about a Service with assigned addresses.
    public struct Service: Sendable, Equatable {
        public var labels: [String: String]
        /// The addresses in status order; the first one seeds the tie-break.
        public var ips: [IPAddress]
        /// The pool the addresses come from.
        public var pool: AddressPool
        /// `externalTrafficPolicy: Local`.
        public var localTrafficPolicy: Bool
        /// Nodes with at least one serving endpoint (ready, or serving while terminating).
        public var servingNodes: Set<String>

        public init(
            labels: [String: String] = [:], ips: [IPAddress], pool: AddressPool, localTrafficPolicy: Bool = false,
            servingNodes: Set<String>
        ) {
            self.labels = labels
            self.ips = ips
            self.pool = pool
            self.localTrafficPolicy = localTrafficPolicy
            self.servingNodes = servingNodes
        }
    }

    /// Why a node is not a candidate.
    public enum Rejection: String, Sendable, Equatable {
        case notAMember = "its speaker is not a live member"
        case networkUnavailable = "NetworkUnavailable is True"
        case notReady = "the node is not Ready"
        case excluded = "labelled node.kubernetes.io/exclude-from-external-load-balancers"
        case noAdvertisement = "no L2Advertisement for this service selects the node"
        case noLocalEndpoint = "externalTrafficPolicy is Local and the node has no serving endpoint"
    }

    public enum Outcome: Sendable, Equatable {
        /// `node` announces, on the interfaces the advertisements allow (empty: every eligible interface).
        case announce(node: String, interfaces: [String], candidates: [String], rejected: [String: Rejection])
        /// No L2Advertisement covers the Service's pool and labels.
        case noAdvertisement
        /// The Service has no serving endpoint anywhere: announcing would attract traffic nobody can serve.
        case noServingEndpoint
        /// Every node was rejected, each for the reason given.
        case noCandidate(rejected: [String: Rejection])
    }

    public static let excludeLabel = "node.kubernetes.io/exclude-from-external-load-balancers"

    /// Elects the announcing node for `service` among `nodes`, considering only speakers in `members`.
    public static func elect(
        _ service: Service, nodes: [Node], members: Set<String>, advertisements: [L2Advertisement]
    ) -> Outcome {
        let applying = advertisements.filter { $0.covers(service.pool) && $0.applies(toServiceLabels: service.labels) }
        guard !applying.isEmpty else { return .noAdvertisement }
        guard !service.servingNodes.isEmpty else { return .noServingEndpoint }
        var candidates: [String] = []
        var rejected: [String: Rejection] = [:]
        for node in nodes {
            if let reason = rejection(of: node, service, members: members, applying) {
                rejected[node.name] = reason
            } else {
                candidates.append(node.name)
            }
        }
        guard let first = service.ips.first, !candidates.isEmpty else { return .noCandidate(rejected: rejected) }
        let winner = candidates.min { score($0, first).lexicographicallyPrecedes(score($1, first)) }!
        let labels = nodes.first { $0.name == winner }?.labels ?? [:]
        let allowing = applying.filter { $0.allows(nodeLabels: labels) }
        // Interfaces: the union of what the node's advertisements name; any advertisement without a list allows all.
        let interfaces =
            allowing.contains { $0.interfaces.isEmpty }
            ? [] : Array(Set(allowing.flatMap(\.interfaces))).sorted()
        return .announce(node: winner, interfaces: interfaces, candidates: candidates.sorted(), rejected: rejected)
    }

    static func rejection(
        of node: Node, _ service: Service, members: Set<String>, _ applying: [L2Advertisement]
    ) -> Rejection? {
        if !members.contains(node.name) { return .notAMember }
        if node.networkUnavailable { return .networkUnavailable }
        if !node.ready { return .notReady }
        if node.labels[excludeLabel] != nil { return .excluded }
        if !applying.contains(where: { $0.allows(nodeLabels: node.labels) }) { return .noAdvertisement }
        if service.localTrafficPolicy, !service.servingNodes.contains(node.name) { return .noLocalEndpoint }
        return nil
    }

    /// The tie-break MetalLB uses: sha256 of `node#ip`, smallest first.
    static func score(_ node: String, _ ip: IPAddress) -> [UInt8] {
        Array(SHA256.hash(data: Array("\(node)#\(ip)".utf8)))
    }
}
