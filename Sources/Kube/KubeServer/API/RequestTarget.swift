/// What a resource path names, parsed the way kube-apiserver's RequestInfo does:
/// `/api/v1/namespaces/NS/RESOURCE/NAME/SUBRESOURCE` and `/apis/GROUP/VERSION/...`.
struct RequestTarget: Equatable {
    var group: String
    var version: String
    var namespace: String?
    var resource: String
    var name: String?
    var subresource: String?

    /// Parses the path segments after the prefix; `nil` when the path is not a resource path.
    init?(path: String) {
        var parts = path.split(separator: "/").map(String.init)[...]
        guard let prefix = parts.popFirst() else { return nil }
        switch prefix {
        case "api":
            group = ""
        case "apis":
            guard let g = parts.popFirst() else { return nil }
            group = g
        default:
            return nil
        }
        guard let v = parts.popFirst(), !parts.isEmpty else { return nil }
        version = v
        namespace = nil
        if parts.first == "namespaces", parts.count > 1 {
            namespace = parts[parts.startIndex + 1]
            if parts.count > 2, !["status", "finalize"].contains(parts[parts.startIndex + 2]) {
                parts = parts.dropFirst(2)
            }
        }
        resource = parts.popFirst()!
        name = parts.popFirst()
        subresource = parts.popFirst()
        guard parts.isEmpty else { return nil }
    }

    init(group: String, version: String, namespace: String?, resource: String, name: String?, subresource: String?) {
        self.group = group
        self.version = version
        self.namespace = namespace
        self.resource = resource
        self.name = name
        self.subresource = subresource
    }
}
