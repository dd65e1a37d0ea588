import KubeAPI
import NetCore

extension APIHandler {
    /// Defaults and validates a Service and allocates its cluster IP and node ports, as kube-apiserver's service
    /// REST storage does. `old` is `nil` on create.
    func prepareService(old: JSON?, new: JSON) throws(Status) -> JSON {
        var o = new
        var spec = o["spec"] ?? [:]
        let name = o["metadata"]?["name"]?.stringValue ?? ""
        func invalid(_ type: String, _ message: String, _ field: String) -> Status {
            .invalid(
                group: "", kind: "Service", name: name, causes: [.init(type: type, message: message, field: field)])
        }
        var causes: [Status.Cause] = []
        let type = spec["type"]?.stringValue ?? "ClusterIP"
        spec["type"] = .string(type)
        guard ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"].contains(type) else {
            throw invalid(
                "FieldValueNotSupported",
                "Unsupported value: \"\(type)\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
                "spec.type")
        }
        if spec["sessionAffinity"] == nil { spec["sessionAffinity"] = "None" }

        // Ports.
        var ports = spec["ports"]?.arrayValue ?? []
        if ports.isEmpty, type != "ExternalName", spec["clusterIP"]?.stringValue != "None" {
            causes.append(.init(type: "FieldValueRequired", message: "Required value", field: "spec.ports"))
        }
        var seenNames = Set<String>()
        var seenPorts = Set<String>()
        for i in ports.indices {
            var p = ports[i]
            let proto = p["protocol"]?.stringValue ?? "TCP"
            p["protocol"] = .string(proto)
            if !["TCP", "UDP", "SCTP"].contains(proto) {
                causes.append(
                    .init(
                        type: "FieldValueNotSupported",
                        message: "Unsupported value: \"\(proto)\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
                        field: "spec.ports[\(i)].protocol"))
            }
            guard let port = p["port"]?.intValue, (1...65535).contains(port) else {
                causes.append(
                    .init(
                        type: "FieldValueInvalid",
                        message: "Invalid value: \(p["port"]?.text() ?? "0"): must be between 1 and 65535, inclusive",
                        field: "spec.ports[\(i)].port"))
                continue
            }
            if p["targetPort"] == nil { p["targetPort"] = .int(port) }
            let portName = p["name"]?.stringValue ?? ""
            if ports.count > 1, portName.isEmpty {
                causes.append(
                    .init(type: "FieldValueRequired", message: "Required value", field: "spec.ports[\(i)].name"))
            } else if !portName.isEmpty, !seenNames.insert(portName).inserted {
                causes.append(
                    .init(
                        type: "FieldValueDuplicate", message: "Duplicate value: \"\(portName)\"",
                        field: "spec.ports[\(i)].name"))
            }
            if !seenPorts.insert("\(port)/\(proto)").inserted {
                causes.append(
                    .init(
                        type: "FieldValueDuplicate",
                        message:
                            "Duplicate value: core.ServicePort{Name:\"\(portName)\", Protocol:\"\(proto)\", Port:\(port)}",
                        field: "spec.ports[\(i)]"))
            }
            ports[i] = p
        }
        if !causes.isEmpty { throw .invalid(group: "", kind: "Service", name: name, causes: causes) }

        // IP families and cluster IPs.
        if type == "ExternalName" {
            spec["clusterIP"] = nil
            spec["clusterIPs"] = nil
            spec["ipFamilies"] = nil
            spec["ipFamilyPolicy"] = nil
            releaseClusterIPs(of: old)
        } else {
            try assignClusterIPs(old: old, spec: &spec, invalid: invalid)
            if spec["internalTrafficPolicy"] == nil { spec["internalTrafficPolicy"] = "Cluster" }
        }

