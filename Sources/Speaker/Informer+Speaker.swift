import KubeAPI
import KubeClient
import Logging

extension Informer {
    /// Every Service, reduced to what announcing needs (type, class, traffic policy, addresses, labels, pool).
    static func loadBalancerServices(_ client: KubeClient, logger: Logger) -> Informer {
        Informer(
            client: client, resource: .services, transform: { $0.projected(onto: JSON.loadBalancerServiceShape) },
            logger: logger)
    }

    /// Every EndpointSlice, reduced to its Service and its endpoints' nodes and conditions.
    static func endpointSliceNodes(_ client: KubeClient, logger: Logger) -> Informer {
        Informer(
            client: client, resource: .endpointSlices,
            transform: { $0.projected(onto: JSON.endpointSliceNodesShape) }, logger: logger)
    }
}
