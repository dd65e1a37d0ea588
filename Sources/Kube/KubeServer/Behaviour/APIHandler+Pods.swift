import KubeAPI

/// The two parts of a Pod's life the API server decides, as kube-apiserver does: binding to a node (the scheduler's
/// `pods/binding` subresource) and graceful deletion (a Pod on a node is first marked, its node stops it and then
/// deletes it with a grace period of zero).
extension APIHandler {
    /// `POST …/pods/NAME/binding` with a `Binding` whose `target` names a Node: sets `spec.nodeName` once.
    /// - Throws: 400 when the target is not a Node name, 404 when the Pod is missing, 409 when it is already bound
    ///   (kube-apiserver's wording) or a `metadata.uid` in the Binding names another Pod.
    func bind(_ request: APIRequest, key: ObjectKey) async throws(Status) -> APIResponse {
        let binding = try decodeBody(request)
        guard let node = binding["target"]?["name"]?.stringValue, !node.isEmpty,
            (binding["target"]?["kind"]?.stringValue ?? "Node") == "Node"
        else { throw .badRequest("a Binding needs target.name, the name of a Node") }
        let uid = binding["metadata"]?["uid"]?.stringValue
        let result = try await storage.write(key) { current throws(Status) in
            guard var current else { throw .notFound(group: "", resource: "pods", name: key.name) }
            if let uid, !uid.isEmpty, uid != current["metadata"]?["uid"]?.stringValue {
                throw .conflict(
                    group: "", resource: "pods", name: key.name,
                    message:
                        "Operation cannot be fulfilled on pods/binding \"\(key.name)\": the UID in the binding does not match the pod"
                )
            }
            if let bound = current["spec"]?["nodeName"]?.stringValue, !bound.isEmpty {
                throw .conflict(
                    group: "", resource: "pods/binding", name: key.name,
                    message: "pod \(key.name) is already assigned to node \"\(bound)\"")
            }
            if current["metadata"]?["deletionTimestamp"] != nil {
                throw .conflict(
                    group: "", resource: "pods/binding", name: key.name,
                    message: "pod \(key.name) is being deleted, cannot be assigned to a host")
            }
            current[path: ["spec", "nodeName"]] = .string(node)
            var conditions = current["status"]?["conditions"]?.arrayValue ?? []
            conditions.removeAll { $0["type"]?.stringValue == "PodScheduled" }
            conditions.append(["type": "PodScheduled", "status": "True", "lastTransitionTime": .string(now())])
            current[path: ["status", "conditions"]] = .array(conditions)
            return .put(current)
        }
        if let resource = registry.lookup(group: "", version: "v1", plural: "pods") {
            await afterWrite(resource: resource, object: result.object, kind: result.kind)
        }
        return .json(["kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Success"], status: 201)
    }

    /// The grace period a Pod's deletion waits for its node, or nil to delete it now: a Pod on no node, or one
    /// that has finished, goes at once, as does any deletion with a grace period of zero; otherwise the request's
    /// period, else one already running, else `spec.terminationGracePeriodSeconds` (30 when unset).
    static func podTerminationGrace(_ pod: JSON, requested: Int64?) -> Int64? {
        let node = pod["spec"]?["nodeName"]?.stringValue ?? ""
        let phase = pod["status"]?["phase"]?.stringValue ?? ""
        guard !node.isEmpty, phase != "Succeeded", phase != "Failed" else { return nil }
        let grace =
            requested ?? pod["metadata"]?["deletionGracePeriodSeconds"]?.intValue
            ?? pod["spec"]?["terminationGracePeriodSeconds"]?.intValue ?? 30
        return grace > 0 ? grace : nil
    }

    /// The Pod marked for deletion in `grace` seconds from `now` (seconds since the epoch); nil when it already is,
    /// as soon or sooner (a second deletion may only shorten the wait).
    static func markTerminating(_ pod: JSON, grace: Int64, now: Int64) -> JSON? {
        if let running = pod["metadata"]?["deletionGracePeriodSeconds"]?.intValue,
            pod["metadata"]?["deletionTimestamp"] != nil, running <= grace
        {
            return nil
        }
        var pod = pod
        pod[path: ["metadata", "deletionTimestamp"]] = .string(Timestamp.format(epochSeconds: now + grace))
        pod[path: ["metadata", "deletionGracePeriodSeconds"]] = .int(grace)
        return pod
    }
}
