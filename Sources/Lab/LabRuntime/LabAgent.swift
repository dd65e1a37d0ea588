import KubeAPI
import KubeClient
import Lab
import Logging
import NIOCore
import NIOPosix
import Processes
import ServiceLifecycle
import Synchronization

/// What runs on each lab node besides the speaker and the overlay: a kubelet stand-in (`LabKubelet`, the node's
/// Pods) and a kube-proxy stand-in.
///
/// - Proxy: like kube-proxy in IPVS mode it binds every LoadBalancer address to the node (on `lo`; the lab's
///   nodes answer ARP only for addresses of the receiving interface, so the speaker alone answers for them) and
///   forwards each connection to `address:port` to a ready endpoint of the Service, round robin — only endpoints on
///   this node when `externalTrafficPolicy` is Local. It is a userspace proxy: an IPv6 load balancer address may
///   be forwarded to an IPv4 endpoint.
///
/// Isolation: a `Service`; `run()` returns on graceful shutdown. Addresses it bound are removed again. A listener
/// that cannot be bound is logged and retried on the next change; an unreachable endpoint closes that connection.
public final class LabAgent: Service, Sendable {
    /// One forwarding rule: a load balancer address and port, and where its connections go.
    struct Rule: Equatable, Sendable {
        var endpoints: [SocketTarget]
    }

    struct SocketTarget: Hashable, Sendable {
        var host: String
        var port: Int
    }

    private let client: KubeClient
    private let node: String
    private let kubelet: LabKubelet
    private let logger: Logger
    private let services: Informer
    private let slices: Informer
    /// `address|port` → rule, read by listeners when a connection arrives.
    private let rules = Mutex<[String: Rule]>([:])
    private let turn = Atomic<Int>(0)

    public init(client: KubeClient, kubelet: LabKubelet.Options, logger: Logger) {
        self.client = client
        self.node = kubelet.node
        self.kubelet = LabKubelet(client: client, options: kubelet, logger: logger)
        self.logger = logger
        self.services = Informer(client: client, resource: .services, logger: logger)
        self.slices = Informer(
            client: client, resource: .endpointSlices,
            indexers: ["service": { [$0.namespacedServiceName].compactMap { $0 } }], logger: logger)
    }

