/// A Kubernetes resource as the client addresses it: group, version, plural name, whether namespaced, and kind.
public struct Resource: Sendable, Hashable {
    public var group: String
    public var version: String
    public var plural: String
    public var kind: String
    public var namespaced: Bool

    public init(group: String, version: String, plural: String, kind: String, namespaced: Bool) {
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
    }

    /// `v1` or `group/version`.
    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

    /// The collection path, in `namespace` when the resource is namespaced and a namespace is given.
    public func path(namespace: String? = nil, name: String? = nil, subresource: String? = nil) -> String {
        var p = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        if namespaced, let namespace { p += "/namespaces/\(namespace)" }
        p += "/\(plural)"
        if let name { p += "/\(name)" }
        if let subresource { p += "/\(subresource)" }
        return p
    }

    public static let namespaces = Resource(
        group: "", version: "v1", plural: "namespaces", kind: "Namespace", namespaced: false)
    public static let services = Resource(
        group: "", version: "v1", plural: "services", kind: "Service", namespaced: true)
    public static let nodes = Resource(group: "", version: "v1", plural: "nodes", kind: "Node", namespaced: false)
    public static let pods = Resource(group: "", version: "v1", plural: "pods", kind: "Pod", namespaced: true)
    public static let configMaps = Resource(
        group: "", version: "v1", plural: "configmaps", kind: "ConfigMap", namespaced: true)
    public static let secrets = Resource(group: "", version: "v1", plural: "secrets", kind: "Secret", namespaced: true)
    public static let events = Resource(group: "", version: "v1", plural: "events", kind: "Event", namespaced: true)
    public static let endpointSlices = Resource(
        group: "discovery.k8s.io", version: "v1", plural: "endpointslices", kind: "EndpointSlice", namespaced: true)
    public static let leases = Resource(
        group: "coordination.k8s.io", version: "v1", plural: "leases", kind: "Lease", namespaced: true)
}
