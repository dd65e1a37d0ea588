import KubeAPI
import OrderedCollections

/// The columns kube-apiserver prints for each built-in kind, and the cells of one object.
enum TableColumns {
    struct Column {
        var name: String
        var type: String = "string"
        var format: String = ""
        var priority: Int = 0
        var description: String = ""
    }

    static func columns(for resource: ResourceType, version: String) -> [Column] {
        let name = Column(name: "Name", format: "name", description: "Name must be unique within a namespace.")
        let age = Column(
            name: "Age", type: "string",
            description: "CreationTimestamp is a timestamp representing the server time when this object was created.")
        switch resource.behaviour {
        case .service:
            return [
                name, Column(name: "Type"), Column(name: "Cluster-IP"), Column(name: "External-IP"),
                Column(name: "Port(s)"), age, Column(name: "Selector", priority: 1),
            ]
        case .node:
            return [
                name, Column(name: "Status"), Column(name: "Roles"), age, Column(name: "Version"),
                Column(name: "Internal-IP", priority: 1), Column(name: "External-IP", priority: 1),
            ]
        case .namespace:
            return [name, Column(name: "Status"), age]
        case .pod:
            return [
                name, Column(name: "Ready"), Column(name: "Status"), Column(name: "Restarts", type: "string"), age,
                Column(name: "IP", priority: 1), Column(name: "Node", priority: 1),
            ]
        case .event:
            return [
                Column(name: "Last Seen"), Column(name: "Type"), Column(name: "Reason"), Column(name: "Object"),
                Column(name: "Message"), Column(name: "Count", type: "integer", priority: 1),
                Column(name: "Name", format: "name", priority: 1),
            ]
        case .endpointSlice:
            return [name, Column(name: "AddressType"), Column(name: "Ports"), Column(name: "Endpoints"), age]
        case .endpoints:
            return [name, Column(name: "Endpoints"), age]
        case .lease:
            return [name, Column(name: "Holder"), age]
        case .configMap:
            return [name, Column(name: "Data", type: "integer"), age]
        case .secret:
            return [name, Column(name: "Type"), Column(name: "Data", type: "integer"), age]
        case .serviceAccount:
            return [name, Column(name: "Secrets", type: "integer"), age]
        case .deployment:
            return [
                name, Column(name: "Ready"), Column(name: "Up-to-date", type: "integer"),
                Column(name: "Available", type: "integer"), age,
            ]
        case .daemonSet:
            return [
                name, Column(name: "Desired", type: "integer"), Column(name: "Current", type: "integer"),
                Column(name: "Ready", type: "integer"), Column(name: "Up-to-date", type: "integer"),
                Column(name: "Available", type: "integer"), age,
            ]
        case .customResourceDefinition:
            return [name, Column(name: "Created At", type: "date")]
        case .custom:
            let declared = resource.version(version)?.printerColumns ?? []
            if declared.isEmpty { return [name, age] }
            return [name]
                + declared.map {
                    Column(
                        name: $0.name, type: $0.type, format: $0.format, priority: $0.priority,
                        description: $0.description)
                }
        case .generic:
            return [name, age]
        }
    }

