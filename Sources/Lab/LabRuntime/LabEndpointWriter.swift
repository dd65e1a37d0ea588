import KubeAPI
import KubeClient
import Lab
import Logging
import ServiceLifecycle

/// Keeps `LabEndpointSlices` written for every Service with a selector: creates or updates a slice only when it
/// would change, and deletes the lab's slices of Services that are gone or lost their selector.
///
/// Isolation: a `Service`; `run()` returns on graceful shutdown. A failed write is logged and retried on the next
/// change (or within 5 s).
public final class LabEndpointWriter: Service, Sendable {
    private let client: KubeClient
    private let logger: Logger
    private let services: Informer
    private let pods: Informer
    private let slices: Informer

    public init(client: KubeClient, logger: Logger) {
        self.client = client
        self.logger = logger
        self.services = Informer(client: client, resource: .services, logger: logger)
        self.pods = Informer(client: client, resource: .pods, logger: logger)
        self.slices = Informer(
            client: client, resource: .endpointSlices,
            labelSelector: "endpointslice.kubernetes.io/managed-by=\(LabEndpointSlices.manager)", logger: logger)
    }

    public func run() async throws {
        let changes = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        for informer in [services, pods, slices] {
            await informer.addHandler { _ in changes.continuation.yield() }
        }
        try await withThrowingDiscardingTaskGroup { group in
            for informer in [services, pods, slices] { group.addTask { try await informer.run() } }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(5))
                    changes.continuation.yield()
                }
            }
            group.addTask {
                for informer in [self.services, self.pods, self.slices] { await informer.waitForSync() }
                for await _ in changes.stream.cancelOnGracefulShutdown() { await self.write() }
            }
            try await gracefulShutdown()
            group.cancelAll()
        }
    }

    private func write() async {
        let pods = self.pods.list()
        var wanted: Set<String> = []
        for service in services.list() {
            for slice in LabEndpointSlices.slices(for: service, pods: pods) {
                guard let name = slice["metadata"]?["name"]?.stringValue,
                    let namespace = slice["metadata"]?["namespace"]?.stringValue
                else { continue }
                wanted.insert("\(namespace)/\(name)")
                do {
                    if var existing = slices.get(namespace: namespace, name: name) {
                        guard !LabEndpointSlices.equivalent(existing, slice) else { continue }
                        existing["endpoints"] = slice["endpoints"]
                        existing["ports"] = slice["ports"]
                        existing[path: ["metadata", "labels"]] = slice["metadata"]?["labels"]
                        existing["apiVersion"] = slice["apiVersion"]
                        existing["kind"] = slice["kind"]
                        _ = try await client.update(.endpointSlices, existing)
                    } else {
                        _ = try await client.create(.endpointSlices, namespace: namespace, slice)
                    }
                } catch {
                    logger.warning("cannot write EndpointSlice \(namespace)/\(name): \(error)")
                }
            }
        }
        for slice in slices.list() {
            guard let name = slice["metadata"]?["name"]?.stringValue,
                let namespace = slice["metadata"]?["namespace"]?.stringValue,
                !wanted.contains("\(namespace)/\(name)")
            else { continue }
            try? await client.delete(.endpointSlices, namespace: namespace, name: name)
        }
    }
}
