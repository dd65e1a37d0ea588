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
        var state: ProxyState
        var pickCounts: Set<Int>
    }

    /// The agent's loop state: the programmed tables, what was reported, the totals for the gauges.
    private struct Progress {
        var programmed: [IPFamily: Programmed] = [:]
        /// Problems logged and counted, by Service.
        var reported: [String: Set<ProxyProblem>] = [:]
        var addresses: [IPFamily: Int] = [:]
        var endpoints: [IPFamily: Int] = [:]
        /// What each Service's health check node port answers, by Service.
        var healthChecks: [String: (port: Int, entry: HealthCheckServer.Entry)] = [:]

        /// The health check of Service `key` from the programmed parts (their largest local endpoint count).
        mutating func refreshHealthCheck(_ key: String) {
            let parts = programmed.values.compactMap { $0.state.parts[key] }
            guard let port = parts.lazy.compactMap(\.healthCheckNodePort).first else {
                healthChecks[key] = nil
                return
            }
            let names = key.split(separator: "/", maxSplits: 1).map(String.init)
            healthChecks[key] = (
                Int(port),
                .init(
                    namespace: names.first ?? "", name: names.last ?? "",
                    localEndpoints: parts.map(\.localEndpoints.count).max() ?? 0)
            )
        }
    }

    /// What the next pass does: rebuild whole tables, and the Services changed since the last pass.
    private struct Pending {
        var whole = false
        var services: Set<String> = []
    }

    let client: KubeClient
    let options: Options
    let logger: Logger
    let metrics = ProxyMetrics()
    private let ready = Mutex(false)
    private let pending = Mutex(Pending())

    public init(client: KubeClient, options: Options, logger: Logger) {
        self.client = client
        self.options = options
        self.logger = logger
    }

    /// Whether every table was programmed once.
    public var isReady: Bool { ready.withLock { $0 } }

    public func run() async throws {
        let socket = try NetlinkSocket(namespace: options.namespace, kind: .netfilter)
        let services = Informer(
            client: client, resource: .services, transform: { $0.projected(onto: ProxyState.serviceShape) },
            compact: true,
            logger: logger)
        let slices = Informer(
            client: client, resource: .endpointSlices,
            indexers: ["service": { ProxyState.serviceKey(ofSlice: $0).map { [$0] } ?? [] }],
            transform: { $0.projected(onto: ProxyState.sliceShape) }, compact: true, logger: logger)
        // What the next pass does is in `pending`; the stream only wakes the loop.
        let (work, trigger) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let interval = options.resyncInterval
        let health = HealthCheckServer(namespace: options.namespace, logger: logger)
        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try? await services.run() }
            tasks.addTask { try? await slices.run() }
            tasks.addTask {
                while (try? await Task.sleep(for: interval)) != nil {
                    self.pending.withLock { $0.whole = true }
                    trigger.yield()
                }
            }
            await services.addHandler { change in
                self.pending.withLock { $0.services.formUnion(Self.objects(of: change).map(ProxyState.key)) }
                trigger.yield()
            }
            await slices.addHandler { change in
                self.pending.withLock {
                    $0.services.formUnion(Self.objects(of: change).compactMap(ProxyState.serviceKey(ofSlice:)))
                }
                trigger.yield()
            }
            await services.waitForSync()
            await slices.waitForSync()
            self.pending.withLock { $0.whole = true }
            trigger.yield()
            var progress = Progress()
            var served: [Int: HealthCheckServer.Entry]?
            var servedHealthy = false
            for await _ in work.cancelOnGracefulShutdown() {
                let start = ContinuousClock.now
                let taken = self.pending.withLock { taken in
                    defer { taken = Pending() }
                    return taken
                }
                let whole = taken.whole || options.families.contains { progress.programmed[$0] == nil }
                let changed = taken.services
                let failed: Bool
                if whole {
                    failed = await programWhole(services: services, slices: slices, socket: socket, &progress)
                } else {
                    failed = programChanges(of: changed, services: services, slices: slices, socket: socket, &progress)
                }
                let took = start.duration(to: .now).components
                metrics.syncDuration.recordNanoseconds(took.seconds * 1_000_000_000 + took.attoseconds / 1_000_000_000)
                metrics.serviceAddresses.record(progress.addresses.values.reduce(0, +))
                metrics.endpoints.record(progress.endpoints.values.reduce(0, +))
                let entries = Dictionary(
                    progress.healthChecks.values.map { ($0.port, $0.entry) }, uniquingKeysWith: { first, _ in first })
                if entries != served || failed == servedHealthy {
                    await health.update(entries, healthy: !failed)
                    served = entries
                    servedHealthy = !failed
                }
                if failed {
                    // Again in a second, whole (a kernel that keeps refusing is not asked in a tight loop).
                    try? await Task.sleep(for: .seconds(1))
                    self.pending.withLock { $0.whole = true }
                    trigger.yield()
                } else {
                    metrics.lastSync.record(Date().timeIntervalSince1970)
                    ready.withLock { $0 = true }
                }
            }
            await health.close()
            tasks.cancelAll()
        }
    }

    /// The cached Service `namespace/name`.
    static func service(_ key: String, in services: Informer) -> JSON? {
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        return parts.count == 2 ? services.get(namespace: parts[0], name: parts[1]) : nil
    }

    static func objects(of change: Informer.Change) -> [JSON] {
        switch change {
        case .added(let object), .deleted(let object): [object]
        case .updated(let old, let new): [old, new]
        }
    }

    /// Replaces every family's table whole, from the informers' caches. Returns whether a batch failed.
    private func programWhole(services: Informer, slices: Informer, socket: NetlinkSocket, _ progress: inout Progress)
        async -> Bool
    {
        let podCIDRs = await nodePodCIDRs()
        // The tables are replaced: the old state goes first, so that two are never held at once.
        progress.programmed = [:]
        // One Service at a time, in the order of their keys (the compact informers decode an object when it is read,
        // and nothing read outlives its Service's turn).
        var states = options.families.map { ProxyState(family: $0, node: options.nodeName) }
        var plans = options.families.map { ProxyPlan(family: $0) }
        for key in services.keys().sorted() {
            let service = Self.service(key, in: services)
            let own = slices.byIndex("service", key)
            for index in states.indices {
                states[index].insert(key, service: service, slices: own, into: &plans[index])
            }
        }
        var failed = false
        var problems: [String: Set<ProxyProblem>] = [:]
        for (state, plan) in zip(states, plans) {
            let family = state.family
            for (key, part) in state.parts where !part.problems.isEmpty {
                problems[key, default: []].formUnion(part.problems)
            }
            progress.addresses[family] = plan.services.count
            progress.endpoints[family] = plan.endpoints.count
            let maps = ProxyMaps(family: family)
            var requests = ProxyTables.fresh(
                maps: maps, clusterCIDRs: options.clusterCIDRs, nodePodCIDRs: podCIDRs, pickCounts: plan.pickCounts)
            requests += plan.elementChanges(from: ProxyPlan(family: family), maps: maps)
            metrics.fullSyncs.increment()
            do {
                try socket.apply(requests, begin: .batchBegin, end: .batchEnd)
                progress.programmed[family] = Programmed(state: state, pickCounts: plan.pickCounts)
            } catch {
                failed = true
                fail(family, error)
            }
        }
        for key in Set(problems.keys).union(progress.reported.keys) {
            report(key, problems[key] ?? [], &progress)
        }
        progress.healthChecks = [:]
        for key in Set(states.flatMap { $0.parts.filter { $0.value.healthCheckNodePort != nil }.keys }) {
            progress.refreshHealthCheck(key)
        }
        return failed
    }

    /// Programs the changes of the Services `keys` (their objects read again from the caches), one batch per
    /// family. Returns whether a batch failed.
    private func programChanges(
        of keys: Set<String>, services: Informer, slices: Informer, socket: NetlinkSocket, _ progress: inout Progress
    ) -> Bool {
        guard !keys.isEmpty else { return false }
        var failed = false
        var problems: [String: Set<ProxyProblem>] = [:]
        for family in options.families {
            // Taken out, so that the state is not shared while it changes (a copy of 10,000 Services' parts).
            guard var programmed = progress.programmed.removeValue(forKey: family) else { continue }
            let maps = ProxyMaps(family: family)
            var requests: [NetlinkRequest] = []
            var additions: [NetlinkRequest] = []
            var flows: [ProxyPlan.StaleFlowCheck] = []
            for key in keys.sorted() {
                let (before, after) = programmed.state.update(
                    key, service: Self.service(key, in: services), slices: slices.byIndex("service", key))
                problems[key, default: []].formUnion(after.problems)
                let missing = after.pickCounts.subtracting(programmed.pickCounts).sorted()
                requests += ProxyTables.pickChains(maps: maps, counts: missing)
                programmed.pickCounts.formUnion(missing)
                additions += after.elementChanges(from: before, maps: maps)
                flows += after.staleFlowChecks(from: before)
                progress.addresses[family, default: 0] += after.services.count - before.services.count
                progress.endpoints[family, default: 0] += after.endpoints.count - before.endpoints.count
            }
            requests += additions
            do {
                if !requests.isEmpty { try socket.apply(requests, begin: .batchBegin, end: .batchEnd) }
                progress.programmed[family] = programmed
                removeStaleFlows(flows, family: family, socket: socket)
            } catch {
                failed = true
                fail(family, error)
            }
        }
        for key in keys {
            report(key, problems[key] ?? [], &progress)
            progress.refreshHealthCheck(key)
        }
        return failed
    }

    /// Deletes the tracked UDP flows of `checks` translated to an endpoint the plan no longer sends them to, so that
    /// their next datagram is translated again (kube-proxy's conntrack cleanup). Failures are logged; the entries
    /// then time out as they would have.
    private func removeStaleFlows(_ checks: [ProxyPlan.StaleFlowCheck], family: IPFamily, socket: NetlinkSocket) {
        for check in checks {
            do {
                let messages = try socket.dumpMessages(
                    .dumpConntrack(destination: check.destination, port: check.port, transport: 17, family: family))
                var stale: [NetlinkRequest] = []
                for message in messages {
                    guard let entry = try ConntrackEntry(message), entry.translated,
                        !check.endpoints.contains(.init(address: entry.replySource, port: entry.replySourcePort))
                    else { continue }
                    stale.append(.deleteConntrack(entry, family: family))
                }
                guard !stale.isEmpty else { continue }
                let refused = try socket.performEach(stale).compactMap { $0 }.filter { $0.code != KernelError.noEntry }
                metrics.staleFlowsRemoved.increment(by: stale.count - refused.count)
                if let first = refused.first { logger.warning("cannot remove a stale UDP flow: \(first)") }
            } catch {
                logger.warning("cannot read the tracked UDP flows of port \(check.port): \(error)")
            }
        }
    }

    private func fail(_ family: IPFamily, _ error: any Error) {
        metrics.syncErrors.increment()
        logger.error("cannot program the \(family.rawValue) table: \(error)")
    }

    /// Logs and counts a Service's problems that were not reported yet.
    private func report(_ key: String, _ problems: Set<ProxyProblem>, _ progress: inout Progress) {
        for problem in problems.subtracting(progress.reported[key] ?? []).sorted(by: { $0.description < $1.description }
        ) {
            metrics.skipped[problem.reason]?.increment()
            logger.warning("skipped: \(problem)")
        }
        progress.reported[key] = problems.isEmpty ? nil : problems
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
}