    static func cells(for resource: ResourceType, version: String, object o: JSON, now: Int64) -> [JSON] {
        let name = JSON.string(o["metadata"]?["name"]?.stringValue ?? "")
        let created = o["metadata"]?["creationTimestamp"]?.stringValue.flatMap(Timestamp.parse)
        let age = JSON.string(created.map { HumanDuration.format(seconds: now - $0) } ?? "<unknown>")
        func str(_ v: JSON?) -> JSON { .string(v?.stringValue ?? "") }
        func count(_ v: JSON?) -> JSON { .int(Int64(v?.objectValue?.count ?? 0)) }
        switch resource.behaviour {
        case .service:
            let spec = o["spec"]
            let type = spec?["type"]?.stringValue ?? "ClusterIP"
            var external = "<none>"
            switch type {
            case "LoadBalancer":
                let ingress = (o["status"]?["loadBalancer"]?["ingress"]?.arrayValue ?? []).compactMap {
                    $0["ip"]?.stringValue ?? $0["hostname"]?.stringValue
                }
                let extra = (spec?["externalIPs"]?.arrayValue ?? []).compactMap(\.stringValue)
                external = (ingress + extra).isEmpty ? "<pending>" : (ingress + extra).joined(separator: ",")
            case "ExternalName":
                external = spec?["externalName"]?.stringValue ?? "<none>"
            default:
                let extra = (spec?["externalIPs"]?.arrayValue ?? []).compactMap(\.stringValue)
                if !extra.isEmpty { external = extra.joined(separator: ",") }
            }
            let ports = (spec?["ports"]?.arrayValue ?? []).map { p -> String in
                let port = p["port"]?.intValue ?? 0
                let proto = p["protocol"]?.stringValue ?? "TCP"
                if let node = p["nodePort"]?.intValue { return "\(port):\(node)/\(proto)" }
                return "\(port)/\(proto)"
            }
            let selector = (spec?["selector"]?.objectValue ?? [:]).map { "\($0.key)=\($0.value.stringValue ?? "")" }
                .sorted().joined(separator: ",")
            return [
                name, .string(type), .string(spec?["clusterIP"]?.stringValue ?? "<none>"), .string(external),
                .string(ports.isEmpty ? "<none>" : ports.joined(separator: ",")), age,
                .string(selector.isEmpty ? "<none>" : selector),
            ]
        case .node:
            let conditions = o["status"]?["conditions"]?.arrayValue ?? []
            let ready = conditions.first { $0["type"]?.stringValue == "Ready" }
            var status = ready?["status"]?.stringValue == "True" ? "Ready" : (ready == nil ? "Unknown" : "NotReady")
            if o["spec"]?["unschedulable"]?.boolValue == true { status += ",SchedulingDisabled" }
            let roles = (o["metadata"]?["labels"]?.objectValue ?? [:]).keys.compactMap { k -> String? in
                k.hasPrefix("node-role.kubernetes.io/") ? String(k.dropFirst("node-role.kubernetes.io/".count)) : nil
            }.sorted()
            let addresses = o["status"]?["addresses"]?.arrayValue ?? []
            func address(_ t: String) -> String {
                addresses.first { $0["type"]?.stringValue == t }?["address"]?.stringValue ?? "<none>"
            }
            return [
                name, .string(status), .string(roles.isEmpty ? "<none>" : roles.joined(separator: ",")), age,
                .string(o["status"]?["nodeInfo"]?["kubeletVersion"]?.stringValue ?? ""), .string(address("InternalIP")),
                .string(address("ExternalIP")),
            ]
        case .namespace:
            return [name, str(o["status"]?["phase"]), age]
        case .pod:
            let containers = o["spec"]?["containers"]?.arrayValue ?? []
            let statuses = o["status"]?["containerStatuses"]?.arrayValue ?? []
            let ready = statuses.filter { $0["ready"]?.boolValue == true }.count
            let restarts = statuses.reduce(Int64(0)) { $0 + ($1["restartCount"]?.intValue ?? 0) }
            return [
                name, .string("\(ready)/\(containers.count)"), .string(podStatus(o, statuses)),
                .string(String(restarts)), age,
                .string(o["status"]?["podIP"]?.stringValue ?? "<none>"),
                .string(o["spec"]?["nodeName"]?.stringValue ?? "<none>"),
            ]
        case .event:
            let last = (o["lastTimestamp"]?.stringValue ?? o["eventTime"]?.stringValue).flatMap(Timestamp.parse)
            let involved = o["involvedObject"] ?? o["regarding"]
            let object =
                "\((involved?["kind"]?.stringValue ?? "").lowercased())/\(involved?["name"]?.stringValue ?? "")"
            return [
                .string(last.map { HumanDuration.format(seconds: now - $0) } ?? "<unknown>"), str(o["type"]),
                str(o["reason"]), .string(object),
                .string(o["message"]?.stringValue ?? o["note"]?.stringValue ?? ""), .int(o["count"]?.intValue ?? 1),
                name,
            ]
        case .endpointSlice:
            let ports = (o["ports"]?.arrayValue ?? []).compactMap { $0["port"]?.intValue.map(String.init) }
            let addresses = (o["endpoints"]?.arrayValue ?? []).flatMap {
                ($0["addresses"]?.arrayValue ?? []).compactMap(\.stringValue)
            }
            return [
                name, str(o["addressType"]), .string(ports.isEmpty ? "<unset>" : ports.joined(separator: ",")),
                .string(
                    addresses.isEmpty
                        ? "<unset>"
                        : addresses.prefix(3).joined(separator: ",")
                            + (addresses.count > 3 ? " + \(addresses.count - 3) more..." : "")), age,
            ]
        case .endpoints:
            var list: [String] = []
            for subset in o["subsets"]?.arrayValue ?? [] {
                for a in subset["addresses"]?.arrayValue ?? [] {
                    for p in subset["ports"]?.arrayValue ?? [] {
                        list.append("\(a["ip"]?.stringValue ?? ""):\(p["port"]?.intValue ?? 0)")
                    }
                }
            }
            return [name, .string(list.isEmpty ? "<none>" : list.joined(separator: ",")), age]
        case .lease:
            return [name, str(o["spec"]?["holderIdentity"]), age]
        case .configMap:
            return [
                name, .int(Int64((o["data"]?.objectValue?.count ?? 0) + (o["binaryData"]?.objectValue?.count ?? 0))),
                age,
            ]
        case .secret:
            return [name, str(o["type"]), count(o["data"]), age]
        case .serviceAccount:
            return [name, .int(Int64(o["secrets"]?.arrayValue?.count ?? 0)), age]
        case .deployment:
            let s = o["status"]
            return [
                name, .string("\(s?["readyReplicas"]?.intValue ?? 0)/\(o["spec"]?["replicas"]?.intValue ?? 1)"),
                .int(s?["updatedReplicas"]?.intValue ?? 0), .int(s?["availableReplicas"]?.intValue ?? 0), age,
            ]
        case .daemonSet:
            let s = o["status"]
            return [name]
                + [
                    "desiredNumberScheduled", "currentNumberScheduled", "numberReady", "updatedNumberScheduled",
                    "numberAvailable",
                ].map { .int(s?[$0]?.intValue ?? 0) } + [age]
        case .customResourceDefinition:
            return [name, str(o["metadata"]?["creationTimestamp"])]
        case .custom:
            let declared = resource.version(version)?.printerColumns ?? []
            if declared.isEmpty { return [name, age] }
            return [name]
                + declared.map { column in
                    let value = SimpleJSONPath.evaluate(column.jsonPath, in: o)
                    if column.type == "date", let text = value?.stringValue, let t = Timestamp.parse(text) {
                        return .string(HumanDuration.format(seconds: now - t))
                    }
                    return value ?? .null
                }
        case .generic:
            return [name, age]
        }
    }

    /// kubectl's STATUS of a Pod: Terminating once marked for deletion, else the reason a container waits or ended
    /// with (ContainerCreating, CrashLoopBackOff, Completed…), else the phase.
    private static func podStatus(_ pod: JSON, _ statuses: [JSON]) -> String {
        if pod["metadata"]?["deletionTimestamp"] != nil { return "Terminating" }
        for status in statuses {
            if let reason = status["state"]?["waiting"]?["reason"]?.stringValue, !reason.isEmpty { return reason }
            if let reason = status["state"]?["terminated"]?["reason"]?.stringValue, !reason.isEmpty { return reason }
        }
        return pod["status"]?["phase"]?.stringValue ?? "Pending"
    }
}
