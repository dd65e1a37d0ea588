import KubeAPI

extension ServiceReading {
    static let keptMetadata = [
        "name", "namespace", "uid", "resourceVersion", "creationTimestamp", "labels", "annotations",
    ]
    static let keptSpec = [
        "type", "loadBalancerClass", "loadBalancerIP", "ipFamilyPolicy", "ipFamilies", "ports",
        "externalTrafficPolicy", "selector",
    ]

    /// The parts of a Service the controller reads (identity, labels and annotations, the load-balancing fields of
    /// `spec`, `status.loadBalancer`); everything else — `managedFields`, cluster IPs, node ports' bookkeeping,
    /// other status — is dropped before caching, as client-go's informer transforms do.
    public static func strip(_ service: JSON) -> JSON {
        var kept: JSON = ["apiVersion": service["apiVersion"] ?? "v1", "kind": service["kind"] ?? "Service"]
        var metadata = JSONObject()
        for field in keptMetadata { if let v = service["metadata"]?[field] { metadata[field] = v } }
        kept["metadata"] = .object(metadata)
        var spec = JSONObject()
        for field in keptSpec { if let v = service["spec"]?[field] { spec[field] = v } }
        kept["spec"] = .object(spec)
        if let loadBalancer = service["status"]?["loadBalancer"] { kept["status"] = ["loadBalancer": loadBalancer] }
        return kept
    }
}
