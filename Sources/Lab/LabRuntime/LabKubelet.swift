import FoundationEssentials
import KubeAPI
import KubeClient
import Logging
import ServiceLifecycle
import Synchronization

/// The lab node agent's stand-in for kubelet: runs the Pods bound to its node, one `PodWorker` per Pod UID, with
/// the node's CNI configuration (what `pylon overlay` writes) and the `pylon` CNI plugin.
///
/// At start it removes the Pod sandboxes an earlier run of the agent left (their Pods get new ones: the agent does
/// not adopt running containers, unlike kubelet). Isolation: a `Service`; `run()` returns on graceful shutdown and
/// leaves the Pods running.
public final class LabKubelet: Service, Sendable {
    public struct Options: Sendable {
        public var node: String
        /// The `pylon` executable (containers and CNI plugin).
        public var binary: String
        public var cniConfigDirectory: String
        public var cniPluginDirectory: String
        /// Where each container's output goes (`<namespace>_<pod>_<container>.log`).
        public var logDirectory: String

        public init(
            node: String, binary: String, cniConfigDirectory: String, cniPluginDirectory: String, logDirectory: String
        ) {
            self.node = node
            self.binary = binary
            self.cniConfigDirectory = cniConfigDirectory
            self.cniPluginDirectory = cniPluginDirectory
            self.logDirectory = logDirectory
        }
    }

    private let client: KubeClient
    private let options: Options
    private let logger: Logger
    private let pods: Informer
    /// UIDs with a running worker.
    private let active = Mutex<Set<String>>([])

    public init(client: KubeClient, options: Options, logger: Logger) {
        self.client = client
        self.options = options
        self.logger = logger
        self.pods = Informer(
            client: client, resource: .pods, fieldSelector: "spec.nodeName=\(options.node)", logger: logger)
    }

    public func run() async throws {
        try? FileManager.default.createDirectory(atPath: options.logDirectory, withIntermediateDirectories: true)
        let cni = CNIRuntime(
            configDirectory: options.cniConfigDirectory, pluginDirectory: options.cniPluginDirectory)
        for leftover in PodSandbox.existing(node: options.node) {
            logger.info("removing sandbox \(leftover.namespace) left by an earlier run")
            try? await cni.delete(
                .init(containerID: leftover.id, netns: leftover.path, podNamespace: "", podName: "", podUID: ""),
                result: nil)
            await leftover.destroy()
        }
        let changes = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        await pods.addHandler { _ in changes.continuation.yield() }
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await self.pods.run() }
            group.addTask {
                await self.pods.waitForSync()
                guard let context = await self.context(cni: cni) else { return }
                let ticks = Task {
                    // Workers end by themselves; a tick lets a Pod whose worker just ended start again if it came back.
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(1))
                        changes.continuation.yield()
                    }
                }
                await withDiscardingTaskGroup { workers in
                    for await _ in changes.stream.cancelOnGracefulShutdown() {
                        for pod in self.pods.list() {
                            guard let uid = pod["metadata"]?["uid"]?.stringValue,
                                let name = pod["metadata"]?["name"]?.stringValue,
                                let namespace = pod["metadata"]?["namespace"]?.stringValue,
                                self.active.withLock({ $0.insert(uid).inserted })
                            else { continue }
                            workers.addTask {
                                var worker = PodWorker(context: context, namespace: namespace, name: name, uid: uid)
                                await worker.run()
                                _ = self.active.withLock { $0.remove(uid) }
                            }
                        }
                    }
                    workers.cancelAll()
                }
                ticks.cancel()
            }
        }
    }

    /// What the workers share; the node's addresses are read from its Node object (retried until it exists).
    private func context(cni: CNIRuntime) async -> PodWorker.Context? {
        var hostIPs: [String] = []
        while hostIPs.isEmpty, !Task.isCancelled {
            if let node = try? await client.get(.nodes, name: options.node) {
                hostIPs = (node["status"]?["addresses"]?.arrayValue ?? []).filter {
                    $0["type"]?.stringValue == "InternalIP"
                }.compactMap { $0["address"]?.stringValue }
            }
            if hostIPs.isEmpty {
                logger.warning("node \(options.node) has no InternalIP yet; waiting")
                try? await Task.sleep(for: .seconds(1))
            }
        }
        guard !hostIPs.isEmpty else { return nil }
        return PodWorker.Context(
            client: client, pods: pods, node: options.node, hostIPs: hostIPs, binary: options.binary, cni: cni,
            logDirectory: options.logDirectory,
            events: EventRecorder(client: client, component: "kubelet", host: options.node, logger: logger),
            logger: logger)
    }
}
