extension JSON {
    /// `namespace/name` of a Kubernetes object (`/name` for cluster-scoped ones).
    public var namespacedName: String {
        "\(self["metadata"]?["namespace"]?.stringValue ?? "")/\(self["metadata"]?["name"]?.stringValue ?? "")"
    }

    /// A sort key giving creation order: creation time (whole seconds), then namespace/name. Stable: an update
    /// does not move an object (a resourceVersion tie-break would, and made decisions depend on which of two
    /// status writes landed first).
    public var creationOrder: (String, String) {
        (self["metadata"]?["creationTimestamp"]?.stringValue ?? "", namespacedName)
    }
}
