import KubeAPI

extension APIHandler {
    func discoveryCoreVersions() -> JSON {
        [
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": ""]],
        ]
    }

    /// Groups and versions, the preferred version being the first served version of the group's resources.
    private func groupVersions() -> [(group: String, versions: [String])] {
        var order: [String] = []
        var versions: [String: [String]] = [:]
        for r in registry.all where !r.group.isEmpty {
            if versions[r.group] == nil { order.append(r.group) }
            for v in r.versions where !(versions[r.group] ?? []).contains(v.name) {
                versions[r.group, default: []].append(v.name)
            }
        }
        return order.map { ($0, Self.sortVersions(versions[$0] ?? [])) }
    }

    /// Kubernetes version priority: GA before beta before alpha, higher numbers first.
    static func sortVersions(_ versions: [String]) -> [String] {
        func rank(_ v: String) -> (Int, Int, Int) {
            let body = v.dropFirst()
            let digits = body.prefix { $0.isNumber }
            let major = Int(digits) ?? 0
            let rest = body.dropFirst(digits.count)
            if rest.isEmpty { return (3, major, 0) }
            let minor = Int(rest.drop { !$0.isNumber }) ?? 0
            return (rest.hasPrefix("beta") ? 2 : 1, major, minor)
        }
        return versions.sorted { rank($0) > rank($1) }
    }

    private func groupJSON(_ group: String, _ versions: [String]) -> JSON {
        let list: [JSON] = versions.map { ["groupVersion": .string("\(group)/\($0)"), "version": .string($0)] }
        return ["name": .string(group), "versions": .array(list), "preferredVersion": list.first ?? .null]
    }

    func discoveryGroups() -> JSON {
        [
            "kind": "APIGroupList", "apiVersion": "v1",
            "groups": .array(groupVersions().map { groupJSON($0.group, $0.versions) }),
        ]
    }

    func discoveryGroup(_ name: String) -> JSON? {
        guard let g = groupVersions().first(where: { $0.group == name }) else { return nil }
        var j = groupJSON(g.group, g.versions)
        j["kind"] = "APIGroup"
        j["apiVersion"] = "v1"
        return j
    }

    func discoveryResources(group: String, version: String) throws(Status) -> APIResponse {
        let resources = registry.all.filter { $0.group == group && $0.version(version) != nil }
        guard !resources.isEmpty else { throw .pathNotFound() }
        var list: [JSON] = []
        for r in resources {
            var entry: JSON = [
                "name": .string(r.plural), "singularName": .string(r.singular), "namespaced": .bool(r.namespaced),
                "kind": .string(r.kind), "verbs": .array(r.verbs.map(JSON.string)),
            ]
            if !r.shortNames.isEmpty { entry["shortNames"] = .array(r.shortNames.map(JSON.string)) }
            if !r.categories.isEmpty { entry["categories"] = .array(r.categories.map(JSON.string)) }
            list.append(entry)
            if r.version(version)?.hasStatus ?? r.hasStatus, r.hasStatus {
                list.append([
                    "name": .string("\(r.plural)/status"), "singularName": "", "namespaced": .bool(r.namespaced),
                    "kind": .string(r.kind), "verbs": ["get", "patch", "update"],
                ])
            }
            if r.behaviour == .pod {
                list.append([
                    "name": "pods/binding", "singularName": "", "namespaced": true, "kind": "Binding",
                    "verbs": ["create"],
                ])
            }
        }
        return .json([
            "kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": .string(group.isEmpty ? version : "\(group)/\(version)"), "resources": .array(list),
        ])
    }
}
