import Crypto
import KubeAPI
import KubeClient
import Logging
import Synchronization

/// Keeps MetalLB's ServiceL2Status objects in step with what this node announces: one object per Service it
/// announces (node, Service, interfaces), none for Services it no longer announces, and — as the new announcer —
/// none left behind by a node that announced the Service before (a crashed speaker cannot clean up after itself).
///
/// Each object also carries the annotation `pylon.io/interface-macs` (`eth0=aa:bb:…,…`): the MAC addresses the
/// node answers with, which `pylon explain` shows.
///
/// Writes run on their own task, latest wish first, so a slow API server never delays answering ARP. Failed
/// writes are retried with backoff (0.2 s … 10 s). Thread-safe.
final class L2StatusWriter: Sendable {
    static let nodeLabel = "metallb.io/node"
    static let serviceNameLabel = "metallb.io/service-name"
    static let serviceNamespaceLabel = "metallb.io/service-namespace"
    static let macAnnotation = SpeakerAnnotations.interfaceMACs

    private let client: KubeClient
    private let namespace: String
    private let node: String
    private let logger: Logger
    let informer: Informer
    private let wanted = Mutex<(services: [String: [String]], macs: [String: String])?>(nil)
    private let trigger: AsyncStream<Void>.Continuation
    private let triggers: AsyncStream<Void>

    init(client: KubeClient, namespace: String, node: String, logger: Logger) {
        self.client = client
        self.namespace = namespace
        self.node = node
        self.logger = logger
        self.informer = Informer(client: client, resource: .serviceL2Statuses, namespace: namespace, logger: logger)
        (triggers, trigger) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Sets what this node announces: Service (`namespace/name`) → interface names; and each interface's MAC.
    func publish(_ announced: [String: [String]], macs: [String: String]) {
        wanted.withLock { $0 = (announced, macs) }
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
                        try await self.sync(wanted.services, macs: wanted.macs)
                        backoff.reset()
                    } catch {
                        if Task.isCancelled { break }
                        self.logger.warning("ServiceL2Status not written; retrying", metadata: ["error": "\(error)"])
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

    private func sync(_ wanted: [String: [String]], macs: [String: String]) async throws {
        let existing = informer.list()
        for (service, interfaces) in wanted.sorted(by: { $0.key < $1.key }) {
            let parts = service.split(separator: "/", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            let annotation = JSON.string(
                interfaces.compactMap { name in macs[name].map { "\(name)=\($0)" } }.joined(separator: ","))
            let status: JSON = [
                "node": .string(node), "serviceName": .string(parts[1]), "serviceNamespace": .string(parts[0]),
                "interfaces": .array(interfaces.map { ["name": .string($0)] }),
            ]
            let name = Self.name(service: service, node: node)
            var object = existing.first { $0["metadata"]?["name"]?.stringValue == name }
            if object == nil {
                do {
                    object = try await client.create(
                        .serviceL2Statuses, namespace: namespace,
                        [
                            "apiVersion": "metallb.io/v1beta1", "kind": "ServiceL2Status",
                            "metadata": [
                                "name": .string(name), "annotations": [Self.macAnnotation: annotation],
                                "labels": [
                                    Self.nodeLabel: .string(node), Self.serviceNameLabel: .string(parts[1]),
                                    Self.serviceNamespaceLabel: .string(parts[0]),
                                ],
                            ],
                            "spec": [:],
                        ])
                } catch let error as Status where error.code == 409 {
                    object = try await client.get(.serviceL2Statuses, namespace: namespace, name: name)
                }
            }
            if var object, object["metadata"]?["annotations"]?[Self.macAnnotation] != annotation {
                var annotations = object["metadata"]?["annotations"]?.objectValue ?? [:]
                annotations[Self.macAnnotation] = annotation
                object["metadata"]?["annotations"] = .object(annotations)
                object = try await client.update(.serviceL2Statuses, object)
            }
            if var object, object["status"] != status {
                object["status"] = status
                _ = try await client.updateStatus(.serviceL2Statuses, object)
            }
        }
        for object in existing {
            let labels = object["metadata"]?["labels"]
            let owner = labels?[Self.nodeLabel]?.stringValue
            let service =
                "\(labels?[Self.serviceNamespaceLabel]?.stringValue ?? "")/\(labels?[Self.serviceNameLabel]?.stringValue ?? "")"
            // Ours for a Service we no longer announce, or another node's for a Service we announce now.
            let stale = owner == node ? wanted[service] == nil : wanted[service] != nil
            guard stale, let name = object["metadata"]?["name"]?.stringValue else { continue }
            do {
                try await client.delete(
                    .serviceL2Statuses, namespace: namespace, name: name,
                    uid: object["metadata"]?["uid"]?.stringValue)
            } catch let error as Status where error.code == 404 || error.code == 409 {
                continue
            }
        }
    }

    /// A stable object name per Service and node: `l2-` and 16 hex digits of sha256("namespace/name#node").
    static func name(service: String, node: String) -> String {
        "l2-" + Hex.encode(SHA256.hash(data: Array("\(service)#\(node)".utf8)).prefix(8))
    }
}
