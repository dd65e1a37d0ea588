import KubeAPI
import Lab
import OrderedCollections
import Testing

/// The lab scheduler's choice, against kube-scheduler's behaviour for the filters it has.
@Suite struct PodPlacementTests {
    static func node(_ name: String, ready: Bool = true, unschedulable: Bool = false, labels: JSON = [:]) -> JSON {
        var labels = labels
        labels["kubernetes.io/hostname"] = .string(name)
        return [
            "metadata": ["name": .string(name), "labels": labels],
            "spec": ["unschedulable": .bool(unschedulable)],
            "status": ["conditions": [["type": "Ready", "status": .string(ready ? "True" : "False")]]],
        ]
    }

    static func pod(selector: JSON? = nil, node: String? = nil, scheduler: String? = nil) -> JSON {
        var spec: JSON = ["containers": [["name": "c"]]]
        if let selector { spec["nodeSelector"] = selector }
        if let node { spec["nodeName"] = .string(node) }
        if let scheduler { spec["schedulerName"] = .string(scheduler) }
        return ["metadata": ["name": "p", "namespace": "default"], "spec": spec]
    }

    @Test func theNodeWithFewestPodsWinsAndNameBreaksTies() throws {
        let nodes = ["node-1", "node-2", "node-3"].map { Self.node($0) }
        #expect(try PodPlacement.choose(for: Self.pod(), nodes: nodes, podsPerNode: [:]) == "node-1")
        #expect(try PodPlacement.choose(for: Self.pod(), nodes: nodes, podsPerNode: ["node-1": 1]) == "node-2")
        #expect(
            try PodPlacement.choose(
                for: Self.pod(), nodes: nodes, podsPerNode: ["node-1": 2, "node-2": 1, "node-3": 1])
                == "node-2")
    }

    @Test func nodeSelectorReadinessAndCordonsFilter() throws {
        let nodes = [
            Self.node("node-1", ready: false), Self.node("node-2", unschedulable: true),
            Self.node("node-3", labels: ["disk": "ssd"]), Self.node("node-4"),
        ]
        #expect(
            try PodPlacement.choose(for: Self.pod(selector: ["disk": "ssd"]), nodes: nodes, podsPerNode: [:])
                == "node-3")
        #expect(
            try PodPlacement.choose(
                for: Self.pod(selector: ["kubernetes.io/hostname": "node-4"]), nodes: nodes, podsPerNode: ["node-4": 9])
                == "node-4")
        #expect(throws: PodPlacement.Unschedulable.self) {
            try PodPlacement.choose(for: Self.pod(selector: ["disk": "hdd"]), nodes: nodes, podsPerNode: [:])
        }
        do {
            _ = try PodPlacement.choose(for: Self.pod(selector: ["disk": "hdd"]), nodes: nodes, podsPerNode: [:])
        } catch {
            #expect(
                error.description
                    == "0/4 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, "
                    + "1 node(s) were unschedulable, 2 node(s) didn't match Pod's node affinity/selector.")
        }
    }

    @Test func onlyUnboundPodsOfTheDefaultSchedulerArePending() {
        #expect(PodPlacement.isPending(Self.pod()))
        #expect(PodPlacement.isPending(Self.pod(scheduler: "default-scheduler")))
        #expect(!PodPlacement.isPending(Self.pod(node: "node-1")))
        #expect(!PodPlacement.isPending(Self.pod(scheduler: "my-scheduler")))
        var deleting = Self.pod()
        deleting[path: ["metadata", "deletionTimestamp"]] = "2026-01-01T00:00:00Z"
        #expect(!PodPlacement.isPending(deleting))
    }
}
