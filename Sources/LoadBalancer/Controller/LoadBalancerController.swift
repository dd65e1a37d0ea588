import Allocator
import Announcement
import KubeAPI
import KubeClient
import LoadBalancerConfig
import Logging
import Metrics
import NetCore
import OrderedCollections
import ServiceLifecycle
import Synchronization

/// `pylon controller`'s core: watches Services, namespaces and the `metallb.io` configuration, and gives
/// LoadBalancer Services addresses (`status.loadBalancer.ingress` and the `metallb.io/ip-allocated-from-pool`
/// annotation), with an Event for every assignment and failure.
///
/// All decisions happen on one task that owns the `Allocator` value, in the order changes arrive. Before the first
/// decision every existing assignment is restored from the Services' status, so a restart writes nothing that
/// is already right. An invalid configuration is reported and ignored: the last valid one stays in force.
public final class LoadBalancerController: Service, Sendable {
    public struct Options: Sendable {
        /// Namespace holding IPAddressPools and L2Advertisements.
        public var namespace: String
        /// `--lb-class`: only Services with this `spec.loadBalancerClass`; class-less ones when `nil`.
        public var loadBalancerClass: String?

        public init(namespace: String = "pylon-system", loadBalancerClass: String? = nil) {
            self.namespace = namespace
            self.loadBalancerClass = loadBalancerClass
        }
    }

    private enum Work: Sendable {
        case service(namespace: String, name: String)
        case configuration
        /// A namespace's labels changed: its Services may be admitted by other pools now.
        case namespace(String)
        /// Someone other than this controller may have changed a pool's status.
        case poolStatusChanged(String)
        /// Write pool usage counts if they changed (at most once a second).
        case poolStatus
    }

    /// How often IPAddressPool status is brought up to date.
    static let poolStatusInterval: Duration = .seconds(1)

    private let client: KubeClient
    private let options: Options
    private let recorder: EventRecorder
    private let logger: Logger
    private let services: Informer
    private let namespaces: Informer
    private let poolInformer: Informer
    private let l2Informer: Informer
    private let synced = Mutex(false)
    /// The latest labels read per namespace, shared by the requests built from them.
    private let namespaceLabels = Mutex<[String: [String: String]]>([:])
    private let writer = Mutex<ServiceWriter?>(nil)
    /// How many Service writes run at once. An API server commits and announces concurrent writes together, so
    /// after a burst more writes in flight cost less each (10,000 assignments: 32 took about a quarter less CPU on
    /// both sides than 16; 48 and 64 no less than 32, with more memory for connections).
    static let writers = 32

    /// Whether the first full pass over existing Services is done (readiness).
    public var isSynced: Bool { synced.withLock { $0 } }

    /// Whether the controller is synced and every decision so far is written.
    public func isIdle() async -> Bool {
        guard isSynced, let writer = writer.withLock({ $0 }) else { return false }
        return await writer.isIdle
    }

