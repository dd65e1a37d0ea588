import Allocator
import Announcement
import BGP
import Election
import KubeAPI
import LoadBalancerConfig
import NetCore
import OrderedCollections

/// Explains one LoadBalancer Service from a snapshot of the cluster, with the same code the controller and the
/// speakers decide with: the allocator is replayed (every other Service's addresses restored, oldest first, then
/// this one's request), and the Layer 2 election is evaluated for every node — so the explanation cannot disagree
/// with what they do.
///
/// Pure: no I/O. Speaker membership is not visible in the API; every node is assumed to run a live speaker, and a
/// difference between the expected and the actual announcer is reported as such.
public enum ServiceExplainer {
    /// - Returns: nil when the snapshot has no such Service.
    public static func explain(namespace: String, name: String, in snapshot: ClusterSnapshot) -> Explanation? {
        guard
            let service = snapshot.services.first(where: {
                $0["metadata"]?["namespace"]?.stringValue == namespace && $0["metadata"]?["name"]?.stringValue == name
            })
        else { return nil }
        var builder = Builder(service: service, key: "\(namespace)/\(name)", snapshot: snapshot)
        builder.run()
        return builder.explanation
    }

    struct Builder {
        let service: JSON
        let key: String
        let snapshot: ClusterSnapshot
        var explanation: Explanation

        init(service: JSON, key: String, snapshot: ClusterSnapshot) {
            self.service = service
            self.key = key
            self.snapshot = snapshot
            explanation = Explanation(
                service: key, summary: "", healthy: false,
                addresses: ServiceReading.statusIPs(service).map(\.description), pool: nil, announcedBy: nil,
                interfaces: [], macs: [:], pools: [], nodes: [], bgp: [], findings: [])
        }

        mutating func note(_ topic: String, _ level: Explanation.Finding.Level, _ text: String) {
            explanation.findings.append(.init(topic, level, text))
        }

        /// Records the answer; the first problem found is the summary.
        mutating func conclude(_ summary: String, healthy: Bool = false) {
            if explanation.summary.isEmpty {
                explanation.summary = summary
                explanation.healthy = healthy
            }
        }

        mutating func run() {
            let spec = service["spec"] ?? [:]
            let type = spec["type"]?.stringValue ?? "ClusterIP"
            guard type == "LoadBalancer" else {
                note("class", .problem, "type is \(type), not LoadBalancer: no external address is assigned")
                return conclude("\(key) is of type \(type); only LoadBalancer Services get an external address")
            }
            let theirs = spec["loadBalancerClass"]?.stringValue
            guard theirs == snapshot.loadBalancerClass else {
                let ours = snapshot.loadBalancerClass.map { "\"\($0)\"" } ?? "none (class-less Services)"
                let text =
                    "spec.loadBalancerClass is \(theirs.map { "\"\($0)\"" } ?? "unset") but Pylon handles class \(ours)"
                note("class", .problem, text + "; another implementation must assign it")
                return conclude(text)
            }
            note("class", .ok, theirs.map { "loadBalancerClass \"\($0)\" is Pylon's" } ?? "class-less: Pylon's")

            let configuration: Configuration
            switch Configuration.parse(pools: snapshot.pools, l2Advertisements: snapshot.l2Advertisements) {
            case .success(let parsed):
                configuration = parsed
            case .failure(let errors):
                note(
                    "configuration", .problem,
                    "the metallb.io configuration is invalid (the controller keeps the last valid one): \(errors)")
                return conclude("the metallb.io configuration is invalid: \(errors)")
            }
            if configuration.pools.isEmpty {
                note("configuration", .problem, "no IPAddressPool exists in the configuration namespace")
                return conclude("no IPAddressPool is configured")
            }

