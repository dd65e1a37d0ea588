import CoreMetrics
import FoundationEssentials
import Kernel
import KubeAPI
import KubeClient
import Logging
import NFTables
import NetCore
import Netlink
import Proxy
import ServiceLifecycle
import Synchronization

/// `pylon proxy`: kube-proxy's Service routing for one node, in nftables tables `ip pylon-proxy` and `ip6
/// pylon-proxy` (`ProxyTables`, `ProxyMaps`).
///
/// Follows Services and EndpointSlices; after every change it programs only the map elements that differ from what
/// it last programmed (`ProxyPlan.elementChanges`), in one atomic batch per family. At start, after a failed batch
/// and every `resyncInterval` it replaces each table whole in one batch (a table changed or flushed behind its back
/// is rebuilt; connections keep their conntrack entries throughout).
///
/// A `Service`: `run()` returns on graceful shutdown and leaves the tables in place (traffic keeps flowing while
/// the proxy restarts). Services and endpoints it cannot route are logged once and counted; the rest keeps working.
public final class ProxyAgent: Service, Sendable {
    public struct Options: Sendable {
        public var nodeName: String
        /// The pod networks: translated connections from outside them are masqueraded.
        public var clusterCIDRs: [IPNetwork]
        public var families: [IPFamily]
        public var resyncInterval: Duration
        /// The node's network namespace (tests and the lab run several nodes in one machine).
        public var namespace: NetworkNamespace

        public init(
            nodeName: String, clusterCIDRs: [IPNetwork], families: [IPFamily] = [.ipv4, .ipv6],
            resyncInterval: Duration = .seconds(30), namespace: NetworkNamespace = .current
        ) {
            self.nodeName = nodeName
            self.clusterCIDRs = clusterCIDRs
            self.families = families
            self.resyncInterval = resyncInterval
            self.namespace = namespace
        }
    }

    /// What one family's kernel table holds, as last programmed.
    private struct Programmed {
        var plan: ProxyPlan
        var pickCounts: Set<Int>
    }

    let client: KubeClient
    let options: Options
    let logger: Logger
    let metrics = ProxyMetrics()
    private let ready = Mutex(false)

    public init(client: KubeClient, options: Options, logger: Logger) {
        self.client = client
        self.options = options
        self.logger = logger
    }

    /// Whether every table was programmed once.
    public var isReady: Bool { ready.withLock { $0 } }

    public func run() async throws {
        let socket = try NetlinkSocket(namespace: options.namespace, kind: .netfilter)
        let services = Informer(client: client, resource: .services, logger: logger)
        let slices = Informer(client: client, resource: .endpointSlices, logger: logger)
        let (work, trigger) = AsyncStream.makeStream(of: Bool.self, bufferingPolicy: .bufferingNewest(1))
        let interval = options.resyncInterval
        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try? await services.run() }
            tasks.addTask { try? await slices.run() }
            tasks.addTask {
                while (try? await Task.sleep(for: interval)) != nil { trigger.yield(true) }
            }
            for informer in [services, slices] { await informer.addHandler { _ in trigger.yield(false) } }
            await services.waitForSync()
            await slices.waitForSync()
            trigger.yield(true)
            var programmed: [IPFamily: Programmed] = [:]
            var reported: Set<ProxyProblem> = []
            for await full in work.cancelOnGracefulShutdown() {
                let start = ContinuousClock.now
                let serviceObjects = services.list()
                let sliceObjects = slices.list()
                var failed = false
                // A table built whole (on request, or for a family not programmed yet) needs the node's pod CIDRs.
                let fresh = full || options.families.contains { programmed[$0] == nil }
                let podCIDRs = fresh ? await nodePodCIDRs() : []
                var problems: Set<ProxyProblem> = []
                var addresses = 0
                var endpoints = 0
                for family in options.families {
                    let plan = ProxyPlan(
                        services: serviceObjects, slices: sliceObjects, family: family, node: options.nodeName)
                    problems.formUnion(plan.problems)
                    addresses += plan.services.count
                    endpoints += plan.endpoints.count
                    do {
                        programmed[family] = try apply(
                            plan, over: fresh ? nil : programmed[family], podCIDRs: podCIDRs, socket: socket)
                    } catch {
                        failed = true
                        programmed[family] = nil
                        metrics.syncErrors.increment()
                        logger.error("cannot program the \(family.rawValue) table: \(error)")
                    }
                }
                for problem in problems.subtracting(reported) {
                    metrics.skipped[problem.reason]?.increment()
                    logger.warning("skipped: \(problem)")
                }
                reported = problems
                let took = start.duration(to: .now).components
                metrics.syncDuration.recordNanoseconds(took.seconds * 1_000_000_000 + took.attoseconds / 1_000_000_000)
                metrics.serviceAddresses.record(addresses)
                metrics.endpoints.record(endpoints)
                if failed {
                    // Again in a second, whole (a kernel that keeps refusing is not asked in a tight loop).
                    try? await Task.sleep(for: .seconds(1))
                    trigger.yield(true)
                } else {
                    metrics.lastSync.record(Date().timeIntervalSince1970)
                    ready.withLock { $0 = true }
                }
            }
            tasks.cancelAll()
        }
    }

    /// This node's pod CIDRs (its Node's `spec.podCIDRs`); none when the Node cannot be read (then every translated
    /// connection from outside the cluster is masqueraded).
    private func nodePodCIDRs() async -> [IPNetwork] {
        guard let node = try? await client.get(.nodes, name: options.nodeName) else {
            logger.warning("cannot read Node \(options.nodeName): external traffic to its own pods is masqueraded")
            return []
        }
        return (node["spec"]?["podCIDRs"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap(IPNetwork.init) }
    }

    /// Programs `plan`: only the changes from `previous`, or the whole table when there is none.
    private func apply(_ plan: ProxyPlan, over previous: Programmed?, podCIDRs: [IPNetwork], socket: NetlinkSocket)
        throws -> Programmed
    {
        let maps = ProxyMaps(family: plan.family)
        var requests: [NetlinkRequest]
        var counts = plan.pickCounts
        if let previous {
            let missing = counts.subtracting(previous.pickCounts).sorted()
            requests = ProxyTables.pickChains(maps: maps, counts: missing)
            requests += plan.elementChanges(from: previous.plan, maps: maps)
            counts.formUnion(previous.pickCounts)
        } else {
            requests = ProxyTables.fresh(
                maps: maps, clusterCIDRs: options.clusterCIDRs, nodePodCIDRs: podCIDRs, pickCounts: counts)
            requests += plan.elementChanges(from: ProxyPlan(family: plan.family), maps: maps)
            metrics.fullSyncs.increment()
        }
        if !requests.isEmpty { try socket.apply(requests, begin: .batchBegin, end: .batchEnd) }
        return Programmed(plan: plan, pickCounts: counts)
    }
}
