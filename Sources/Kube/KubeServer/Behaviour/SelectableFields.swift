import KubeAPI

/// The fields each resource accepts in `fieldSelector`, and how to read them from an object.
enum SelectableFields {
    private static let eventFields: Set<String> = [
        "involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
        "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
        "reportingComponent", "source", "type",
    ]

    static func supported(_ resource: ResourceType, _ field: String) -> Bool {
        if field == "metadata.name" || field == "metadata.namespace" { return true }
        switch resource.behaviour {
        case .event: return eventFields.contains(field) || field.hasPrefix("regarding.")
        case .pod:
            return [
                "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "status.phase",
                "status.podIP", "status.nominatedNodeName",
            ].contains(field)
        case .secret: return field == "type"
        case .node: return field == "spec.unschedulable"
        case .namespace: return field == "status.phase"
        case .service: return field == "spec.clusterIP" || field == "spec.type"
        default: return false
        }
    }

    static func value(_ resource: ResourceType, _ object: JSON, _ key: ObjectKey, _ field: String) -> String? {
        switch field {
        case "metadata.name": return key.name
        case "metadata.namespace": return key.namespace
        case "source": return object["source"]?["component"]?.stringValue ?? object["reportingController"]?.stringValue
        default:
            let value = object[path: field.split(separator: ".").map(String.init)]
            switch value {
            case .string(let s)?: return s
            case .bool(let b)?: return b ? "true" : "false"
            case .int(let i)?: return String(i)
            default: return nil
            }
        }
    }
}
