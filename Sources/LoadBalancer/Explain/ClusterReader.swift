import KubeAPI

/// Where a `ClusterSnapshot`'s objects come from: the Kubernetes API in `pylon explain`, fixed objects in tests.
public protocol ClusterReader: Sendable {
    /// The objects of `kind` in `namespace` (every namespace when nil) whose labels match `labelSelector` (every
    /// object when nil).
    /// - Returns: nil when the server does not serve `kind` (for the metallb.io kinds: their CRDs are not installed).
    /// - Throws: what reading fails with; `ClusterSnapshot.gather` passes it on.
    func list(_ kind: ClusterSnapshot.Kind, namespace: String?, labelSelector: String?) async throws -> [JSON]?
}
