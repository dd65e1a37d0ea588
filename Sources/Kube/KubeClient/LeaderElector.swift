import FoundationEssentials
import KubeAPI
import Logging
import ServiceLifecycle
import Synchronization

/// Lease-based leader election (coordination.k8s.io/v1), compatible with client-go's: one holder at a time, the
/// holder renews `renewTime` every `retryPeriod`, and others take over only after observing no renewal for
/// `leaseDuration` (measured on their own clock, so clock skew between machines does not matter).
///
/// `run()` is a `Service`. While leading, `lead` runs; it is cancelled when leadership is lost (renewals failing
/// for `renewDeadline`). On graceful shutdown the lease is released so another replica takes over at once.
public final class LeaderElector: Service, Sendable {
    public struct Timing: Sendable {
        public var leaseDuration: Duration = .seconds(15)
        public var renewDeadline: Duration = .seconds(10)
        public var retryPeriod: Duration = .seconds(2)
        public init() {}
        public init(leaseDuration: Duration, renewDeadline: Duration, retryPeriod: Duration) {
            self.leaseDuration = leaseDuration
            self.renewDeadline = renewDeadline
            self.retryPeriod = retryPeriod
        }
    }

    private struct Observation {
        var record: JSON?
        var at: ContinuousClock.Instant
    }

    public let identity: String
    private let client: KubeClient
    private let namespace: String
    private let name: String
    private let timing: Timing
    private let lead: @Sendable () async -> Void
    private let logger: Logger
    private let observed = Mutex<Observation?>(nil)
    private let leading = Mutex(false)

    public init(
        client: KubeClient, namespace: String, name: String, identity: String, timing: Timing = Timing(),
        logger: Logger = Logger(label: "pylon.leader-election"), lead: @escaping @Sendable () async -> Void
    ) {
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.timing = timing
        self.lead = lead
        self.logger = logger
    }

    /// Whether this replica holds the lease right now.
    public var isLeader: Bool { leading.withLock { $0 } }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await self.campaign()
        }
        if isLeader { await release() }
        leading.withLock { $0 = false }
    }

    private func campaign() async {
        while !Task.isCancelled {
            if await tryAcquireOrRenew() {
                leading.withLock { $0 = true }
                logger.info("became leader", metadata: ["lease": "\(namespace)/\(name)", "identity": "\(identity)"])
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { await self.lead() }
                    group.addTask { await self.renewLoop() }
                    _ = await group.next()
                    group.cancelAll()
                }
                // Still the holder when shutting down: `run` releases the lease.
                if Task.isCancelled { return }
                leading.withLock { $0 = false }
                logger.info("stopped leading", metadata: ["lease": "\(namespace)/\(name)"])
            }
            try? await Task.sleep(for: timing.retryPeriod)
        }
    }

    /// Renews until renewals fail for `renewDeadline` or the task is cancelled.
    private func renewLoop() async {
        var lastSuccess = ContinuousClock.now
        while !Task.isCancelled {
            try? await Task.sleep(for: timing.retryPeriod)
            if Task.isCancelled { return }
            if await tryAcquireOrRenew() {
                lastSuccess = .now
            } else if lastSuccess.duration(to: .now) >= timing.renewDeadline {
                return
            }
        }
    }

    private func nowMicro() -> JSON {
        .string(Timestamp.formatMicro(epochMicroseconds: Int64(Date().timeIntervalSince1970 * 1_000_000)))
    }

    private func tryAcquireOrRenew() async -> Bool {
        let seconds = Int64(timing.leaseDuration.components.seconds)
        do {
            let current: JSON
            do {
                current = try await client.get(.leases, namespace: namespace, name: name)
            } catch let status as Status where status.code == 404 {
                let lease: JSON = [
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": ["name": .string(name), "namespace": .string(namespace)],
                    "spec": [
                        "holderIdentity": .string(identity), "leaseDurationSeconds": .int(seconds),
                        "acquireTime": nowMicro(), "renewTime": nowMicro(), "leaseTransitions": 0,
                    ],
                ]
                let created = try await client.create(.leases, namespace: namespace, lease)
                observed.withLock { $0 = Observation(record: created["spec"], at: .now) }
                return true
            }
            let spec = current["spec"] ?? [:]
            let now = ContinuousClock.now
            let observation = observed.withLock { o -> Observation in
                if o == nil || o!.record != spec { o = Observation(record: spec, at: now) }
                return o!
            }
            let holder = spec["holderIdentity"]?.stringValue ?? ""
            let duration = Duration.seconds(spec["leaseDurationSeconds"]?.intValue ?? seconds)
            if holder != identity, !holder.isEmpty, observation.at.duration(to: now) < duration {
                return false
            }
            var updated = current
            updated[path: ["spec", "holderIdentity"]] = .string(identity)
            updated[path: ["spec", "leaseDurationSeconds"]] = .int(seconds)
            updated[path: ["spec", "renewTime"]] = nowMicro()
            if holder != identity {
                updated[path: ["spec", "acquireTime"]] = nowMicro()
                updated[path: ["spec", "leaseTransitions"]] = .int((spec["leaseTransitions"]?.intValue ?? 0) + 1)
            }
            let stored = try await client.update(.leases, updated)
            observed.withLock { $0 = Observation(record: stored["spec"], at: .now) }
            return true
        } catch {
            logger.debug("lease update failed", metadata: ["lease": "\(namespace)/\(name)", "error": "\(error)"])
            return false
        }
    }

    private func release() async {
        do {
            var lease = try await client.get(.leases, namespace: namespace, name: name)
            guard lease["spec"]?["holderIdentity"]?.stringValue == identity else { return }
            lease[path: ["spec", "holderIdentity"]] = ""
            lease[path: ["spec", "leaseDurationSeconds"]] = 1
            lease[path: ["spec", "renewTime"]] = nowMicro()
            _ = try await client.update(.leases, lease)
        } catch {
            logger.warning("cannot release lease", metadata: ["lease": "\(namespace)/\(name)", "error": "\(error)"])
        }
    }
}
