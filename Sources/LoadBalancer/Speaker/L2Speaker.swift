import Crypto
import Election
import KubeAPI
import KubeClient
import Layer2
import LoadBalancerConfig
import Logging
import NIOCore
import NIOPosix
import NetCore
import Netlink
import ServiceLifecycle
import Synchronization

/// `pylon speaker` in Layer 2 mode: elects, with every other speaker and without talking about it, the node that
/// announces each LoadBalancer address, and on this node answers ARP and Neighbor Solicitations for the addresses it
/// won, announcing them at once (gratuitous ARP, unsolicited Neighbor Advertisements) when it gains them.
///
/// Liveness of the other speakers comes from the SWIM membership (`MembershipAgent`); interfaces from rtnetlink
/// (`LinkMonitor`); Services, EndpointSlices, Nodes and the metallb.io configuration from informers. Every change
/// leads to one reconcile pass, run serially. A `Service`: returns on graceful shutdown after leaving the
/// membership (so the others take over at once) and closing its sockets. Thread-safe.
public final class L2Speaker: Service, Sendable {
    public struct Options: Sendable {
        public var nodeName: String
        /// Namespace of the configuration and the membership Secret.
        public var namespace: String
        public var loadBalancerClass: String?
        /// Membership `IP` or `IP:port`; nil: the node's first InternalIP.
        public var memberAddress: String?
        public var memberPort: Int
        /// Secret holding the membership key (MetalLB's is `memberlist`, key `secretkey`).
        public var secretName: String
        public var secretKey: String
        public var interfaces: InterfaceFilter
        /// `SCHED_FIFO` priority of the thread answering ARP and Neighbor Solicitations (1–99); 0 keeps ordinary
        /// scheduling. Needs `CAP_SYS_NICE`; without it the speaker logs a notice and answers anyway.
        public var responderPriority: Int32

        public init(
            nodeName: String, namespace: String = "pylon-system", loadBalancerClass: String? = nil,
            memberAddress: String? = nil, memberPort: Int = 7946, secretName: String = "memberlist",
            secretKey: String = "secretkey", interfaces: InterfaceFilter = InterfaceFilter(),
            responderPriority: Int32 = 1
        ) {
            self.nodeName = nodeName
            self.namespace = namespace
            self.loadBalancerClass = loadBalancerClass
            self.memberAddress = memberAddress
            self.memberPort = memberPort
            self.secretName = secretName
            self.secretKey = secretKey
            self.interfaces = interfaces
            self.responderPriority = responderPriority
        }
    }

    /// Gratuitous announcements: at once, then every 1.1 s for 5 s (as MetalLB), so that caches that missed the
    /// first one still move.
    static let announceRepeat: Duration = .milliseconds(1100)
    static let announceFor: Duration = .seconds(5)

    let client: KubeClient
    let options: Options
    let logger: Logger
    let recorder: EventRecorder
    let metrics = SpeakerMetrics()
    let table = AnnouncementTable()
    /// Services and EndpointSlices as the planners read them, fed by `services` and `slices`.
    let inputs = AnnouncementInputs()
    let services: Informer
    let slices: Informer
    let nodes: Informer
    let pools: Informer
    let advertisements: Informer
    let links = Mutex<[Int32: Link]>([:])
    let membership = Mutex<MembershipAgent?>(nil)
    let ready = Mutex(false)
    let statusWriter: ServiceStatusWriter

    public init(client: KubeClient, options: Options, logger: Logger = Logger(label: "pylon.speaker")) {
        self.client = client
        self.options = options
        self.logger = logger
        self.recorder = EventRecorder(client: client, component: "pylon-speaker", logger: logger)
        services = Informer.loadBalancerServices(client, logger: logger)
        slices = Informer.endpointSliceNodes(client, logger: logger)
        nodes = Informer(client: client, resource: .nodes, logger: logger)
        pools = Informer(client: client, resource: .ipAddressPools, namespace: options.namespace, logger: logger)
        advertisements = Informer(
            client: client, resource: .l2Advertisements, namespace: options.namespace, logger: logger)
        statusWriter = ServiceStatusWriter(
            client: client, namespace: options.namespace, node: options.nodeName, kind: .layer2, logger: logger)
    }