    public init(client: KubeClient, options: Options, logger: Logger = Logger(label: "pylon.controller")) {
        self.client = client
        self.options = options
        self.logger = logger
        self.recorder = EventRecorder(client: client, component: "pylon-controller", logger: logger)
        self.services = Informer(
            client: client, resource: .services, transform: { $0.projected(onto: JSON.loadBalancerServiceShape) },
            compact: true, logger: logger)
        self.namespaces = Informer(client: client, resource: .namespaces, logger: logger)
        self.poolInformer = Informer(
            client: client, resource: .ipAddressPools, namespace: options.namespace, logger: logger)
        self.l2Informer = Informer(
            client: client, resource: .l2Advertisements, namespace: options.namespace, logger: logger)
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await self.runLoop()
        }
    }

    /// Runs until cancelled (used directly under leader election).
    public func runLoop() async {
        let (queue, continuation) = AsyncStream<Work>.makeStream()
        let writer = ServiceWriter(client: client, recorder: recorder, logger: logger)
        self.writer.withLock { $0 = writer }
        await withTaskGroup(of: Void.self) { group in
            for informer in [services, namespaces, poolInformer, l2Informer] {
                group.addTask { try? await informer.run() }
            }
            group.addTask { await writer.run(workers: Self.writers) }
            group.addTask {
                await self.services.addHandler { change in
                    let object: JSON
                    switch change {
                    case .added(let o), .deleted(let o): object = o
                    case .updated(_, let o): object = o
                    }
                    continuation.yield(
                        .service(
                            namespace: object["metadata"]?["namespace"]?.stringValue ?? "",
                            name: object["metadata"]?["name"]?.stringValue ?? ""))
                }
                await self.l2Informer.addHandler { _ in continuation.yield(.configuration) }
                await self.poolInformer.addHandler { change in
                    if case .updated(let old, let new) = change, old["spec"] == new["spec"] {
                        if old["status"] != new["status"] {
                            continuation.yield(.poolStatusChanged(new["metadata"]?["name"]?.stringValue ?? ""))
                        }
                        if old["metadata"]?["labels"] == new["metadata"]?["labels"] { return }
                    }
                    continuation.yield(.configuration)
                }
                await self.namespaces.addHandler { change in
                    if case .updated(let old, let new) = change,
                        old["metadata"]?["labels"] != new["metadata"]?["labels"]
                    {
                        continuation.yield(.namespace(new["metadata"]?["name"]?.stringValue ?? ""))
                    }
                }
                for informer in [self.services, self.namespaces, self.poolInformer, self.l2Informer] {
                    await informer.waitForSync()
                }
                await self.process(queue, writer)
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: Self.poolStatusInterval)
                    continuation.yield(.poolStatus)
                }
            }
            await group.next()
            group.cancelAll()
        }
        continuation.finish()
        synced.withLock { $0 = false }
    }

    // MARK: The decision loop

    private func process(_ queue: AsyncStream<Work>, _ writer: ServiceWriter) async {
        var allocator = Allocator()
        var current: Configuration? = nil
        var reported: JSON? = nil
        _ = await applyConfiguration(&current, &allocator, &reported)
        // Restore what Services already hold, oldest first, before deciding anything.
        // One decoding pass reads what each Service holds; restoring follows in creation order.
        let existing = servicesOldestFirst { service -> (request: ServiceRequest, ips: [IPAddress])? in
            let ips = ServiceReading.statusIPs(service)
            guard !ips.isEmpty, case .request(let request, _) = read(service) else { return nil }
            return (request, ips)
        }
        for held in existing.compactMap(\.value) { _ = allocator.restore(held.request, ips: held.ips) }
        // Services that asked for an address and could not get one: retried, oldest first, after every change
        // that can make one feasible (as MetalLB reprocesses all Services then): an address freed, or a holder's
        // sharing key, backends or ports changed.
        var waiting = Set<String>()
        var retryWaiting = false
        func decide(_ service: JSON) async {
            let key = service.namespacedName
            let before = allocator.assignment(of: key)?.ips ?? []
            let sharing = allocator.request(of: key)?.sharingTerms
            if await reconcile(service, &allocator, writer) {
                waiting.insert(key)
            } else {
                waiting.remove(key)
            }
            let after = allocator.assignment(of: key)?.ips ?? []
            if before.contains(where: { !after.contains($0) }) { retryWaiting = true }
            if let sharing, !after.isEmpty, allocator.request(of: key)?.sharingTerms != sharing {
                retryWaiting = true
            }
        }
        for (namespace, name, _) in existing {
            if let service = services.get(namespace: namespace, name: name) { await decide(service) }
        }
        synced.withLock { $0 = true }
        logger.info(
            "controller synced", metadata: ["services": "\(existing.count)", "assigned": "\(allocator.assignedCount)"])

        var writtenPoolStatus: [String: JSON] = [:]
        for await work in queue {
            retryWaiting = false
            switch work {
            case .poolStatus:
                guard let current else { continue }
                await writePoolStatus(current, allocator, &writtenPoolStatus)
            case .poolStatusChanged(let name):
                // A status this controller did not write is rewritten on the next tick.
                if let written = writtenPoolStatus[name],
                    poolInformer.get(namespace: options.namespace, name: name)?["status"] != written
                {
                    writtenPoolStatus[name] = nil
                }
            case .service(let namespace, let name):
                let key = "\(namespace)/\(name)"
                if let service = services.get(namespace: namespace, name: name) {
                    await decide(service)
                } else {
                    if allocator.assignment(of: key) != nil { retryWaiting = true }
                    allocator.release(key)
                    waiting.remove(key)
                    await writer.forget(key)
                }
            case .namespace(let namespace):
                for (ns, name, _) in servicesOldestFirst({ _ in () }) where ns == namespace {
                    if let service = services.get(namespace: ns, name: name) { await decide(service) }
                }
            case .configuration:
                guard await applyConfiguration(&current, &allocator, &reported) else { continue }
                for (namespace, name, _) in servicesOldestFirst({ _ in () }) {
                    if let service = services.get(namespace: namespace, name: name) { await decide(service) }
                }
            }
            if retryWaiting, !waiting.isEmpty {
                let candidates = waiting.compactMap { key -> JSON? in
                    let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
                    return parts.count == 2 ? services.get(namespace: parts[0], name: parts[1]) : nil
                }
                for service in Self.oldestFirst(candidates) { await decide(service) }
            }
        }
    }

    /// The cached Services' namespaces and names in creation order, without holding every Service decoded,
    /// and what `extract` reads from each while it is decoded.
    private func servicesOldestFirst<T>(_ extract: (JSON) -> T) -> [(namespace: String, name: String, value: T)] {
        services.list { service in
            (
                order: service.creationOrder, namespace: service["metadata"]?["namespace"]?.stringValue ?? "",
                name: service["metadata"]?["name"]?.stringValue ?? "", value: extract(service)
            )
        }
        .sorted { $0.order < $1.order }.map { ($0.namespace, $0.name, $0.value) }
    }

    /// Services in creation order (each object's sort key computed once).
    static func oldestFirst(_ services: [JSON]) -> [JSON] {
        services.map { ($0.creationOrder, $0) }.sorted { $0.0 < $1.0 }.map(\.1)
    }

    /// Validates the configuration objects; a valid configuration that differs from `current` replaces it (the
    /// allocator releases what it invalidates), an invalid one is reported and ignored.
    /// - Returns: whether the configuration in force changed (Services must then be reconciled).
    private func applyConfiguration(
        _ current: inout Configuration?, _ allocator: inout Allocator, _ reported: inout JSON?
    ) async -> Bool {
        switch parseConfiguration() {
        case .success(let config):
            Gauge(label: "pylon_config_valid").record(1)
            Gauge(label: "pylon_config_stale").record(0)
            await reportConfiguration(nil, &reported)
            guard config != current else { return false }
            let earlier = Set(current?.warnings ?? [])
            current = config
            let released = allocator.reconfigure(config)
            logger.info(
                "configuration applied", metadata: ["pools": "\(config.pools.map(\.name))", "moved": "\(released)"])
            for warning in config.warnings where !earlier.contains(warning) {
                logger.warning("configuration accepted with a warning", metadata: ["warning": "\(warning)"])
                if let object = configurationObject(warning) {
                    await recorder.record(
                        object, type: "Warning", reason: "ConfigurationWarning", message: warning.description)
                }
            }
            return true
        case .failure(let errors):
            logger.error(
                current == nil
                    ? "invalid configuration; no pool is in force until it is fixed"
                    : "invalid configuration ignored; the last valid one stays in force",
                metadata: ["errors": "\(errors)"])
            Gauge(label: "pylon_config_valid").record(0)
            Gauge(label: "pylon_config_stale").record(current == nil ? 0 : 1)
            await reportConfiguration(errors, &reported)
            if let first = errors.errors.first, let object = configurationObject(first) {
                await recorder.record(
                    object, type: "Warning", reason: "InvalidConfiguration", message: errors.description)
            }
            return false
        }
    }

    private func read(_ service: JSON) -> ServiceReading.Outcome {
        let namespace = service["metadata"]?["namespace"]?.stringValue ?? ""
        var labels: [String: String] = [:]
        for (k, v) in namespaces.get(name: namespace)?["metadata"]?["labels"]?.objectValue ?? [:] {
            labels[k] = v.stringValue ?? ""
        }
        // The allocator keeps every request; requests of one namespace share one copy of its labels.
        labels = namespaceLabels.withLock { shared in
            if let same = shared[namespace], same == labels { return same }
            shared[namespace] = labels
            return labels
        }
        return ServiceReading.read(service, namespaceLabels: labels, loadBalancerClass: options.loadBalancerClass)
    }

    private func parseConfiguration() -> Result<Configuration, ConfigurationErrors> {
        Configuration.parse(pools: poolInformer.list(), l2Advertisements: l2Informer.list())
    }

    private func configurationObject(_ error: LoadBalancerConfig.ConfigurationError) -> JSON? {
        let informer = error.kind == "IPAddressPool" ? poolInformer : l2Informer
        return informer.get(namespace: options.namespace, name: error.name)
    }

    /// Decides one Service's addresses and hands what must change (status, Events) to the writer; submits
    /// nothing when the Service already shows the decision and no earlier write for it is pending.
    /// - Returns: whether the Service asked for an address and could not get one (it waits for a freed one).
    private func reconcile(_ service: JSON, _ allocator: inout Allocator, _ writer: ServiceWriter) async -> Bool {
        var waits = false
        let serviceKey = service.namespacedName
        let held = ServiceReading.statusIPs(service)
        let ourAnnotation = service["metadata"]?["annotations"]?[ServiceReading.allocatedFromPool]?.stringValue
        let pending = await writer.hasWork(for: serviceKey)
        // What the Service shows, or will show once this controller's own writes are visible.
        let shows =
            await writer.expected(
                for: serviceKey, resourceVersion: service["metadata"]?["resourceVersion"]?.stringValue)
            ?? WriteQueue.Target(ips: held, pool: ourAnnotation)
        // What the Service's status should show; `nil` leaves it to whoever owns it.
        var desired: WriteQueue.Target? = nil
        var notes: [WriteQueue.Note] = []
        let clearIfOurs: WriteQueue.Target? = shows.pool != nil || pending ? .cleared : nil
        switch read(service) {
        case .notOurs:
            allocator.release(serviceKey)
            desired = clearIfOurs
            if shows.pool != nil {
                notes.append(
                    .init(
                        type: "Normal", reason: "ClearAssignment",
                        message: "the service is no longer a LoadBalancer of this controller's class"))
            }
        case .invalid(let message):
            allocator.release(serviceKey)
            desired = clearIfOurs
            notes.append(.init(type: "Warning", reason: "AllocationFailed", message: message))
        case .request(let request, let deprecated):
            for annotation in deprecated {
                notes.append(
                    .init(
                        type: "Warning", reason: "deprecatedAnnotation",
                        message:
                            "Service uses deprecated annotation \(annotation); use metallb.io/\(annotation.dropFirst(ServiceReading.legacyPrefix.count))"
                    ))
            }
            // Why the addresses the Service shows cannot stay, asked before assigning takes them into account.
            let shown = shows.pool == nil ? [] : shows.ips
            let invalidity = shown.isEmpty ? nil : allocator.check(shown, for: request)
            func clearAssignment(_ cause: AllocationFailure) {
                notes.append(
                    .init(
                        type: "Normal", reason: "ClearAssignment",
                        message:
                            "addresses \(shown.map(\.description).joined(separator: ",")) withdrawn, a new assignment is attempted: \(cause)"
                    ))
            }
            switch allocator.assign(request) {
            case .success(let assignment):
                desired = .init(ips: assignment.ips, pool: assignment.pool)
                guard shows != desired else { break }
                let list = assignment.ips.map { "\"\($0)\"" }.joined(separator: ",")
                if shown == assignment.ips {
                    break  // the same addresses under a renamed pool: only the annotation changes
                } else if !shown.isEmpty, assignment.ips.starts(with: shown) {
                    let added = assignment.ips.dropFirst(shown.count).map { "\"\($0)\"" }.joined(separator: ",")
                    notes.append(
                        .init(
                            type: "Normal", reason: "IPAllocated",
                            message: "Assigned additional IP [\(added)] from pool \(assignment.pool)"))
                } else {
                    if let invalidity { clearAssignment(invalidity) }
                    notes.append(
                        .init(
                            type: "Normal", reason: "IPAllocated",
                            message: "Assigned IP [\(list)] from pool \(assignment.pool)"))
                }
                Counter(label: "pylon_allocator_allocations_total").increment()
            case .failure(let failure):
                waits = true
                Counter(label: "pylon_allocator_allocation_failures_total", dimensions: [("reason", failure.reason)])
                    .increment()
                desired = clearIfOurs
                if !shown.isEmpty { clearAssignment(invalidity ?? failure) }
                notes.append(
                    .init(
                        type: "Warning", reason: "AllocationFailed",
                        message: "Failed to allocate IP for \"\(serviceKey)\": \(failure)"))
            }
        }
        let target = desired.flatMap { $0 != shows ? $0 : nil }
        guard target != nil || !notes.isEmpty else { return waits }
        await writer.submit(.init(key: serviceKey, service: service, target: target, notes: notes))
        return waits
    }

    /// Keeps the ConfigurationState object `controller` in the configuration namespace in line with the latest
    /// validation (`Valid`, or `Invalid` with every error in `errorSummary`).
    private func reportConfiguration(_ errors: ConfigurationErrors?, _ reported: inout JSON?) async {
        let status: JSON =
            errors.map { ["result": "Invalid", "errorSummary": .string($0.description)] } ?? [
                "result": "Valid", "errorSummary": "",
            ]
        guard status != reported else { return }
        do {
            do {
                _ = try await client.patch(
                    .configurationStates, namespace: options.namespace, name: "controller", ["status": status],
                    subresource: "status")
            } catch let missing as Status where missing.code == 404 {
                let object: JSON = [
                    "apiVersion": "metallb.io/v1beta1", "kind": "ConfigurationState",
                    "metadata": ["name": "controller", "namespace": .string(options.namespace)],
                ]
                _ = try await client.create(.configurationStates, namespace: options.namespace, object)
                _ = try await client.patch(
                    .configurationStates, namespace: options.namespace, name: "controller", ["status": status],
                    subresource: "status")
            }
            reported = status
        } catch {
            logger.warning("cannot write ConfigurationState", metadata: ["error": "\(error)"])
        }
    }

    /// Patches each pool's `status` (assigned/available per family) when it differs from what was last written.
    private func writePoolStatus(
        _ configuration: Configuration, _ allocator: Allocator, _ written: inout [String: JSON]
    ) async {
        for pool in configuration.pools {
            let v4 = allocator.inUse(pool: pool.name, family: .ipv4)
            let v6 = allocator.inUse(pool: pool.name, family: .ipv6)
            func clamp(_ n: UInt128) -> Int64 { n > UInt128(Int64.max) ? Int64.max : Int64(n) }
            for (family, used) in [(IPFamily.ipv4, v4), (.ipv6, v6)] {
                let labels = [("pool", pool.name), ("family", family == .ipv4 ? "ipv4" : "ipv6")]
                Gauge(label: "pylon_allocator_addresses_total", dimensions: labels).record(
                    Double(clamp(pool.capacity(family))))
                Gauge(label: "pylon_allocator_addresses_in_use_total", dimensions: labels).record(Double(used))
            }
            let status: JSON = [
                "assignedIPv4": .int(Int64(v4)), "assignedIPv6": .int(Int64(v6)),
                "availableIPv4": .int(clamp(pool.capacity(.ipv4)) - Int64(v4)),
                "availableIPv6": .int(clamp(pool.capacity(.ipv6)) - Int64(v6)),
            ]
            if written[pool.name] == status { continue }
            if written[pool.name] == nil,
                poolInformer.get(namespace: options.namespace, name: pool.name)?["status"] == status
            {
                written[pool.name] = status
                continue
            }
            do {
                _ = try await client.patch(
                    .ipAddressPools, namespace: options.namespace, name: pool.name, ["status": status],
                    subresource: "status"
                )
                written[pool.name] = status
            } catch {
                logger.warning("cannot update pool status", metadata: ["pool": "\(pool.name)", "error": "\(error)"])
            }
        }
    }
}
