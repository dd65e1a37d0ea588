import KubeAPI
import NetCore
import OrderedCollections

/// What kube-controller-manager's EndpointSlice and Endpoints controllers write for one Service (pure).
///
/// For a Service with a selector: one set of EndpointSlices per address family of the Service (`spec.ipFamilies`),
/// one endpoint per matching Pod of its namespace that has an address of that family and has not finished —
/// `serving` when the Pod is Ready, `terminating` once it is being deleted, `ready` when serving and not
/// terminating (always with `publishNotReadyAddresses`), its `nodeName`, a `targetRef`, a `hostname` when the Pod's
/// `subdomain` is the Service — grouped by the ports the Pod resolves (`targetPort` by number or by container port
/// name), at most 100 endpoints a slice. Existing slices are kept and changed in place (an endpoint stays in its
/// slice; new ones fill free room, then new slices), so an unchanged Service writes nothing. And the core v1
/// Endpoints object of the Service's primary family: ready addresses and `notReadyAddresses` per port set,
/// terminating Pods left out unless `publishNotReadyAddresses`.
enum EndpointSlicePlanner {
    static let maxEndpointsPerSlice = 100
    static let managedBy = "endpointslice-controller.k8s.io"
    static let serviceNameLabel = "kubernetes.io/service-name"
    static let managedByLabel = "endpointslice.kubernetes.io/managed-by"
    static let headlessLabel = "service.kubernetes.io/headless"

    enum Action: Equatable {
        case create(JSON)
        /// The existing slice (with its `metadata.name` and `resourceVersion`) with new content.
        case update(JSON)
        case delete(name: String)
    }

    /// Whether the controller keeps endpoints for `service`: it has a non-empty selector and is not ExternalName.
    static func manages(_ service: JSON) -> Bool {
        guard service["spec"]?["type"]?.stringValue != "ExternalName" else { return false }
        return !(service["spec"]?["selector"]?.objectValue ?? [:]).isEmpty
    }

    /// The changes that bring `existing` (the slices this controller owns for the Service) to what `service` and
    /// the Pods of its namespace call for.
    static func plan(service: JSON, pods: [JSON], existing: [JSON]) -> [Action] {
        var groups: OrderedDictionary<GroupKey, [JSON]> = [:]
        if manages(service) {
            for family in families(service) {
                for pod in selectedPods(service, pods) {
                    guard let address = address(of: pod, family: family) else { continue }
                    let ports = resolvedPorts(service, pod: pod)
                    groups[GroupKey(family: family, ports: ports), default: []].append(
                        endpoint(pod, address: address, service: service))
                }
                // A family without endpoints keeps one empty slice (kube-controller-manager's placeholder: the
                // Service exists and has none), without ports.
                if !groups.keys.contains(where: { $0.family == family }) {
                    groups[GroupKey(family: family, ports: [])] = []
                }
            }
        }
        var actions: [Action] = []
        var unused = existing
        for (group, endpoints) in groups {
            let candidates = unused.filter {
                $0["addressType"]?.stringValue == group.family && ($0["ports"]?.arrayValue ?? []) == group.ports
            }
            unused.removeAll { slice in candidates.contains { $0 == slice } }
            actions += fill(group, endpoints: endpoints, into: candidates, service: service)
        }
        for slice in unused { actions.append(.delete(name: slice["metadata"]?["name"]?.stringValue ?? "")) }
        return actions
    }

    /// Endpoints placed in `slices`: each wanted endpoint stays in the slice that has it; the rest fill free room in
    /// name order, then new slices; emptied slices go.
    private static func fill(_ group: GroupKey, endpoints: [JSON], into slices: [JSON], service: JSON) -> [Action] {
        var wanted: OrderedDictionary<String, JSON> = [:]
        for endpoint in endpoints.sorted(by: { identity($0) < identity($1) }) { wanted[identity(endpoint)] = endpoint }
        var contents: [[JSON]] = []
        for slice in slices {
            var kept: [JSON] = []
            for endpoint in slice["endpoints"]?.arrayValue ?? [] {
                if let current = wanted.removeValue(forKey: identity(endpoint)) { kept.append(current) }
            }
            contents.append(kept)
        }
        var rest = Array(wanted.values)[...]
        for index in contents.indices where contents[index].count < maxEndpointsPerSlice && !rest.isEmpty {
            let room = maxEndpointsPerSlice - contents[index].count
            contents[index] += rest.prefix(room)
            rest = rest.dropFirst(room)
        }
        var actions: [Action] = []
        let wantedNone = endpoints.isEmpty
        let labels = self.labels(service)
        for (index, (slice, endpoints)) in zip(slices, contents).enumerated() {
            if endpoints.isEmpty, !(wantedNone && index == 0) {
                actions.append(.delete(name: slice["metadata"]?["name"]?.stringValue ?? ""))
                continue
            }
            var updated = slice
            updated["endpoints"] = .array(endpoints)
            updated[path: ["metadata", "labels"]] = .object(labels)
            updated[path: ["metadata", "ownerReferences"]] = ownerReferences(service)
            if updated != slice { actions.append(.update(updated)) }
        }
        while !rest.isEmpty {
            let chunk = Array(rest.prefix(maxEndpointsPerSlice))
            rest = rest.dropFirst(chunk.count)
            actions.append(.create(newSlice(service, group: group, endpoints: chunk, labels: labels)))
        }
        if wantedNone, slices.isEmpty {
            actions.append(.create(newSlice(service, group: group, endpoints: [], labels: labels)))
        }
        return actions
    }

