import Explain
import KubeAPI
import Synchronization
import Testing

/// `ClusterSnapshot.gather`: what `pylon explain` reads, and from where, given a reader that serves fixed objects.
@Suite struct ClusterSnapshotGatheringTests {
    /// Serves `objects` by kind and namespace, records every call, and answers nil (not served) for `unserved` kinds.
    final class FixedReader: ClusterReader {
        struct Call: Equatable {
            var kind: ClusterSnapshot.Kind
            var namespace: String?
            var labelSelector: String?
        }

        let objects: [JSON]
        let unserved: Set<ClusterSnapshot.Kind>
        let calls = Mutex<[Call]>([])

        init(_ objects: [JSON], unserved: Set<ClusterSnapshot.Kind> = []) {
            self.objects = objects
            self.unserved = unserved
        }

        func list(_ kind: ClusterSnapshot.Kind, namespace: String?, labelSelector: String?) async throws -> [JSON]? {
            calls.withLock { $0.append(Call(kind: kind, namespace: namespace, labelSelector: labelSelector)) }
            guard !unserved.contains(kind) else { return nil }
            return objects.filter { object in
                object["kind"]?.stringValue == kind.rawValue
                    && (namespace == nil || object["metadata"]?["namespace"]?.stringValue == namespace)
            }
        }
    }

    static func object(_ kind: String, _ name: String, namespace: String? = nil, about: JSON? = nil) -> JSON {
        var metadata: JSON = ["name": .string(name)]
        if let namespace { metadata["namespace"] = .string(namespace) }
        var object: JSON = ["kind": .string(kind), "metadata": metadata]
        if let about { object["involvedObject"] = about }
        return object
    }

    static func event(about name: String, kind: String = "Service") -> JSON {
        object("Event", "e-\(kind)-\(name)", namespace: "web", about: ["kind": .string(kind), "name": .string(name)])
    }

    @Test func readsTheConfigurationFromItsNamespaceAndOnlyEventsAboutTheService() async throws {
        let reader = FixedReader([
            Self.object("Service", "shop", namespace: "web"), Self.object("Service", "other", namespace: "web"),
            Self.object("IPAddressPool", "lan", namespace: "pylon-system"),
            Self.object("IPAddressPool", "elsewhere", namespace: "metallb-system"),
            Self.object("Node", "node-1"), Self.event(about: "shop"), Self.event(about: "other"),
            Self.event(about: "shop", kind: "Pod"),
        ])
        let snapshot = try await ClusterSnapshot.gather(
            from: reader, service: "web", name: "shop", configurationNamespace: "pylon-system",
            loadBalancerClass: "pylon")
        #expect(snapshot.services.count == 2, "every Service: sharing and pools depend on the others")
        #expect(snapshot.pools.map(\.namespacedName) == ["pylon-system/lan"])
        #expect(snapshot.nodes.map(\.namespacedName) == ["/node-1"])
        #expect(snapshot.events.map(\.namespacedName) == ["web/e-Service-shop"])
        #expect(snapshot.loadBalancerClass == "pylon")
        let calls = reader.calls.withLock { $0 }
        #expect(Set(calls.map(\.kind)) == Set(ClusterSnapshot.Kind.allCases), "each kind read")
        #expect(calls.count == ClusterSnapshot.Kind.allCases.count, "and read once")
        #expect(
            calls.contains(
                .init(kind: .endpointSlice, namespace: "web", labelSelector: "kubernetes.io/service-name=shop")))
        #expect(calls.contains(.init(kind: .serviceL2Status, namespace: "pylon-system", labelSelector: nil)))
    }

    @Test func kindsTheServerDoesNotServeReadAsNone() async throws {
        let metallb: Set<ClusterSnapshot.Kind> = [
            .ipAddressPool, .l2Advertisement, .bgpAdvertisement, .bgpPeer, .community, .bfdProfile, .serviceL2Status,
        ]
        let reader = FixedReader([Self.object("Service", "shop", namespace: "web")], unserved: metallb)
        let snapshot = try await ClusterSnapshot.gather(
            from: reader, service: "web", name: "shop", configurationNamespace: "pylon-system", loadBalancerClass: nil)
        #expect(snapshot.services.count == 1)
        #expect(snapshot.pools.isEmpty && snapshot.l2Advertisements.isEmpty && snapshot.serviceL2Statuses.isEmpty)
    }

    @Test func aFailingReadIsPassedOn() async {
        struct Refused: Error {}
        struct FailingReader: ClusterReader {
            func list(_ kind: ClusterSnapshot.Kind, namespace: String?, labelSelector: String?) async throws -> [JSON]?
            {
                if kind == .node { throw Refused() }
                return []
            }
        }
        await #expect(throws: Refused.self) {
            _ = try await ClusterSnapshot.gather(
                from: FailingReader(), service: "web", name: "shop", configurationNamespace: "pylon-system",
                loadBalancerClass: nil)
        }
    }
}