            let namespaceLabels = labels(
                of: snapshot.namespaces.first {
                    $0["metadata"]?["name"]?.stringValue == service["metadata"]?["namespace"]?.stringValue
                })
            let request: ServiceRequest
            switch ServiceReading.read(
                service, namespaceLabels: namespaceLabels, loadBalancerClass: snapshot.loadBalancerClass)
            {
            case .notOurs:
                return conclude("\(key) is not handled by Pylon")
            case .invalid(let message):
                note("address", .problem, message)
                return conclude(message)
            case .request(let parsed, let deprecated):
                request = parsed
                for annotation in deprecated {
                    note("address", .info, "annotation \(annotation) is deprecated; use metallb.io/… instead")
                }
            }

            let assignment = replay(request, configuration)
            explainPools(request, configuration, assignment.allocator)
            explainEvents()
            switch assignment.result {
            case .failure(let failure):
                note("address", .problem, failure.description)
                return conclude("pending: \(failure.description)")
            case .success(let assigned):
                let held = ServiceReading.statusIPs(service)
                explanation.pool = assigned.pool
                if held.isEmpty {
                    let text =
                        "an address is free for it (\(assigned.ips.map(\.description).joined(separator: ", ")) from pool "
                        + "\(assigned.pool)), but none is in its status: is pylon controller running (and leading)?"
                    note("address", .problem, text)
                    return conclude("pending: " + text)
                }
                if Set(held) != Set(assigned.ips) {
                    note(
                        "address", .problem,
                        "its status holds \(held.map(\.description).joined(separator: ", ")) but the controller would assign "
                            + "\(assigned.ips.map(\.description).joined(separator: ", ")): is pylon controller running?"
                    )
                } else {
                    note(
                        "address", .ok,
                        "\(held.map(\.description).joined(separator: ", ")) from pool \(assigned.pool)")
                }
                explainAnnouncement(configuration)
            }
        }

        /// The allocator as the controller has it: every other Service's status restored, oldest first, then this
        /// Service's own addresses, then its request decided.
        func replay(_ request: ServiceRequest, _ configuration: Configuration) -> (
            result: Result<Assignment, AllocationFailure>, allocator: Allocator
        ) {
            var allocator = Allocator(configuration: configuration)
            let ordered = snapshot.services.map { ($0.creationOrder, $0) }.sorted { $0.0 < $1.0 }.map(\.1)
            for other in ordered where other.namespacedName != key {
                let ips = ServiceReading.statusIPs(other)
                let otherNamespace = labels(
                    of: snapshot.namespaces.first {
                        $0["metadata"]?["name"]?.stringValue == other["metadata"]?["namespace"]?.stringValue
                    })
                guard !ips.isEmpty,
                    case .request(let otherRequest, _) = ServiceReading.read(
                        other, namespaceLabels: otherNamespace, loadBalancerClass: snapshot.loadBalancerClass)
                else { continue }
                _ = allocator.restore(otherRequest, ips: ips)
            }
            let own = ServiceReading.statusIPs(service)
            if !own.isEmpty { _ = allocator.restore(request, ips: own) }
            let result = allocator.assign(request)
            return (result, allocator)
        }

        mutating func explainPools(_ request: ServiceRequest, _ configuration: Configuration, _ allocator: Allocator) {
            for pool in configuration.pools {
                var reason: String?
                if let requested = request.requestedPool, requested != pool.name {
                    reason = "the metallb.io/address-pool annotation asks for pool \(requested)"
                } else if let failure = Allocator.admissionFailure(of: pool, for: request) {
                    reason = failure
                } else if !IPFamily.allCases.contains(where: pool.has) {
                    reason = "it has no addresses"
                }
                let usage = IPFamily.allCases.filter(pool.has).map {
                    "\($0.rawValue) \(allocator.inUse(pool: pool.name, family: $0))/\(pool.capacity($0)) in use"
                }.joined(separator: ", ")
                explanation.pools.append(.init(name: pool.name, admits: reason == nil, detail: reason ?? usage))
                note("pools", reason == nil ? .ok : .info, "\(pool.name): \(reason ?? "admits it (\(usage))")")
            }
        }

        mutating func explainEvents() {
            let warnings = snapshot.events.filter {
                $0["type"]?.stringValue == "Warning"
                    && $0["involvedObject"]?["name"]?.stringValue == service["metadata"]?["name"]?.stringValue
            }
            for event in warnings.suffix(3) {
                note(
                    "events", .info,
                    "\(event["reason"]?.stringValue ?? "?"): \(event["message"]?.stringValue ?? "")")
            }
        }

        mutating func explainAnnouncement(_ configuration: Configuration) {
            let everyNode = Set(snapshot.nodes.compactMap { $0["metadata"]?["name"]?.stringValue })
            let decision = AnnouncementPlanner.plan(
                services: [service], endpointSlices: snapshot.endpointSlices, nodes: snapshot.nodes,
                configuration: configuration, members: everyNode, loadBalancerClass: snapshot.loadBalancerClass
            ).first
            let statuses = snapshot.serviceL2Statuses.filter {
                $0["status"]?["serviceName"]?.stringValue == service["metadata"]?["name"]?.stringValue
                    && $0["status"]?["serviceNamespace"]?.stringValue == service["metadata"]?["namespace"]?.stringValue
            }
            let announcers = statuses.compactMap { $0["status"]?["node"]?.stringValue }
            if let status = statuses.first, announcers.count == 1 {
                explanation.announcedBy = announcers[0]
                explanation.interfaces = (status["status"]?["interfaces"]?.arrayValue ?? []).compactMap {
                    $0["name"]?.stringValue
                }
                for pair in (status["metadata"]?["annotations"]?[SpeakerAnnotations.interfaceMACs]?.stringValue ?? "")
                    .split(separator: ",")
                {
                    let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                    if parts.count == 2 { explanation.macs[parts[0]] = parts[1] }
                }
            }
            guard let decision else {
                note("layer2", .problem, "its addresses are not in any configured pool")
                return conclude("its addresses are not in any configured pool: nobody announces them")
            }
            explainBGP(configuration)
            let overBGP = explanation.bgp.map { "\($0.peer) (from \($0.nodes.joined(separator: ", ")))" }
            switch decision.outcome {
            case .noAdvertisement where !overBGP.isEmpty:
                note("layer2", .info, "no L2Advertisement covers pool \(explanation.pool ?? "?"): BGP only")
                return conclude(
                    "\(explanation.addresses.joined(separator: ", ")) from pool \(explanation.pool ?? "?"), announced over BGP to \(overBGP.joined(separator: "; "))",
                    healthy: true)
            case .noAdvertisement:
                note(
                    "layer2", .problem,
                    "no L2Advertisement covers pool \(explanation.pool ?? "?") and the Service's labels")
                return conclude(
                    "nobody announces it: no L2Advertisement or BGPAdvertisement covers pool \(explanation.pool ?? "?")"
                )
            case .noServingEndpoint:
                note("layer2", .problem, "the Service has no ready endpoint on any node, so no node announces it")
                return conclude("nobody announces it: the Service has no ready endpoint (check its pods)")
            case .noCandidate(let rejected):
                recordNodes(candidates: [], rejected: rejected)
                note("layer2", .problem, "no node may announce it (reasons per node below)")
                return conclude("nobody announces it: no node is eligible")
            case .announce(let winner, let interfaces, let candidates, let rejected):
                recordNodes(candidates: candidates, rejected: rejected)
                let on = interfaces.isEmpty ? "every eligible interface" : interfaces.joined(separator: ", ")
                switch announcers.count {
                case 0:
                    note(
                        "layer2", .problem,
                        "no speaker announces it; \(winner) should (on \(on)): is its speaker running?")
                    return conclude("nobody announces it yet: \(winner)'s speaker should — is it running?")
                case 1 where announcers[0] == winner:
                    let macs = explanation.interfaces.map { "\($0)\(explanation.macs[$0].map { " (\($0))" } ?? "")" }
                    note("layer2", .ok, "\(winner) answers ARP/NDP on \(macs.joined(separator: ", "))")
                    return conclude(
                        "\(explanation.addresses.joined(separator: ", ")) from pool \(explanation.pool ?? "?"), announced by \(winner)",
                        healthy: true)
                case 1:
                    note(
                        "layer2", .info,
                        "\(announcers[0]) announces it; with every speaker alive \(winner) would (its speaker is probably not a member)"
                    )
                    return conclude(
                        "\(explanation.addresses.joined(separator: ", ")) from pool \(explanation.pool ?? "?"), announced by \(announcers[0])",
                        healthy: true)
                default:
                    note(
                        "layer2", .problem,
                        "several nodes report announcing it: \(announcers.sorted().joined(separator: ", "))")
                    return conclude(
                        "several nodes announce it at once (a partition?): \(announcers.sorted().joined(separator: ", "))"
                    )
                }
            }
        }

        mutating func recordNodes(candidates: [String], rejected: [String: L2Election.Rejection]) {
            for name in (candidates + rejected.keys).sorted() {
                let reason = rejected[name]?.rawValue ?? ""
                explanation.nodes.append(.init(name: name, candidate: reason.isEmpty, reason: reason))
                note("nodes", reason.isEmpty ? .ok : .info, reason.isEmpty ? "\(name): eligible" : "\(name): \(reason)")
            }
        }

        /// Which BGP peers would get the Service's addresses, and from which nodes (the speakers' own planner, run
        /// for every node).
        mutating func explainBGP(_ configuration: Configuration) {
            guard !snapshot.bgpPeers.isEmpty else { return }
            let bgp: BGPConfiguration
            switch BGPConfiguration.parse(
                peers: snapshot.bgpPeers, advertisements: snapshot.bgpAdvertisements, communities: snapshot.communities,
                bfdProfiles: snapshot.bfdProfiles, pools: configuration.pools)
            {
            case .success(let parsed): bgp = parsed
            case .failure(let errors):
                return note(
                    "bgp", .problem, "the BGP configuration is invalid (speakers keep the last valid one): \(errors)")
            }
            let ips = Set(explanation.addresses.compactMap(IPAddress.init))
            var fromNodes: [String: [String]] = [:]
            for node in snapshot.nodes {
                guard let name = node["metadata"]?["name"]?.stringValue else { continue }
                let addresses = (node["status"]?["addresses"]?.arrayValue ?? []).filter {
                    $0["type"]?.stringValue == "InternalIP"
                }.compactMap { $0["address"]?.stringValue.flatMap(IPAddress.init) }
                let plan = BGPAnnouncementPlanner.plan(
                    node: name, addresses: addresses, services: [service], endpointSlices: snapshot.endpointSlices,
                    nodes: snapshot.nodes, configuration: configuration, bgp: bgp,
                    loadBalancerClass: snapshot.loadBalancerClass)
                for (peer, routes) in plan
                where routes.contains(where: { route in ips.contains { route.prefix.contains($0) } }) {
                    fromNodes[peer, default: []].append(name)
                }
            }
            explanation.bgp = fromNodes.keys.sorted().map { .init(peer: $0, nodes: fromNodes[$0]!.sorted()) }
            if explanation.bgp.isEmpty {
                note(
                    "bgp", .info, "no BGPPeer gets it (no BGPAdvertisement covers the pool, or no node may announce it)"
                )
            }
            for announcement in explanation.bgp {
                note(
                    "bgp", .ok,
                    "announced to BGPPeer \(announcement.peer) from \(announcement.nodes.joined(separator: ", "))")
            }
        }

        func labels(of object: JSON?) -> [String: String] {
            var out: [String: String] = [:]
            for (k, v) in object?["metadata"]?["labels"]?.objectValue ?? [:] { out[k] = v.stringValue ?? "" }
            return out
        }
    }
}
