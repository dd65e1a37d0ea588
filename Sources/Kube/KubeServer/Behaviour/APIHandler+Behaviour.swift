import KubeAPI

extension APIHandler {
    /// Server-side defaulting and validation on create, per kind.
    func prepareForCreate(_ object: JSON, resource: ResourceType) throws(Status) -> JSON {
        var o = object
        let name = o["metadata"]?["name"]?.stringValue ?? ""
        var causes = NameValidation.nameCauses(name, rule: nameRule(resource))
        causes += NameValidation.labelCauses(o)
        switch resource.behaviour {
        case .namespace:
            o[path: ["spec", "finalizers"]] = ["kubernetes"]
            o[path: ["status", "phase"]] = "Active"
        case .service:
            if causes.isEmpty { return try prepareService(old: nil, new: o) }
        case .node:
            if causes.isEmpty { _ = try assignPodCIDRs(old: nil, node: &o) }
        case .customResourceDefinition:
            causes += crdCauses(o)
            if causes.isEmpty { o["status"] = crdStatus(o) }
        case .event:
            if o["involvedObject"] == nil, resource.group.isEmpty {
                causes.append(.init(type: "FieldValueRequired", message: "Required value", field: "involvedObject"))
            }
        default:
            break
        }
        if !causes.isEmpty { throw .invalid(group: resource.group, kind: resource.kind, name: name, causes: causes) }
        return o
    }

    /// Server-side rules on update, per kind.
    func prepareForUpdate(old: JSON, new: JSON, resource: ResourceType, status: Bool) throws(Status) -> JSON {
        var o = new
        let causes = NameValidation.labelCauses(o)
        if !causes.isEmpty {
            throw .invalid(
                group: resource.group, kind: resource.kind, name: o["metadata"]?["name"]?.stringValue ?? "",
                causes: causes)
        }
        switch resource.behaviour {
        case .service where status:
            // Through `/status` the spec is the stored one, already prepared.
            if o["status"] == nil { o["status"] = ["loadBalancer": [:]] }
        case .service:
            return try prepareService(old: old, new: o)
        case .node where !status:
            _ = try assignPodCIDRs(old: old, node: &o)
        case .namespace:
            o["spec"] = old["spec"]
            if o["status"] == nil { o["status"] = old["status"] }
        case .customResourceDefinition:
            let crdCauses = crdCauses(o)
            if !crdCauses.isEmpty {
                throw .invalid(
                    group: resource.group, kind: resource.kind, name: o["metadata"]?["name"]?.stringValue ?? "",
                    causes: crdCauses)
            }
            if old["spec"]?["names"] != o["spec"]?["names"] || old["spec"]?["group"] != o["spec"]?["group"] {
                if old["spec"]?["group"] != o["spec"]?["group"] {
                    throw .invalid(
                        group: resource.group, kind: resource.kind, name: o["metadata"]?["name"]?.stringValue ?? "",
                        causes: [
                            .init(
                                type: "FieldValueInvalid",
                                message:
                                    "Invalid value: \"\(o["spec"]?["group"]?.stringValue ?? "")\": field is immutable",
                                field: "spec.group")
                        ])
                }
            }
            o["status"] = crdStatus(o)
        default:
            break
        }
        return o
    }

    private func nameRule(_ resource: ResourceType) -> NameValidation.Rule {
        switch resource.behaviour {
        case .namespace: return .label
        case .service: return .dns1035
        case .custom: return .subdomain
        default: return .subdomain
        }
    }

    /// Frees what an object that was not written held (cluster IPs, node ports, pod CIDRs).
    func releaseAllocations(_ object: JSON, resource: ResourceType) {
        switch resource.behaviour {
        case .service: releaseService(object)
        case .node: releasePodCIDRs(of: object)
        default: break
        }
    }

    /// Follow-up work once a write is committed: allocations of deleted Services and Nodes (a freed pod CIDR goes to
    /// a Node waiting for one), the Event of a Node left without pod CIDRs, CRD (un)installation, namespace
    /// finalization.
    func afterWrite(resource: ResourceType, object: JSON, kind: WatchEvent.Kind?) async {
        guard let kind else { return }
        switch resource.behaviour {
        case .service where kind == .deleted:
            releaseService(object)
        case .node where kind == .deleted:
            releasePodCIDRs(of: object)
            await assignWaitingPodCIDRs()
        case .node:
            if podNetworks.isEnabled, Self.podCIDRTexts(of: object).isEmpty,
                object["metadata"]?["deletionTimestamp"] == nil
            {
                await recordCIDRNotAvailable(object)
            }
        case .customResourceDefinition:
            if kind == .deleted {
                await removeCustomResource(object)
            } else if let custom = ResourceType(crd: object) {
                registry.install(custom)
            }
        case .namespace where kind != .deleted && object["metadata"]?["deletionTimestamp"] != nil:
            await finalizeNamespace(object["metadata"]?["name"]?.stringValue ?? "")
        default:
            break
        }
        if kind == .deleted, resource.namespaced, let ns = object["metadata"]?["namespace"]?.stringValue,
            let nsObject = storage.get(ObjectKey(prefix: "/namespaces", namespace: "", name: ns)),
            nsObject.json["metadata"]?["deletionTimestamp"] != nil
        {
            await finalizeNamespace(ns)
        }
    }