    /// Whether the speaker has joined the membership and made its first decisions.
    public var isReady: Bool { ready.withLock { $0 } }

    public func run() async throws {
        // Shutdown while waiting for the key: nothing was announced, nothing to undo.
        guard let key = try? await cancelWhenGracefulShutdown({ try await self.membershipKey() }) else { return }
        let group = MultiThreadedEventLoopGroup.singleton
        let (work, trigger) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        // Before the informers run, so the inputs see every change, and before any handler that starts a pass.
        await services.addHandler { self.inputs.apply(service: $0) }
        await slices.addHandler { self.inputs.apply(endpointSlice: $0) }
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for informer in [services, slices, nodes, pools, advertisements] {
                tasks.addTask { try? await informer.run() }
                tasks.addTask { await informer.addHandler { _ in trigger.yield() } }
            }
            tasks.addTask { await self.statusWriter.run() }
            tasks.addTask {
                await LinkMonitor(group: group, logger: self.logger).run { links in
                    self.links.withLock { $0 = links }
                    trigger.yield()
                }
            }
            try await cancelWhenGracefulShutdown {
                for informer in [self.services, self.slices, self.nodes, self.pools, self.advertisements] {
                    await informer.waitForSync()
                }
                guard let address = self.memberAddress() else {
                    throw SpeakerError(
                        "no membership address: Node \(self.options.nodeName) has no InternalIP and --member-address is not set"
                    )
                }
                let agent = MembershipAgent(
                    name: self.options.nodeName, address: address, key: key, metrics: self.metrics,
                    logger: self.logger
                ) { _ in trigger.yield() }
                self.membership.withLock { $0 = agent }
                // Without membership this node would see itself alone and announce everything: a failure to
                // bind stops the speaker (and its announcements) instead.
                try await withThrowingTaskGroup(of: Void.self) { inner in
                    inner.addTask {
                        do { try await agent.run(group: group, seeds: { self.seeds() }) } catch {
                            throw SpeakerError("membership on \(address) failed: \(error)")
                        }
                    }
                    inner.addTask { await self.reconcileLoop(work, retrigger: { trigger.yield() }) }
                    defer { inner.cancelAll() }
                    try await inner.next()
                }
            }
            // Graceful shutdown: the membership has left; stop answering and close the sockets.
            trigger.finish()
            tasks.cancelAll()
        }
    }

    // MARK: Membership

    private func membershipKey() async throws -> SymmetricKey {
        var attempts = 0
        while true {
            do {
                let secret = try await client.get(.secrets, namespace: options.namespace, name: options.secretName)
                guard let encoded = secret["data"]?[options.secretKey]?.stringValue,
                    let bytes = Base64.decode(encoded), !bytes.isEmpty
                else {
                    throw SpeakerError(
                        "Secret \(options.namespace)/\(options.secretName) has no non-empty key \"\(options.secretKey)\""
                    )
                }
                return SymmetricKey(data: SHA256.hash(data: bytes))
            } catch {
                if attempts % 10 == 0 {
                    logger.error(
                        "membership key not readable yet; retrying",
                        metadata: ["secret": "\(options.namespace)/\(options.secretName)", "error": "\(error)"])
                }
                attempts += 1
                try await Task.sleep(for: .seconds(1))
            }
        }
    }

    private func memberAddress() -> String? {
        if let configured = options.memberAddress {
            return configured.contains("]:") || configured.filter({ $0 == ":" }).count == 1
                ? configured : Self.join(configured, options.memberPort)
        }
        return nodes.get(name: options.nodeName).flatMap(Self.internalIP).map { Self.join($0, options.memberPort) }
    }

    /// Other nodes' membership addresses: their first InternalIP and this speaker's port.
    private func seeds() -> [String] {
        nodes.list().filter { $0["metadata"]?["name"]?.stringValue != options.nodeName }
            .compactMap(Self.internalIP).map { Self.join($0, options.memberPort) }.sorted()
    }

    static func internalIP(_ node: JSON) -> String? {
        (node["status"]?["addresses"]?.arrayValue ?? []).first { $0["type"]?.stringValue == "InternalIP" }?[
            "address"]?.stringValue
    }

    static func join(_ host: String, _ port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// A speaker failure with its explanation.
struct SpeakerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