    public func run() async throws {
        let changes = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        for informer in [services, slices] {
            await informer.addHandler { _ in changes.continuation.yield() }
        }
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await self.services.run() }
            group.addTask { try await self.slices.run() }
            group.addTask { try await self.kubelet.run() }
            group.addTask {
                await self.services.waitForSync()
                await self.slices.waitForSync()
                var listeners: [String: Task<Void, Never>] = [:]
                var bound: Set<String> = []
                for await _ in changes.stream.cancelOnGracefulShutdown() {
                    await self.reconcile(listeners: &listeners, bound: &bound)
                }
                for task in listeners.values { task.cancel() }
                for address in bound { await self.unbind(address) }
            }
        }
    }

    // MARK: Rules

    /// Rules for every LoadBalancer Service with an address.
    func desiredRules() -> [String: Rule] {
        var result: [String: Rule] = [:]
        for service in services.list() where service["spec"]?["type"]?.stringValue == "LoadBalancer" {
            let addresses = (service["status"]?["loadBalancer"]?["ingress"]?.arrayValue ?? []).compactMap {
                $0["ip"]?.stringValue
            }
            let local = service["spec"]?["externalTrafficPolicy"]?.stringValue == "Local"
            let slices = self.slices.byIndex("service", service.namespacedName)
            for port in service["spec"]?["ports"]?.arrayValue ?? []
            where (port["protocol"]?.stringValue ?? "TCP") == "TCP" {
                guard let number = port["port"]?.intValue else { continue }
                let endpoints = Self.endpoints(
                    slices, portName: port["name"]?.stringValue ?? "", onlyOn: local ? node : nil)
                for address in addresses { result["\(address)|\(number)"] = Rule(endpoints: endpoints) }
            }
        }
        return result
    }

    /// Ready endpoints of the slices for the named port, optionally only those on `node`; when none is ready, the
    /// ones still serving while they terminate (as kube-proxy does, so a node that announces a Local Service for a
    /// terminating Pod still reaches it).
    static func endpoints(_ slices: [JSON], portName: String, onlyOn node: String?) -> [SocketTarget] {
        let ready = endpoints(slices, portName: portName, onlyOn: node) { $0?["ready"]?.boolValue ?? true }
        if !ready.isEmpty { return ready }
        return endpoints(slices, portName: portName, onlyOn: node) {
            $0?["terminating"]?.boolValue == true && ($0?["serving"]?.boolValue ?? $0?["ready"]?.boolValue ?? true)
        }
    }

    private static func endpoints(
        _ slices: [JSON], portName: String, onlyOn node: String?, taking usable: (JSON?) -> Bool
    ) -> [SocketTarget] {
        var targets: [SocketTarget] = []
        for slice in slices {
            guard
                let port = (slice["ports"]?.arrayValue ?? []).first(where: {
                    ($0["name"]?.stringValue ?? "") == portName
                })?["port"]?.intValue
            else { continue }
            for endpoint in slice["endpoints"]?.arrayValue ?? [] {
                guard usable(endpoint["conditions"]) else { continue }
                if let node, endpoint["nodeName"]?.stringValue != node { continue }
                for address in endpoint["addresses"]?.arrayValue ?? [] {
                    if let host = address.stringValue { targets.append(SocketTarget(host: host, port: Int(port))) }
                }
            }
        }
        return targets.sorted { ($0.host, $0.port) < ($1.host, $1.port) }
    }

    private func reconcile(listeners: inout [String: Task<Void, Never>], bound: inout Set<String>) async {
        let desired = desiredRules()
        rules.withLock { $0 = desired }
        let addresses = Set(desired.keys.map { String($0.split(separator: "|")[0]) })
        for address in addresses.subtracting(bound) where await bind(address) { bound.insert(address) }
        for key in Set(listeners.keys).subtracting(desired.keys) {
            listeners.removeValue(forKey: key)?.cancel()
        }
        for key in Set(desired.keys).subtracting(listeners.keys) {
            let parts = key.split(separator: "|")
            guard bound.contains(String(parts[0])), let port = Int(parts[1]) else { continue }
            listeners[key] = Task { await self.listen(key: key, host: String(parts[0]), port: port) }
        }
        for address in bound.subtracting(addresses) {
            await unbind(address)
            bound.remove(address)
        }
    }

    private func bind(_ address: String) async -> Bool {
        let v6 = address.contains(":")
        let argv = ["addr", "replace", "\(address)/\(v6 ? 128 : 32)", "dev", "lo"] + (v6 ? ["nodad"] : [])
        do {
            let result = try await ChildProcess.run("/usr/sbin/ip", argv, standardError: .merged)
            if !result.succeeded { logger.warning("cannot bind \(address) to lo: \(result.standardOutput)") }
            return result.succeeded
        } catch {
            logger.warning("cannot bind \(address) to lo: \(error)")
            return false
        }
    }

    private func unbind(_ address: String) async {
        let v6 = address.contains(":")
        _ = try? await ChildProcess.run(
            "/usr/sbin/ip", ["addr", "del", "\(address)/\(v6 ? 128 : 32)", "dev", "lo"], standardError: .discarded)
    }

    // MARK: Proxy

    private func listen(key: String, host: String, port: Int) async {
        do {
            let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                .bind(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(isOutboundHalfClosureEnabled: true))
                    }
                }
            logger.info("forwarding \(host):\(port)")
            try await server.executeThenClose { inbound in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in inbound {
                        group.addTask { await self.forward(connection, key: key) }
                    }
                }
            }
        } catch is CancellationError {
        } catch {
            if !Task.isCancelled { logger.warning("forwarding \(host):\(port) stopped: \(error)") }
        }
    }

    private func forward(_ inbound: NIOAsyncChannel<ByteBuffer, ByteBuffer>, key: String) async {
        let endpoints = rules.withLock { $0[key]?.endpoints ?? [] }
        guard !endpoints.isEmpty else {
            try? await inbound.executeThenClose { _, _ in }
            return
        }
        let target = endpoints[turn.wrappingAdd(1, ordering: .relaxed).oldValue % endpoints.count]
        do {
            let outbound = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(2))
                .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                .connect(host: target.host, port: target.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(isOutboundHalfClosureEnabled: true))
                    }
                }
            try await inbound.executeThenClose { clientIn, clientOut in
                try await outbound.executeThenClose { backendIn, backendOut in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for try await chunk in clientIn { try await backendOut.write(chunk) }
                            backendOut.finish()
                        }
                        group.addTask {
                            for try await chunk in backendIn { try await clientOut.write(chunk) }
                            clientOut.finish()
                        }
                        try await group.waitForAll()
                    }
                }
            }
        } catch {
            logger.debug("connection to \(target.host):\(target.port) ended: \(error)")
            try? await inbound.executeThenClose { _, _ in }
        }
    }
}

extension JSON {
    /// `namespace/name` of the Service an EndpointSlice belongs to.
    fileprivate var namespacedServiceName: String? {
        guard let service = self["metadata"]?["labels"]?["kubernetes.io/service-name"]?.stringValue else {
            return nil
        }
        return "\(self["metadata"]?["namespace"]?.stringValue ?? "")/\(service)"
    }
}
