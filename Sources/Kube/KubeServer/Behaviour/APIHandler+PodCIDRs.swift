import KubeAPI
import Logging
import NetCore

extension APIHandler {
    /// What became of a Node's pod CIDRs when it was written.
    enum PodCIDROutcome: Equatable {
        /// It has them (or the cluster hands out none).
        case assigned
        /// Some family's cluster CIDR is full: the Node is stored without pod CIDRs and gets them once a subnet
        /// is freed.
        case unavailable
    }

    /// Validates a Node's `spec.podCIDR`/`podCIDRs` as kube-apiserver does and, when it has none, hands it one
    /// subnet per cluster CIDR as kube-controller-manager's range allocator does (here in the write itself, so the
    /// Node is never seen without them while subnets are free).
    ///
    /// `podCIDRs` wins over `podCIDR`; the two are kept in step. Pod CIDRs are immutable once set. A CIDR the
    /// Node brings is occupied (one outside the cluster CIDRs is kept and logged, as the allocator only reports
    /// it). On error nothing stays reserved.
    func assignPodCIDRs(old: JSON?, node: inout JSON) throws(Status) -> PodCIDROutcome {
        let name = node["metadata"]?["name"]?.stringValue ?? ""
        func invalid(_ type: String, _ message: String, _ field: String) -> Status {
            .invalid(group: "", kind: "Node", name: name, causes: [.init(type: type, message: message, field: field)])
        }
        var spec = node["spec"] ?? [:]
        var texts = (spec["podCIDRs"]?.arrayValue ?? []).compactMap(\.stringValue)
        if texts.isEmpty, let single = spec["podCIDR"]?.stringValue, !single.isEmpty { texts = [single] }
        let oldTexts = Self.podCIDRTexts(of: old)
        if !oldTexts.isEmpty {
            guard texts == oldTexts else {
                throw invalid(
                    "FieldValueForbidden", "Forbidden: node updates may not change podCIDR except from \"\" to valid",
                    "spec.podCIDRs")
            }
            return .assigned
        }
        var cidrs: [IPNetwork] = []
        for (i, text) in texts.enumerated() {
            guard let cidr = IPNetwork(text) else {
                throw invalid(
                    "FieldValueInvalid",
                    "Invalid value: \"\(text)\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                    "spec.podCIDRs[\(i)]")
            }
            cidrs.append(cidr)
        }
        if cidrs.count > 2 || Set(cidrs.map(\.family)).count != cidrs.count {
            throw invalid(
                "FieldValueInvalid",
                "Invalid value: \(texts): may specify no more than one CIDR for each IP family", "spec.podCIDRs")
        }
        if cidrs.isEmpty {
            guard podNetworks.isEnabled else { return .assigned }
            for allocator in podNetworks.ordered {
                guard let cidr = allocator.allocate() else {
                    for taken in cidrs { podNetworks.allocator(for: taken.family)?.release(taken) }
                    return .unavailable
                }
                cidrs.append(cidr)
            }
        } else {
            for cidr in cidrs {
                guard let allocator = podNetworks.allocator(for: cidr.family) else { continue }
                if let problem = allocator.occupy(cidr) {
                    logger.warning("node \(name) keeps pod CIDR \(cidr): \(problem)")
                }
            }
        }
        spec["podCIDR"] = .string(cidrs[0].description)
        spec["podCIDRs"] = .array(cidrs.map { .string($0.description) })
        node["spec"] = spec
        return .assigned
    }

    /// Frees the pod CIDRs `node` holds.
    func releasePodCIDRs(of node: JSON?) {
        for text in Self.podCIDRTexts(of: node) {
            guard let cidr = IPNetwork(text) else { continue }
            podNetworks.allocator(for: cidr.family)?.release(cidr)
        }
    }

    /// Marks the pod CIDRs of every stored Node as used (at start-up).
    func rebuildPodCIDRs() {
        for (_, stored) in storage.list(WatchFilter(prefix: "/nodes")).items {
            for text in Self.podCIDRTexts(of: stored.json) {
                guard let cidr = IPNetwork(text), let allocator = podNetworks.allocator(for: cidr.family) else {
                    continue
                }
                if let problem = allocator.occupy(cidr) {
                    logger.warning(
                        "node \(stored.json["metadata"]?["name"]?.stringValue ?? "") keeps pod CIDR \(cidr): \(problem)"
                    )
                }
            }
        }
    }

    /// Gives pod CIDRs to the Nodes still waiting for them (after one was freed, and at start-up), oldest first.
    func assignWaitingPodCIDRs() async {
        guard podNetworks.isEnabled, let nodes = registry.lookup(group: "", plural: "nodes") else { return }
        let waiting = storage.list(WatchFilter(prefix: nodes.storagePrefix)).items
            .filter { Self.podCIDRTexts(of: $0.1.json).isEmpty }
            .sorted {
                ($0.1.json["metadata"]?["creationTimestamp"]?.stringValue ?? "", $0.0.name)
                    < ($1.1.json["metadata"]?["creationTimestamp"]?.stringValue ?? "", $1.0.name)
            }
        for (key, _) in waiting {
            var outcome = PodCIDROutcome.assigned
            let result = try? await storage.write(key) { current throws(Status) in
                guard var node = current, Self.podCIDRTexts(of: node).isEmpty else { return .unchanged }
                outcome = try assignPodCIDRs(old: nil, node: &node)
                return outcome == .assigned ? .put(node) : .unchanged
            }
            if let result, result.kind == .modified {
                logger.info("node \(key.name) got pod CIDRs \(Self.podCIDRTexts(of: result.object))")
            }
            if outcome == .unavailable { break }
        }
    }

    /// Records kube-controller-manager's `CIDRNotAvailable` Event on a Node left without pod CIDRs; repeats raise
    /// the Event's count instead of adding Events.
    func recordCIDRNotAvailable(_ node: JSON) async {
        guard let events = registry.lookup(group: "", plural: "events") else { return }
        let name = node["metadata"]?["name"]?.stringValue ?? ""
        let key = ObjectKey(prefix: events.storagePrefix, namespace: "default", name: "\(name).cidrnotavailable")
        let time = JSON.string(now())
        logger.warning("node \(name): no pod CIDR left in \(podNetworks.cidrs.map { "\($0.network)" })")
        _ = try? await storage.write(key) { current throws(Status) in
            if var event = current {
                event["count"] = .int((event["count"]?.intValue ?? 1) + 1)
                event["lastTimestamp"] = time
                return .put(event)
            }
            var event: JSON = [
                "apiVersion": "v1", "kind": "Event",
                "metadata": ["name": .string(key.name), "namespace": "default"],
                "involvedObject": ["kind": "Node", "apiVersion": "v1", "name": .string(name), "uid": .string(name)],
                "reason": "CIDRNotAvailable", "message": .string("Node \(name) status is now: CIDRNotAvailable"),
                "source": ["component": "cidrAllocator"], "type": "Normal", "count": 1,
                "firstTimestamp": time, "lastTimestamp": time, "reportingComponent": "cidrAllocator",
            ]
            event[path: ["metadata", "uid"]] = .string(UUIDGenerator.v4())
            event[path: ["metadata", "creationTimestamp"]] = time
            return .put(event)
        }
    }

    /// A Node's pod CIDRs as stored: `podCIDRs`, or `podCIDR` alone.
    static func podCIDRTexts(of node: JSON?) -> [String] {
        let list = (node?["spec"]?["podCIDRs"]?.arrayValue ?? []).compactMap(\.stringValue).filter { !$0.isEmpty }
        if !list.isEmpty { return list }
        guard let single = node?["spec"]?["podCIDR"]?.stringValue, !single.isEmpty else { return [] }
        return [single]
    }
}
