import OrderedCollections

extension JSON {
    /// The parts of this value that `shape` names: where `shape` is `true` the value is kept whole; where it is an
    /// object, only the listed members of an object value are kept (in this value's order), and each element of an
    /// array value is projected onto it. Used to cache only what a component reads, as client-go's informer
    /// transforms do. Pure.
    public func projected(onto shape: JSON) -> JSON {
        guard case .object(let wanted) = shape else { return self }
        switch self {
        case .object(let members):
            var kept = JSONObject()
            for (key, value) in members {
                if let inner = wanted[key] { kept[key] = value.projected(onto: inner) }
            }
            return .object(kept)
        case .array(let elements):
            return .array(elements.map { $0.projected(onto: shape) })
        default:
            return self
        }
    }

    /// What the load balancer controller reads of a Service: identity, labels and annotations, the
    /// load-balancing fields of `spec`, `status.loadBalancer`.
    public static let loadBalancerServiceShape: JSON = [
        "apiVersion": true, "kind": true,
        "metadata": [
            "name": true, "namespace": true, "uid": true, "resourceVersion": true, "creationTimestamp": true,
            "labels": true, "annotations": true,
        ],
        "spec": [
            "type": true, "loadBalancerClass": true, "loadBalancerIP": true, "ipFamilyPolicy": true,
            "ipFamilies": true, "ports": true, "externalTrafficPolicy": true, "selector": true,
        ],
        "status": ["loadBalancer": true],
    ]

    /// What the speakers read of an EndpointSlice: its Service and, per endpoint, the node and conditions.
    public static let endpointSliceNodesShape: JSON = [
        "apiVersion": true, "kind": true,
        "metadata": ["name": true, "namespace": true, "uid": true, "resourceVersion": true, "labels": true],
        "endpoints": ["nodeName": true, "conditions": true],
    ]
}