    private func removeCustomResource(_ crd: JSON) async {
        guard let custom = ResourceType(crd: crd) else { return }
        registry.remove(group: custom.group, plural: custom.plural)
        for (key, _) in storage.list(WatchFilter(prefix: custom.storagePrefix)).items {
            _ = try? await storage.write(key) { current throws(Status) in current == nil ? .unchanged : .delete }
        }
    }

    /// Deletes everything in a terminating namespace; removes the namespace once it is empty.
    func finalizeNamespace(_ namespace: String) async {
        var remaining = 0
        for resource in registry.all where resource.namespaced {
            for (key, stored) in storage.list(WatchFilter(prefix: resource.storagePrefix, namespace: namespace)).items {
                remaining += 1
                guard stored.json["metadata"]?["deletionTimestamp"] == nil else { continue }
                _ = try? await deleteObject(key, resource: resource)
            }
        }
        let stillThere = registry.all.filter(\.namespaced).reduce(0) {
            $0 + storage.count(prefix: $1.storagePrefix, namespace: namespace)
        }
        guard remaining == 0 || stillThere == 0 else { return }
        _ = try? await storage.write(ObjectKey(prefix: "/namespaces", namespace: "", name: namespace)) {
            current throws(Status) in
            guard let current, current["metadata"]?["deletionTimestamp"] != nil else {
                return current == nil ? .unchanged : .unchanged
            }
            return .delete
        }
    }

    // MARK: CRDs

    private func crdCauses(_ crd: JSON) -> [Status.Cause] {
        var causes: [Status.Cause] = []
        let spec = crd["spec"]
        let group = spec?["group"]?.stringValue ?? ""
        let plural = spec?["names"]?["plural"]?.stringValue ?? ""
        if group.isEmpty {
            causes.append(.init(type: "FieldValueRequired", message: "Required value", field: "spec.group"))
        }
        if plural.isEmpty {
            causes.append(.init(type: "FieldValueRequired", message: "Required value", field: "spec.names.plural"))
        }
        if (spec?["names"]?["kind"]?.stringValue ?? "").isEmpty {
            causes.append(.init(type: "FieldValueRequired", message: "Required value", field: "spec.names.kind"))
        }
        let name = crd["metadata"]?["name"]?.stringValue ?? ""
        if !group.isEmpty, !plural.isEmpty, name != "\(plural).\(group)" {
            causes.append(
                .init(
                    type: "FieldValueInvalid",
                    message: "Invalid value: \"\(name)\": must be spec.names.plural+\".\"+spec.group",
                    field: "metadata.name"))
        }
        if !["Namespaced", "Cluster"].contains(spec?["scope"]?.stringValue ?? "") {
            causes.append(
                .init(
                    type: "FieldValueNotSupported",
                    message:
                        "Unsupported value: \"\(spec?["scope"]?.stringValue ?? "")\": supported values: \"Cluster\", \"Namespaced\"",
                    field: "spec.scope"))
        }
        let versions = spec?["versions"]?.arrayValue ?? []
        if versions.isEmpty {
            causes.append(
                .init(
                    type: "FieldValueRequired",
                    message: "Required value: must have exactly one version marked as storage version",
                    field: "spec.versions"))
        } else if versions.filter({ $0["storage"]?.boolValue == true }).count != 1 {
            causes.append(
                .init(
                    type: "FieldValueInvalid",
                    message: "Invalid value: must have exactly one version marked as storage version",
                    field: "spec.versions"))
        }
        for (i, v) in versions.enumerated() {
            if let schema = v["schema"]?["openAPIV3Schema"], schema["type"]?.stringValue != "object" {
                causes.append(
                    .init(
                        type: "FieldValueInvalid",
                        message: "Invalid value: \"\(schema["type"]?.stringValue ?? "")\": must be object at the root",
                        field: "spec.versions[\(i)].schema.openAPIV3Schema.type"))
            }
            if let schema = v["schema"]?["openAPIV3Schema"] {
                for (field, message) in SchemaValidator.patternErrors(
                    in: schema, prefix: "spec.versions[\(i)].schema.openAPIV3Schema")
                {
                    causes.append(.init(type: "FieldValueInvalid", message: message, field: field))
                }
            }
        }
        return causes
    }

    private func crdStatus(_ crd: JSON) -> JSON {
        let time = JSON.string(now())
        let storageVersion =
            (crd["spec"]?["versions"]?.arrayValue ?? []).first { $0["storage"]?.boolValue == true }?["name"] ?? .null
        return [
            "acceptedNames": crd["spec"]?["names"] ?? [:],
            "conditions": [
                [
                    "type": "NamesAccepted", "status": "True", "lastTransitionTime": time, "reason": "NoConflicts",
                    "message": "no conflicts found",
                ],
                [
                    "type": "Established", "status": "True", "lastTransitionTime": time,
                    "reason": "InitialNamesAccepted", "message": "the initial names have been accepted",
                ],
            ],
            "storedVersions": [storageVersion],
        ]
    }
}
