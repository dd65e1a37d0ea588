import KubeAPI

extension ResourceType {
    /// The resource a CustomResourceDefinition defines; `nil` when the CRD lacks the names it needs (validation
    /// reports those separately).
    init?(crd: JSON) {
        guard let spec = crd["spec"], let group = spec["group"]?.stringValue,
            let names = spec["names"], let plural = names["plural"]?.stringValue,
            let kind = names["kind"]?.stringValue
        else { return nil }
        var versions: [Version] = []
        var storage: String?
        for v in spec["versions"]?.arrayValue ?? [] {
            guard let name = v["name"]?.stringValue else { continue }
            if v["storage"]?.boolValue == true { storage = name }
            guard v["served"]?.boolValue ?? true else { continue }
            let columns = (v["additionalPrinterColumns"]?.arrayValue ?? []).compactMap { c -> PrinterColumn? in
                guard let n = c["name"]?.stringValue, let path = c["jsonPath"]?.stringValue else { return nil }
                return PrinterColumn(
                    name: n, type: c["type"]?.stringValue ?? "string", format: c["format"]?.stringValue ?? "",
                    description: c["description"]?.stringValue ?? "", priority: Int(c["priority"]?.intValue ?? 0),
                    jsonPath: path)
            }
            versions.append(
                Version(
                    name: name, schema: v["schema"]?["openAPIV3Schema"], printerColumns: columns,
                    hasStatus: v["subresources"]?["status"] != nil))
        }
        guard let storageVersion = storage ?? versions.first?.name else { return nil }
        self.init(
            group: group, versions: versions, storageVersion: storageVersion, kind: kind, plural: plural,
            singular: names["singular"]?.stringValue ?? kind.lowercased(),
            namespaced: spec["scope"]?.stringValue != "Cluster",
            shortNames: (names["shortNames"]?.arrayValue ?? []).compactMap(\.stringValue),
            categories: (names["categories"]?.arrayValue ?? []).compactMap(\.stringValue),
            hasStatus: versions.contains { $0.hasStatus }, behaviour: .custom, patchSchema: nil)
    }
}
