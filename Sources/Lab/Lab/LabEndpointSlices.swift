import KubeAPI
import NetCore
import OrderedCollections

/// The EndpointSlices the lab writes for a Service with a selector (pure), until `pylon server` runs
/// kube-controller-manager's EndpointSlice controller itself: one slice per address family of the Service, named
/// `<service>-lab-ipv4`/`-ipv6`, with an endpoint per matching Pod that has an address of that family — ready and
/// serving when its Ready condition is True and it is not being deleted, terminating once it is — its node and a
/// reference to it; ports resolved by `targetPort` (a number, or a container port's name).
public enum LabEndpointSlices {
    /// `endpointslice.kubernetes.io/managed-by` of the slices the lab writes.
    public static let manager = "pylon-lab"

    /// The slices `service` should have given every Pod of its namespace.
    public static func slices(for service: JSON, pods: [JSON]) -> [JSON] {
        guard let selector = service["spec"]?["selector"]?.objectValue, !selector.isEmpty,
            let name = service["metadata"]?["name"]?.stringValue,
            let namespace = service["metadata"]?["namespace"]?.stringValue
        else { return [] }
        let matching = pods.filter { pod in
            let labels = pod["metadata"]?["labels"]?.objectValue ?? [:]
            let phase = pod["status"]?["phase"]?.stringValue ?? ""
            return pod["metadata"]?["namespace"]?.stringValue == namespace && phase != "Succeeded" && phase != "Failed"
                && selector.allSatisfy { labels[$0.key] == $0.value }
        }
        let families = (service["spec"]?["ipFamilies"]?.arrayValue ?? ["IPv4"]).compactMap(\.stringValue)
        return families.map { family in
            var ports: [JSON]?
            var endpoints: [JSON] = []
            for pod in matching.sorted(by: { Self.name(of: $0) < Self.name(of: $1) }) {
                let addresses = (pod["status"]?["podIPs"]?.arrayValue ?? []).compactMap { $0["ip"]?.stringValue }
                    .filter { IPAddress($0)?.family.rawValue == family }
                guard let address = addresses.first else { continue }
                if ports == nil { ports = resolvedPorts(service, pod: pod) }
                let ready = (pod["status"]?["conditions"]?.arrayValue ?? []).contains {
                    $0["type"]?.stringValue == "Ready" && $0["status"]?.stringValue == "True"
                }
                let terminating = pod["metadata"]?["deletionTimestamp"] != nil
                var endpoint: JSON = [
                    "addresses": [.string(address)],
                    "conditions": [
                        "ready": .bool(ready && !terminating), "serving": .bool(ready),
                        "terminating": .bool(terminating),
                    ],
                    "targetRef": [
                        "kind": "Pod", "namespace": .string(namespace), "name": .string(Self.name(of: pod)),
                        "uid": pod["metadata"]?["uid"] ?? "",
                    ],
                ]
                if let node = pod["spec"]?["nodeName"]?.stringValue { endpoint["nodeName"] = .string(node) }
                endpoints.append(endpoint)
            }
            return [
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": .string(family),
                "metadata": [
                    "name": .string("\(name)-lab-\(family.lowercased())"), "namespace": .string(namespace),
                    "labels": [
                        "kubernetes.io/service-name": .string(name),
                        "endpointslice.kubernetes.io/managed-by": .string(manager),
                    ],
                    "ownerReferences": [
                        [
                            "apiVersion": "v1", "kind": "Service", "name": .string(name),
                            "uid": service["metadata"]?["uid"] ?? "", "controller": true, "blockOwnerDeletion": true,
                        ]
                    ],
                ],
                "endpoints": .array(endpoints), "ports": .array(ports ?? resolvedPorts(service, pod: nil)),
            ]
        }
    }

    /// Whether `existing` (as stored) already says what `desired` says.
    public static func equivalent(_ existing: JSON, _ desired: JSON) -> Bool {
        existing["endpoints"] == desired["endpoints"] && existing["ports"] == desired["ports"]
            && existing["addressType"] == desired["addressType"]
            && existing["metadata"]?["labels"] == desired["metadata"]?["labels"]
    }

    /// The Service's ports with `port` set to the Pod's (a named `targetPort` looked up in the Pod's containers;
    /// without a Pod, numeric targets only).
    static func resolvedPorts(_ service: JSON, pod: JSON?) -> [JSON] {
        let containerPorts = (pod?["spec"]?["containers"]?.arrayValue ?? []).flatMap {
            $0["ports"]?.arrayValue ?? []
        }
        return (service["spec"]?["ports"]?.arrayValue ?? []).compactMap { port in
            let target: Int64?
            switch port["targetPort"] {
            case .int(let number)?: target = number
            case .string(let name)?:
                target =
                    Int64(name) ?? containerPorts.first { $0["name"]?.stringValue == name }?["containerPort"]?.intValue
            default: target = port["port"]?.intValue
            }
            guard let target else { return nil }
            return [
                "name": port["name"] ?? "", "port": .int(target), "protocol": port["protocol"] ?? "TCP",
            ]
        }
    }

    private static func name(of pod: JSON) -> String { pod["metadata"]?["name"]?.stringValue ?? "" }
}
