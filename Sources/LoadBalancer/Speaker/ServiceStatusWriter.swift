import Announcement
import Crypto
import KubeAPI
import KubeClient
import Logging
import OrderedCollections
import Synchronization

/// Keeps MetalLB's per-Service status objects in step with what this node announces: one object per Service it
/// announces (`status`: node, Service, and the mode's details), none for Services it no longer announces.
///
/// - Layer 2 (ServiceL2Status, `interfaces`): one node announces a Service, so the new announcer also removes the
///   objects another node left for it (a crashed speaker cannot clean up after itself). Each object carries the
///   annotation `pylon.io/interface-macs` (`eth0=aa:bb:…,…`): the MAC addresses the node answers with, which
///   `pylon explain` shows.
/// - BGP (ServiceBGPStatus, `peers`: the BGPPeers it is announced to): every serving node announces, each keeps its
///   own object.
///
/// Writes run on their own task, latest wish first, so a slow API server never delays answering ARP or BGP.
/// Failed writes are retried with backoff (0.2 s … 10 s). Thread-safe.
final class ServiceStatusWriter: Sendable {
    static let nodeLabel = "metallb.io/node"
    static let serviceNameLabel = "metallb.io/service-name"
    static let serviceNamespaceLabel = "metallb.io/service-namespace"
    static let macAnnotation = SpeakerAnnotations.interfaceMACs

    /// Which of MetalLB's status objects.
    struct Kind: Sendable {
        var resource: Resource
        var kind: String
        /// Object names: this prefix and a hash of Service and node.
        var prefix: String
        /// Whether one node at a time announces a Service (its objects from other nodes are then stale).
        var exclusive: Bool

        static let layer2 = Kind(
            resource: .serviceL2Statuses, kind: "ServiceL2Status", prefix: "l2-", exclusive: true)
        static let bgp = Kind(resource: .serviceBGPStatuses, kind: "ServiceBGPStatus", prefix: "bgp-", exclusive: false)
    }

    /// What one Service's object says beyond node and Service.
    struct Entry: Sendable, Equatable {
        /// Extra `status` fields (`interfaces` or `peers`).
        var status: JSONObject
        var annotations: [String: String] = [:]
    }

    private let client: KubeClient
    private let namespace: String
    private let node: String
    private let kind: Kind
    private let logger: Logger
    let informer: Informer
    private let wanted = Mutex<[String: Entry]?>(nil)
    private let trigger: AsyncStream<Void>.Continuation
    private let triggers: AsyncStream<Void>