    // MARK: Endpoints (core v1)

    /// The Endpoints object for `service` (without resourceVersion), or nil when the controller keeps none.
    static func endpointsObject(service: JSON, pods: [JSON]) -> JSON? {
        guard manages(service), let name = service["metadata"]?["name"]?.stringValue,
            let namespace = service["metadata"]?["namespace"]?.stringValue
        else { return nil }
        let family = families(service).first ?? "IPv4"
        let publishNotReady = service["spec"]?["publishNotReadyAddresses"]?.boolValue == true
        var subsets: OrderedDictionary<[JSON], (ready: [JSON], notReady: [JSON])> = [:]
        for pod in selectedPods(service, pods) {
            guard let address = address(of: pod, family: family) else { continue }
            let terminating = pod["metadata"]?["deletionTimestamp"] != nil
            if terminating, !publishNotReady { continue }
            let ports = resolvedPorts(service, pod: pod).map { port -> JSON in
                ["name": port["name"] ?? "", "port": port["port"] ?? 0, "protocol": port["protocol"] ?? "TCP"]
            }
            var entry: JSON = ["ip": .string(address)]
            if let node = pod["spec"]?["nodeName"]?.stringValue { entry["nodeName"] = .string(node) }
            entry["targetRef"] = targetRef(pod)
            if publishNotReady || isReady(pod) {
                subsets[ports, default: ([], [])].ready.append(entry)
            } else {
                subsets[ports, default: ([], [])].notReady.append(entry)
            }
        }
        var object: JSON = [
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": [
                "name": .string(name), "namespace": .string(namespace),
                "labels": .object(labels(service, managed: false)),
            ],
        ]
        if !subsets.isEmpty {
            object["subsets"] = .array(
                subsets.map { ports, addresses in
                    var subset: JSON = [:]
                    let byIP: (JSON, JSON) -> Bool = { ($0["ip"]?.stringValue ?? "") < ($1["ip"]?.stringValue ?? "") }
                    if !addresses.ready.isEmpty { subset["addresses"] = .array(addresses.ready.sorted(by: byIP)) }
                    if !addresses.notReady.isEmpty {
                        subset["notReadyAddresses"] = .array(addresses.notReady.sorted(by: byIP))
                    }
                    if !ports.isEmpty { subset["ports"] = .array(ports) }
                    return subset
                })
        }
        return object
    }

    // MARK: Pieces

    private struct GroupKey: Hashable {
        var family: String
        var ports: [JSON]
    }

    static func families(_ service: JSON) -> [String] {
        let listed = (service["spec"]?["ipFamilies"]?.arrayValue ?? []).compactMap(\.stringValue)
        return listed.isEmpty ? ["IPv4"] : listed
    }

    /// Pods of the Service's namespace matching its selector that have not finished.
    static func selectedPods(_ service: JSON, _ pods: [JSON]) -> [JSON] {
        let selector = service["spec"]?["selector"]?.objectValue ?? [:]
        let namespace = service["metadata"]?["namespace"]?.stringValue
        return pods.filter { pod in
            let labels = pod["metadata"]?["labels"]?.objectValue ?? [:]
            let phase = pod["status"]?["phase"]?.stringValue
            return pod["metadata"]?["namespace"]?.stringValue == namespace && phase != "Succeeded" && phase != "Failed"
                && selector.allSatisfy { labels[$0.key] == $0.value }
        }
    }

    static func address(of pod: JSON, family: String) -> String? {
        var addresses = (pod["status"]?["podIPs"]?.arrayValue ?? []).compactMap { $0["ip"]?.stringValue }
        if addresses.isEmpty, let single = pod["status"]?["podIP"]?.stringValue { addresses = [single] }
        return addresses.first { IPAddress($0)?.family.rawValue == family }
    }

    static func isReady(_ pod: JSON) -> Bool {
        (pod["status"]?["conditions"]?.arrayValue ?? []).contains {
            $0["type"]?.stringValue == "Ready" && $0["status"]?.stringValue == "True"
        }
    }

    private static func endpoint(_ pod: JSON, address: String, service: JSON) -> JSON {
        let serving = isReady(pod)
        let terminating = pod["metadata"]?["deletionTimestamp"] != nil
        let ready = service["spec"]?["publishNotReadyAddresses"]?.boolValue == true || (serving && !terminating)
        var endpoint: JSON = [
            "addresses": [.string(address)],
            "conditions": ["ready": .bool(ready), "serving": .bool(serving), "terminating": .bool(terminating)],
        ]
        if let hostname = pod["spec"]?["hostname"]?.stringValue,
            pod["spec"]?["subdomain"]?.stringValue == service["metadata"]?["name"]?.stringValue
        {
            endpoint["hostname"] = .string(hostname)
        }
        if let node = pod["spec"]?["nodeName"]?.stringValue { endpoint["nodeName"] = .string(node) }
        endpoint["targetRef"] = targetRef(pod)
        return endpoint
    }

    private static func targetRef(_ pod: JSON) -> JSON {
        [
            "kind": "Pod", "namespace": pod["metadata"]?["namespace"] ?? "", "name": pod["metadata"]?["name"] ?? "",
            "uid": pod["metadata"]?["uid"] ?? "",
        ]
    }

    /// An endpoint's identity across plans: its Pod and address.
    private static func identity(_ endpoint: JSON) -> String {
        (endpoint["targetRef"]?["uid"]?.stringValue ?? "") + "|"
            + (endpoint["addresses"]?.arrayValue?.first?.stringValue ?? "")
    }

    /// The Service's ports as the Pod serves them; a port whose named target the Pod lacks is left out.
    static func resolvedPorts(_ service: JSON, pod: JSON) -> [JSON] {
        let containerPorts = (pod["spec"]?["containers"]?.arrayValue ?? []).flatMap { $0["ports"]?.arrayValue ?? [] }
        return (service["spec"]?["ports"]?.arrayValue ?? []).compactMap { port in
            let proto = port["protocol"]?.stringValue ?? "TCP"
            let target: Int64?
            switch port["targetPort"] {
            case .int(let number)?: target = number
            case .string(let name)?:
                target =
                    Int64(name)
                    ?? containerPorts.first {
                        $0["name"]?.stringValue == name && ($0["protocol"]?.stringValue ?? "TCP") == proto
                    }?["containerPort"]?.intValue
            default: target = port["port"]?.intValue
            }
            guard let target else { return nil }
            var resolved: JSON = ["name": port["name"] ?? "", "port": .int(target), "protocol": .string(proto)]
            if let appProtocol = port["appProtocol"] { resolved["appProtocol"] = appProtocol }
            return resolved
        }
    }

    /// The Service's labels, plus the slice controller's own (or, for Endpoints, the headless marker only).
    static func labels(_ service: JSON, managed: Bool = true) -> OrderedDictionary<String, JSON> {
        var labels = service["metadata"]?["labels"]?.objectValue ?? [:]
        if service["spec"]?["clusterIP"]?.stringValue == "None" { labels[headlessLabel] = "" }
        if managed {
            labels[serviceNameLabel] = service["metadata"]?["name"] ?? ""
            labels[managedByLabel] = .string(managedBy)
        }
        return labels
    }

    private static func ownerReferences(_ service: JSON) -> JSON {
        [
            [
                "apiVersion": "v1", "kind": "Service", "name": service["metadata"]?["name"] ?? "",
                "uid": service["metadata"]?["uid"] ?? "", "controller": true, "blockOwnerDeletion": true,
            ]
        ]
    }

    private static func newSlice(
        _ service: JSON, group: GroupKey, endpoints: [JSON], labels: OrderedDictionary<String, JSON>
    ) -> JSON {
        let name = service["metadata"]?["name"]?.stringValue ?? ""
        return [
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": [
                "generateName": .string("\(name)-"), "namespace": service["metadata"]?["namespace"] ?? "",
                "labels": .object(labels), "ownerReferences": ownerReferences(service),
            ],
            "addressType": .string(group.family), "endpoints": .array(endpoints), "ports": .array(group.ports),
        ]
    }
}
