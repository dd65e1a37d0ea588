extension JSON {
    /// `namespace/name` of a Kubernetes object (`/name` for cluster-scoped ones).
    public var namespacedName: String {
        "\(self["metadata"]?["namespace"]?.stringValue ?? "")/\(self["metadata"]?["name"]?.stringValue ?? "")"
    }

    /// A sort key giving creation order: creation time, then resourceVersion (creation order within one second
    /// for objects not updated since), then namespace/name.
    public var creationOrder: (String, Int64, String) {
        let meta = self["metadata"]
        return (
            meta?["creationTimestamp"]?.stringValue ?? "", Int64(meta?["resourceVersion"]?.stringValue ?? "") ?? 0,
            namespacedName
        )
    }
}
