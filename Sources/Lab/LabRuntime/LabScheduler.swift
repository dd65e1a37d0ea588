import KubeAPI
import KubeClient
import Lab
import Logging
import ServiceLifecycle

/// The lab's stand-in for kube-scheduler: binds every Pod without a node (`PodPlacement`) through `pods/binding`
/// and records kube-scheduler's Events — `Scheduled` ("Successfully assigned default/web to node-2") or
/// `FailedScheduling` with the reason, retried on every change of Pods or Nodes and every 5 s.
///
/// Isolation: a `Service`; `run()` returns on graceful shutdown. A failed binding is logged and retried.
public final class LabScheduler: Service, Sendable {
    private let client: KubeClient
    private let logger: Logger
    private let pods: Informer
    private let nodes: Informer
    private let events: EventRecorder

    public init(client: KubeClient, logger: Logger) {
        self.client = client
        self.logger = logger
        self.pods = Informer(client: client, resource: .pods, logger: logger)
        self.nodes = Informer(client: client, resource: .nodes, logger: logger)
        self.events = EventRecorder(client: client, component: "default-scheduler", logger: logger)
    }

    public func run() async throws {
        let changes = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        for informer in [pods, nodes] { await informer.addHandler { _ in changes.continuation.yield() } }
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await self.pods.run() }
            group.addTask { try await self.nodes.run() }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(5))
                    changes.continuation.yield()
                }
            }
            group.addTask {
                await self.pods.waitForSync()
                await self.nodes.waitForSync()
                // Bindings made but not yet seen through the watch, so a burst of Pods spreads out.
                var assumed: [String: String] = [:]
                for await _ in changes.stream.cancelOnGracefulShutdown() {
                    await self.schedule(assumed: &assumed)
                }
            }
            try await gracefulShutdown()
            group.cancelAll()
        }
    }

    private func schedule(assumed: inout [String: String]) async {
        let all = pods.list()
        var perNode: [String: Int] = [:]
        var bound: Set<String> = []
        var present: Set<String> = []
        for pod in all {
            let uid = pod["metadata"]?["uid"]?.stringValue ?? ""
            present.insert(uid)
            guard let node = pod["spec"]?["nodeName"]?.stringValue, !node.isEmpty else { continue }
            let phase = pod["status"]?["phase"]?.stringValue
            if phase != "Succeeded", phase != "Failed" { perNode[node, default: 0] += 1 }
            bound.insert(uid)
        }
        // Assumptions end once the watch shows the binding, or the Pod is gone.
        assumed = assumed.filter { !bound.contains($0.key) && present.contains($0.key) }
        for node in assumed.values { perNode[node, default: 0] += 1 }
        let nodeList = nodes.list()
        for pod in all where PodPlacement.isPending(pod) {
            guard let uid = pod["metadata"]?["uid"]?.stringValue, assumed[uid] == nil,
                let name = pod["metadata"]?["name"]?.stringValue,
                let namespace = pod["metadata"]?["namespace"]?.stringValue
            else { continue }
            var reference = pod
            reference["apiVersion"] = "v1"
            reference["kind"] = "Pod"
            do throws(PodPlacement.Unschedulable) {
                let node = try PodPlacement.choose(for: pod, nodes: nodeList, podsPerNode: perNode)
                do {
                    try await client.bind(pod: name, namespace: namespace, uid: uid, to: node)
                } catch {
                    logger.warning("cannot bind \(namespace)/\(name) to \(node): \(error)")
                    continue
                }
                assumed[uid] = node
                perNode[node, default: 0] += 1
                logger.info("assigned \(namespace)/\(name) to \(node)")
                await events.record(
                    reference, type: "Normal", reason: "Scheduled",
                    message: "Successfully assigned \(namespace)/\(name) to \(node)")
            } catch {
                await events.record(reference, type: "Warning", reason: "FailedScheduling", message: error.description)
            }
        }
    }
}
