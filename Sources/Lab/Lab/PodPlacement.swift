import KubeAPI
import OrderedCollections

/// Where the lab's scheduler puts a Pod (pure): kube-scheduler's filters the lab needs — the Node is Ready, not
/// `spec.unschedulable`, and carries every label of the Pod's `nodeSelector` — then the fewest Pods wins (name
/// order breaks ties), which spreads a set of Pods over the nodes as kube-scheduler's default scoring does.
public enum PodPlacement {
    /// Why no node fits, worded as kube-scheduler's FailedScheduling message.
    public struct Unschedulable: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// Whether the lab's scheduler places `pod`: it has no node yet, names the default scheduler (or none) and is
    /// not being deleted.
    public static func isPending(_ pod: JSON) -> Bool {
        (pod["spec"]?["nodeName"]?.stringValue ?? "").isEmpty
            && (pod["spec"]?["schedulerName"]?.stringValue ?? "default-scheduler") == "default-scheduler"
            && pod["metadata"]?["deletionTimestamp"] == nil
    }

    /// The node for `pod` among `nodes`, given how many Pods each node runs already.
    /// - Throws: `Unschedulable` ("0/3 nodes are available: 1 node(s) were unschedulable, 2 node(s) didn't match
    ///   Pod's node affinity/selector.").
    public static func choose(for pod: JSON, nodes: [JSON], podsPerNode: [String: Int]) throws(Unschedulable)
        -> String
    {
        let selector = pod["spec"]?["nodeSelector"]?.objectValue ?? [:]
        var notReady = 0, unschedulable = 0, mismatched = 0
        var fitting: [String] = []
        for node in nodes {
            guard let name = node["metadata"]?["name"]?.stringValue else { continue }
            let ready = (node["status"]?["conditions"]?.arrayValue ?? []).contains {
                $0["type"]?.stringValue == "Ready" && $0["status"]?.stringValue == "True"
            }
            let labels = node["metadata"]?["labels"]?.objectValue ?? [:]
            if !ready {
                notReady += 1
            } else if node["spec"]?["unschedulable"]?.boolValue == true {
                unschedulable += 1
            } else if !selector.allSatisfy({ labels[$0.key] == $0.value }) {
                mismatched += 1
            } else {
                fitting.append(name)
            }
        }
        if let best = fitting.min(by: { (podsPerNode[$0] ?? 0, $0) < (podsPerNode[$1] ?? 0, $1) }) { return best }
        var reasons: [String] = []
        if mismatched > 0 { reasons.append("\(mismatched) node(s) didn't match Pod's node affinity/selector") }
        if notReady > 0 { reasons.append("\(notReady) node(s) had untolerated taint {node.kubernetes.io/not-ready: }") }
        if unschedulable > 0 { reasons.append("\(unschedulable) node(s) were unschedulable") }
        let detail = reasons.isEmpty ? "" : " " + reasons.sorted().joined(separator: ", ") + "."
        throw Unschedulable(description: "0/\(nodes.count) nodes are available:\(detail)")
    }
}
