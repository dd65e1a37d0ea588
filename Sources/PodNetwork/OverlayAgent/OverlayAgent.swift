import CNI
import Kernel
import KubeAPI
import KubeClient
import Logging
import NetCore
import OrderedCollections
import Overlay
import ServiceLifecycle
import Synchronization

/// `pylon overlay`: flannel's Kubernetes subnet manager and its vxlan / host-gw backends for one node. It waits
/// for the Node's pod CIDR, brings up the VXLAN device, publishes the lease in flannel's annotations, writes
/// `subnet.env` and the CNI configuration, and keeps the kernel's entries for every other node equal to the plan —
/// after every Node change, every kernel change that removes something, and every `resyncInterval`.
///
/// A `Service`: `run()` returns on graceful shutdown, leaving the kernel state in place for pods that keep
/// running (as flannel does). Problems with other Nodes are Events on them and `pylon_overlay_errors_total`; the
/// other Nodes keep working.
public final class OverlayAgent: Service, Sendable {
    public struct Options: Sendable {
        public var nodeName: String
        public var netConf: NetConf
        /// Where `subnet.env` goes (flannel's `/run/flannel/subnet.env`).
        public var subnetFile: String
        /// Where the CNI conflist goes (`/etc/cni/net.d`).
        public var cniConfigDirectory: String
        /// Where the CNI plugin keeps per-pod records and address reservations; nil: its defaults
        /// (`/var/lib/cni/flannel`, `/var/lib/cni/networks`), left out of the conflist.
        public var cniDataDirectory: String?
        /// This node's address per family; `nil`: the Node's `node-public-ip` annotation, else its InternalIP.
        public var publicIP: IPAddress?
        public var publicIPv6: IPAddress?
        /// FLANNEL_IPMASQ: the overlay masquerades pod traffic leaving the cluster (the bridge then does not).
        public var ipMasq: Bool
        /// Whether the VXLAN devices keep transmit checksum offload (`ChecksumOffload`).
        public var vxlanChecksumOffload: ChecksumOffload
        /// How often the kernel is compared with the plan when nothing announced a change.
        public var resyncInterval: Duration
        /// The node's network namespace (tests and the lab run several nodes in one process).
        public var namespace: NetworkNamespace

        public init(
            nodeName: String, netConf: NetConf, subnetFile: String = SubnetEnv.defaultPath,
            cniConfigDirectory: String = "/etc/cni/net.d", cniDataDirectory: String? = nil, publicIP: IPAddress? = nil,
            publicIPv6: IPAddress? = nil,
            ipMasq: Bool = true, vxlanChecksumOffload: ChecksumOffload = .auto, resyncInterval: Duration = .seconds(10),
            namespace: NetworkNamespace = .current
        ) {
            self.vxlanChecksumOffload = vxlanChecksumOffload
            self.nodeName = nodeName
            self.netConf = netConf
            self.subnetFile = subnetFile
            self.cniConfigDirectory = cniConfigDirectory
            self.cniDataDirectory = cniDataDirectory
            self.publicIP = publicIP
            self.publicIPv6 = publicIPv6
            self.ipMasq = ipMasq
            self.resyncInterval = resyncInterval
            self.namespace = namespace
        }
    }

    let client: KubeClient
    let options: Options
    let logger: Logger
    let metrics = OverlayMetrics()
    let events: EventRecorder
    private let ready = Mutex(false)

    public init(client: KubeClient, options: Options, logger: Logger) {
        self.client = client
        self.options = options
        self.logger = logger
        self.events = EventRecorder(client: client, component: "pylon-overlay", host: options.nodeName, logger: logger)
    }

    /// Whether the node's lease is published and the kernel matched the plan once.
    public var isReady: Bool { ready.withLock { $0 } }

    public func run() async throws {
        let kernel = try OverlayKernel(namespace: options.namespace)
        let nodes = Informer(client: client, resource: .nodes, logger: logger)
        let (work, trigger) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let interval = options.resyncInterval
        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try? await nodes.run() }
            tasks.addTask {
                while (try? await Task.sleep(for: interval)) != nil { trigger.yield() }
            }
            await nodes.addHandler { change in
                // Status heartbeats of a thousand Nodes would otherwise run a pass each.
                if case .updated(let old, let new) = change,
                    NodeLease.overlayPart(of: old) == NodeLease.overlayPart(of: new)
                {
                    return
                }
                trigger.yield()
            }
            await nodes.waitForSync()
            trigger.yield()
            var node: LocalNode?
            var watcher: KernelWatcher?
            var pass = Pass()
            for await _ in work.cancelOnGracefulShutdown() {
                if node == nil {
                    node = await setUp(kernel: kernel, nodes: nodes, pass: &pass)
                    if node != nil {
                        watcher = try? KernelWatcher(namespace: options.namespace, logger: logger) { trigger.yield() }
                    }
                }
                guard let current = node else { continue }
                node = await reconcile(current, kernel: kernel, nodes: nodes, pass: &pass)
                if !pass.failed { ready.withLock { $0 = true } }
            }
            watcher?.stop()
            tasks.cancelAll()
        }
    }

    /// What one pass remembers for the next: the entries planned (to tell repairs from changes), the problems
    /// already reported, whether the last pass failed.
    struct Pass {
        var planned: Set<OverlayEntry> = []
        /// Whether the nftables rules were installed once (a later reinstall is a repair).
        var rulesInstalled = false
        var reported: [String: String] = [:]
        var waitingSaid = false
        var failed = false
    }
}