        // Node ports.
        let wantsNodePorts =
            type == "NodePort" || (type == "LoadBalancer" && spec["allocateLoadBalancerNodePorts"]?.boolValue != false)
        if type == "LoadBalancer", spec["allocateLoadBalancerNodePorts"] == nil {
            spec["allocateLoadBalancerNodePorts"] = true
        }
        if type == "NodePort" || type == "LoadBalancer" {
            if spec["externalTrafficPolicy"] == nil { spec["externalTrafficPolicy"] = "Cluster" }
        } else {
            spec["externalTrafficPolicy"] = nil
        }
        let oldPorts = old?["spec"]?["ports"]?.arrayValue ?? []
        var keptOld = Set<String>()
        var newlyReserved: [(Int, String)] = []
        for i in ports.indices {
            let proto = ports[i]["protocol"]?.stringValue ?? "TCP"
            let requested = ports[i]["nodePort"]?.intValue.map(Int.init)
            guard wantsNodePorts else {
                ports[i]["nodePort"] = nil
                continue
            }
            let previous = oldPorts.first {
                $0["port"] == ports[i]["port"] && ($0["protocol"]?.stringValue ?? "TCP") == proto
            }?["nodePort"]?.intValue.map(Int.init)
            let oldHolds = { (n: Int) in
                oldPorts.contains {
                    $0["nodePort"]?.intValue == Int64(n) && ($0["protocol"]?.stringValue ?? "TCP") == proto
                }
            }
            if let requested {
                if oldHolds(requested) {
                    keptOld.insert("\(requested)/\(proto)")
                } else if let error = nodePorts.reserve(requested, protocol: proto) {
                    for (p, pr) in newlyReserved { nodePorts.release(p, protocol: pr) }
                    throw invalid(
                        "FieldValueInvalid", "Invalid value: \(requested): \(error)", "spec.ports[\(i)].nodePort")
                } else {
                    newlyReserved.append((requested, proto))
                }
            } else if let previous {
                ports[i]["nodePort"] = .int(Int64(previous))
                keptOld.insert("\(previous)/\(proto)")
            } else if let port = nodePorts.allocate(protocol: proto) {
                ports[i]["nodePort"] = .int(Int64(port))
                newlyReserved.append((port, proto))
            } else {
                for (p, pr) in newlyReserved { nodePorts.release(p, protocol: pr) }
                throw .internalError("failed to allocate a nodePort: range is full")
            }
        }
        do {
            try allocateHealthCheckNodePort(old: old, type: type, spec: &spec, invalid: invalid)
        } catch {
            for (p, pr) in newlyReserved { nodePorts.release(p, protocol: pr) }
            throw error
        }
        for p in oldPorts {
            guard let n = p["nodePort"]?.intValue else { continue }
            let proto = p["protocol"]?.stringValue ?? "TCP"
            if !keptOld.contains("\(n)/\(proto)") { nodePorts.release(Int(n), protocol: proto) }
        }
        if !ports.isEmpty || spec["ports"] != nil { spec["ports"] = .array(ports) }
        o["spec"] = spec
        if o["status"] == nil { o["status"] = ["loadBalancer": [:]] }
        return o
    }

    /// Whether a Service needs a health check node port: `type: LoadBalancer` with `externalTrafficPolicy: Local`.
    static func needsHealthCheckNodePort(_ spec: JSON?) -> Bool {
        spec?["type"]?.stringValue == "LoadBalancer" && spec?["externalTrafficPolicy"]?.stringValue == "Local"
    }

    /// `spec.healthCheckNodePort`, as kube-apiserver keeps it: a TCP port of the node-port range allocated (or the
    /// requested one reserved) while the Service needs one, kept unchanged while it does ("field is immutable"),
    /// released and cleared once it does not; refused on a Service that never needed one.
    private func allocateHealthCheckNodePort(
        old: JSON?, type: String, spec: inout JSON, invalid: (String, String, String) -> Status
    ) throws(Status) {
        let field = "spec.healthCheckNodePort"
        let requested = spec["healthCheckNodePort"]?.intValue.map(Int.init).flatMap { $0 == 0 ? nil : $0 }
        let held =
            Self.needsHealthCheckNodePort(old?["spec"])
            ? old?["spec"]?["healthCheckNodePort"]?.intValue.map(Int.init) : nil
        guard Self.needsHealthCheckNodePort(spec) else {
            if let requested, requested != held {
                throw invalid(
                    "FieldValueInvalid",
                    "Invalid value: \(requested): may only be set when `type` is 'LoadBalancer' and "
                        + "`externalTrafficPolicy` is 'Local'", field)
            }
            spec["healthCheckNodePort"] = nil
            if let held { nodePorts.release(held, protocol: "TCP") }
            return
        }
        if let held {
            if let requested, requested != held {
                throw invalid("FieldValueForbidden", "Forbidden: field is immutable", field)
            }
            spec["healthCheckNodePort"] = .int(Int64(held))
        } else if let requested {
            if let error = nodePorts.reserve(requested, protocol: "TCP") {
                throw invalid("FieldValueInvalid", "Invalid value: \(requested): \(error)", field)
            }
        } else if let port = nodePorts.allocate(protocol: "TCP") {
            spec["healthCheckNodePort"] = .int(Int64(port))
        } else {
            throw .internalError("failed to allocate a healthCheckNodePort: range is full")
        }
    }

    func releaseService(_ object: JSON) {
        releaseClusterIPs(of: object)
        if Self.needsHealthCheckNodePort(object["spec"]), let port = object["spec"]?["healthCheckNodePort"]?.intValue {
            nodePorts.release(Int(port), protocol: "TCP")
        }
        for p in object["spec"]?["ports"]?.arrayValue ?? [] {
            if let n = p["nodePort"]?.intValue {
                nodePorts.release(Int(n), protocol: p["protocol"]?.stringValue ?? "TCP")
            }
        }
    }

    /// Rebuilds allocations from stored Services (at start-up).
    func rebuildAllocations() {
        for (_, stored) in storage.list(WatchFilter(prefix: "/services")).items {
            let o = stored.json
            for ip in Self.clusterIPs(of: o) { clusterIPs.allocator(for: ip.family)?.markUsed(ip) }
            if Self.needsHealthCheckNodePort(o["spec"]), let port = o["spec"]?["healthCheckNodePort"]?.intValue {
                nodePorts.markUsed(Int(port), protocol: "TCP")
            }
            for p in o["spec"]?["ports"]?.arrayValue ?? [] {
                if let n = p["nodePort"]?.intValue {
                    nodePorts.markUsed(Int(n), protocol: p["protocol"]?.stringValue ?? "TCP")
                }
            }
        }
    }
}