    init(client: KubeClient, namespace: String, node: String, kind: Kind, logger: Logger) {
        self.client = client
        self.namespace = namespace
        self.node = node
        self.kind = kind
        self.logger = logger
        // Compact, with the objects found by owner and by Service: a node reads its own and those of the Services
        // it announces, never the whole collection (every node's objects for every Service).
        self.informer = Informer(
            client: client, resource: kind.resource, namespace: namespace,
            indexers: [
                Self.nodeIndex: { [$0["metadata"]?["labels"]?[Self.nodeLabel]?.stringValue ?? ""] },
                Self.serviceIndex: { [Self.service(of: $0)] },
            ], compact: true, logger: logger)
        (triggers, trigger) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Sets what this node announces: Service (`namespace/name`) → its object's details.
    func publish(_ announced: [String: Entry]) {
        wanted.withLock { $0 = announced }
        trigger.yield()
    }

    /// Writes until cancelled.
    func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await self.informer.run() }
            await self.informer.addHandler { _ in self.trigger.yield() }
            await withTaskCancellationHandler {
                await self.informer.waitForSync()
                var backoff = Backoff(initial: .milliseconds(200), maximum: .seconds(10))
                for await _ in self.triggers {
                    guard let wanted = self.wanted.withLock({ $0 }) else { continue }
                    do {
                        try await self.sync(wanted)
                        backoff.reset()
                    } catch {
                        if Task.isCancelled { break }
                        self.logger.warning(
                            "\(self.kind.kind) not written; retrying", metadata: ["error": "\(error)"])
                        try? await Task.sleep(for: backoff.next())
                        self.trigger.yield()
                    }
                }
            } onCancel: {
                self.trigger.finish()
            }
            group.cancelAll()
        }
    }

    private func sync(_ wanted: [String: Entry]) async throws {
        for (service, entry) in wanted.sorted(by: { $0.key < $1.key }) {
            let parts = service.split(separator: "/", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            let annotations = JSON.object(
                JSONObject(
                    uniqueKeysWithValues: entry.annotations.sorted { $0.key < $1.key }.map {
                        ($0.key, JSON.string($0.value))
                    }))
            var fields: JSONObject = [
                "node": .string(node), "serviceName": .string(parts[1]), "serviceNamespace": .string(parts[0]),
            ]
            fields.merge(entry.status) { _, detail in detail }
            let status = JSON.object(fields)
            let name = Self.name(service: service, node: node, prefix: kind.prefix)
            var object = informer.get(namespace: namespace, name: name)
            if object == nil {
                do {
                    object = try await client.create(
                        kind.resource, namespace: namespace,
                        [
                            "apiVersion": "metallb.io/v1beta1", "kind": .string(kind.kind),
                            "metadata": [
                                "name": .string(name), "annotations": annotations,
                                "labels": [
                                    Self.nodeLabel: .string(node), Self.serviceNameLabel: .string(parts[1]),
                                    Self.serviceNamespaceLabel: .string(parts[0]),
                                ],
                            ],
                            "spec": [:],
                        ])
                } catch let error as Status where error.code == 409 {
                    object = try await client.get(kind.resource, namespace: namespace, name: name)
                }
            }
            if var object,
                entry.annotations.contains(where: {
                    object["metadata"]?["annotations"]?[$0.key]?.stringValue != $0.value
                })
            {
                var current = object["metadata"]?["annotations"]?.objectValue ?? [:]
                for (key, value) in entry.annotations { current[key] = .string(value) }
                object["metadata"]?["annotations"] = .object(current)
                object = try await client.update(kind.resource, object)
            }
            if var object, object["status"] != status {
                object["status"] = status
                _ = try await client.updateStatus(kind.resource, object)
            }
        }
        // Ours for a Service we no longer announce, or (one announcer at a time) another node's for a Service we
        // announce now.
        var stale = informer.byIndex(Self.nodeIndex, node).filter { wanted[Self.service(of: $0)] == nil }
        if kind.exclusive {
            for service in wanted.keys.sorted() {
                stale += informer.byIndex(Self.serviceIndex, service).filter {
                    $0["metadata"]?["labels"]?[Self.nodeLabel]?.stringValue != node
                }
            }
        }
        for object in stale {
            guard let name = object["metadata"]?["name"]?.stringValue else { continue }
            do {
                try await client.delete(
                    kind.resource, namespace: namespace, name: name,
                    uid: object["metadata"]?["uid"]?.stringValue)
            } catch let error as Status where error.code == 404 || error.code == 409 {
                continue
            }
        }
    }

    static let nodeIndex = "node"
    static let serviceIndex = "service"

    /// The Service (`namespace/name`) a status object is about, from its labels.
    static func service(of object: JSON) -> String {
        let labels = object["metadata"]?["labels"]
        return "\(labels?[serviceNamespaceLabel]?.stringValue ?? "")/\(labels?[serviceNameLabel]?.stringValue ?? "")"
    }

    /// A stable object name per Service and node: the kind's prefix and 16 hex digits of
    /// sha256("namespace/name#node").
    static func name(service: String, node: String, prefix: String) -> String {
        prefix + Hex.encode(SHA256.hash(data: Array("\(service)#\(node)".utf8)).prefix(8))
    }
}
