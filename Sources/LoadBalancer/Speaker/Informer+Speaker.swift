import Announcement
import KubeAPI
import KubeClient
import Logging

extension Informer {
    /// Every Service, reduced to `announcedServiceShape` and kept compact: the planners read `AnnouncementInputs`,
    /// this cache serves single reads (Events) and relists.
    static func loadBalancerServices(_ client: KubeClient, logger: Logger) -> Informer {
        Informer(
            client: client, resource: .services, transform: { $0.projected(onto: announcedServiceShape) },
            compact: true, logger: logger)
    }

    /// What the speakers read of a Service: its identity (Events name it), labels, the pool annotation, type, class,
    /// traffic policy and addresses.
    static let announcedServiceShape: JSON = [
        "apiVersion": true, "kind": true,
        "metadata": [
            "name": true, "namespace": true, "uid": true, "resourceVersion": true, "labels": true,
            "annotations": [ServiceReading.allocatedFromPool: true],
        ],
        "spec": ["type": true, "loadBalancerClass": true, "externalTrafficPolicy": true],
        "status": ["loadBalancer": ["ingress": ["ip": true]]],
    ]

    /// Every EndpointSlice, reduced to its Service and its endpoints' nodes and conditions, kept compact (the
    /// planners read `AnnouncementInputs`).
    static func endpointSliceNodes(_ client: KubeClient, logger: Logger) -> Informer {
        Informer(
            client: client, resource: .endpointSlices,
            transform: { $0.projected(onto: JSON.endpointSliceNodesShape) }, compact: true, logger: logger)
    }
}
