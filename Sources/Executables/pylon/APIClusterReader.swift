import Explain
import KubeAPI
import KubeClient

/// `pylon explain` reads its snapshot from the API server.
struct APIClusterReader: ClusterReader {
    let kube: KubeClient

    func list(_ kind: ClusterSnapshot.Kind, namespace: String?, labelSelector: String?) async throws -> [JSON]? {
        let resources: [Resource] = [
            .services, .namespaces, .ipAddressPools, .l2Advertisements, .bgpAdvertisements, .bgpPeers, .communities,
            .bfdProfiles, .endpointSlices, .nodes, .serviceL2Statuses, .events,
        ]
        guard let resource = resources.first(where: { $0.kind == kind.rawValue }) else { return nil }
        do {
            return try await kube.listAll(resource, namespace: namespace, labelSelector: labelSelector).items
        } catch let status as Status where status.code == 404 {
            return nil
        }
    }
}
