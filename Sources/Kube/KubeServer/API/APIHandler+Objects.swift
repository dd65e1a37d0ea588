import KubeAPI
import OrderedCollections

extension APIHandler {
    func serve(_ request: APIRequest, target: RequestTarget, resource: ResourceType) async throws(Status) -> APIResponse
    {
        var target = target
        if resource.plural == "namespaces" {
            target.namespace = nil
        } else if !resource.namespaced, target.namespace != nil {
            throw .pathNotFound()
        }
        if let sub = target.subresource, !(sub == "status" && resource.hasStatus),
            !(sub == "binding" && resource.behaviour == .pod)
        {
            throw .pathNotFound()
        }
        let namespace = resource.namespaced ? (target.namespace ?? "") : ""
        switch (request.method, target.name) {
        case ("GET", let name?):
            return try get(request, resource: resource, version: target.version, key: key(resource, namespace, name))
        case ("GET", nil):
            let ns = resource.namespaced ? target.namespace : nil
            if isTrue(request.query["watch"]) {
                return try watch(request, resource: resource, version: target.version, namespace: ns)
            }
            return try list(request, resource: resource, version: target.version, namespace: ns)
        case ("POST", let name?) where target.subresource == "binding":
            return try await bind(request, key: key(resource, namespace, name))
        case ("POST", nil):
            guard !resource.namespaced || !namespace.isEmpty else {
                throw .methodNotAllowed("the server does not allow this method on the requested resource")
            }
            return try await create(request, resource: resource, version: target.version, namespace: namespace)
        case ("PUT", let name?) where target.subresource != "binding":
            return try await update(
                request, resource: resource, version: target.version, key: key(resource, namespace, name),
                status: target.subresource == "status")
        case ("PATCH", let name?) where target.subresource != "binding":
            return try await patch(
                request, resource: resource, version: target.version, key: key(resource, namespace, name),
                status: target.subresource == "status")
        case ("DELETE", let name?) where target.subresource == nil:
            return try await delete(
                request, resource: resource, version: target.version, key: key(resource, namespace, name))
        case ("DELETE", nil):
            return try await deleteCollection(
                request, resource: resource, version: target.version,
                namespace: resource.namespaced ? target.namespace : nil)
        default:
            throw .methodNotAllowed("the server does not allow this method on the requested resource")
        }
    }

    func key(_ resource: ResourceType, _ namespace: String, _ name: String) -> ObjectKey {
        ObjectKey(prefix: resource.storagePrefix, namespace: namespace, name: name)
    }

    func isTrue(_ value: String?) -> Bool {
        value == "true" || value == "1"
    }

    // MARK: Reading

    private func get(_ request: APIRequest, resource: ResourceType, version: String, key: ObjectKey) throws(Status)
        -> APIResponse
    {
        guard let stored = storage.get(key) else {
            throw .notFound(group: resource.group, resource: resource.plural, name: key.name)
        }
        if wantsTable(request) {
            return .json(
                table(
                    resource: resource, version: version, objects: [present(stored.json, resource, version)],
                    listMeta: ["resourceVersion": .string(String(stored.revision))], request: request))
        }
        if version == resource.storageVersion { return .raw(stored.bytes) }
        return .json(present(stored.json, resource, version))
    }

    /// The response carrying a written object: its stored bytes as they are when served at the storage version.
    func written(_ result: Storage.WriteResult, _ resource: ResourceType, _ version: String, status: Int = 200)
        -> APIResponse
    {
        if version == resource.storageVersion { return .raw(result.bytes, status: status) }
        return .json(present(result.object, resource, version), status: status)
    }

    /// The object as served at `version` (conversion strategy None: only `apiVersion` changes).
    func present(_ object: JSON, _ resource: ResourceType, _ version: String) -> JSON {
        guard version != resource.storageVersion else { return object }
        var o = object
        o["apiVersion"] = .string(resource.apiVersion(version))
        return o
    }

    func filter(_ request: APIRequest, resource: ResourceType, namespace: String?) throws(Status) -> WatchFilter {
        var labels = LabelSelector.everything
        if let text = request.query["labelSelector"], !text.isEmpty {
            do throws(SelectorError) {
                labels = try LabelSelector(parsing: text)
            } catch {
                throw .badRequest("unable to parse requirement: \(error.message)")
            }
        }
        var fields: (@Sendable (ObjectKey, StoredObject) -> Bool)? = nil
        if let text = request.query["fieldSelector"], !text.isEmpty {
            let selector: FieldSelector
            do throws(SelectorError) {
                selector = try FieldSelector(parsing: text)
            } catch {
                throw .badRequest(error.message)
            }
            for r in selector.requirements where !SelectableFields.supported(resource, r.field) {
                throw .badRequest("field label not supported: \(r.field)")
            }
            fields = { key, object in
                let json = object.json
                return selector.matches { SelectableFields.value(resource, json, key, $0) }
            }
        }
        return WatchFilter(prefix: resource.storagePrefix, namespace: namespace, labels: labels, fields: fields)
    }

    private func list(_ request: APIRequest, resource: ResourceType, version: String, namespace: String?) throws(Status)
        -> APIResponse
    {
        let selection = try filter(request, resource: resource, namespace: namespace)
        var start: (namespace: String, name: String)? = nil
        if let token = request.query["continue"], !token.isEmpty {
            guard let position = ContinueToken.decode(token) else {
                throw .badRequest(
                    "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
            }
            start = (position.namespace, position.name)
        }
        let limit = request.query["limit"].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil }
        let (items, remaining, revision) = storage.list(selection, after: start, limit: limit)
        var listMeta: JSONObject = ["resourceVersion": .string(String(revision))]
        if remaining > 0, let last = items.last?.0 {
            listMeta["continue"] = .string(
                ContinueToken.encode(namespace: last.namespace, name: last.name, revision: revision))
            listMeta["remainingItemCount"] = .int(Int64(remaining))
        }
        if wantsTable(request) {
            return .json(
                table(
                    resource: resource, version: version, objects: items.map { present($0.1.json, resource, version) },
                    listMeta: .object(listMeta), request: request))
        }
        var out: [UInt8] = []
        out.reserveCapacity(items.reduce(128) { $0 + $1.1.bytes.count + 1 })
        out.append(
            contentsOf:
                "{\"kind\":\"\(resource.kind)List\",\"apiVersion\":\"\(resource.apiVersion(version))\",\"metadata\":"
                .utf8)
        JSON.object(listMeta).write(to: &out)
        out.append(contentsOf: ",\"items\":[".utf8)
        for (i, item) in items.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            if version == resource.storageVersion {
                out.append(contentsOf: item.1.bytes)
            } else {
                present(item.1.json, resource, version).write(to: &out)
            }
        }
        out.append(contentsOf: "]}".utf8)
        return .raw(out)
    }

    // MARK: Body decoding

    func decodeBody(_ request: APIRequest) throws(Status) -> JSON {
        var duplicates: [String] = []
        return try decodeBody(request, duplicates: &duplicates)
    }

    /// Decodes a request body by its content type; for JSON also lists its duplicate members' paths.
    func decodeBody(_ request: APIRequest, duplicates: inout [String]) throws(Status) -> JSON {
        let contentType =
            (request.headers["content-type"] ?? "application/json").split(separator: ";").first.map {
                $0.trimmed()
            } ?? "application/json"
        switch contentType {
        case "application/json", "application/merge-patch+json", "application/json-patch+json",
            "application/strategic-merge-patch+json", "":
            do throws(JSONError) {
                return try JSONParser.parse(request.body, duplicates: &duplicates)
            } catch {
                throw .badRequest("the body of the request could not be decoded as JSON: \(error)")
            }
        case "application/vnd.kubernetes.protobuf":
            return try ProtoDecoder.decodeEnvelope(request.body)
        case "application/yaml", "application/x-yaml", "application/apply-patch+yaml":
            do throws(YAMLError) {
                return try YAMLToJSON.document(String(decoding: request.body, as: UTF8.self))
            } catch {
                throw .badRequest("the body of the request could not be decoded as YAML: \(error)")
            }
        default:
            throw .unsupportedMediaType(contentType)
        }
    }

    /// Checks `apiVersion` and `kind` of a request body against the endpoint, filling them in when absent.
    func checkTypeMeta(_ object: inout JSON, resource: ResourceType, version: String) throws(Status) {
        guard case .object = object else {
            throw .badRequest("the body of the request must be a JSON object, not \(object.typeName)")
        }
        let expected = resource.apiVersion(version)
        if let apiVersion = object["apiVersion"]?.stringValue, apiVersion != expected {
            throw .badRequest(
                "the API version in the data (\(apiVersion)) does not match the expected API version (\(expected))")
        }
        if let kind = object["kind"]?.stringValue, kind != resource.kind {
            throw .badRequest(
                "\(resource.kind) in version \"\(version)\" cannot be handled as a \(resource.kind): the kind in the data (\(kind)) does not match the expected kind (\(resource.kind))"
            )
        }
        object["apiVersion"] = .string(resource.apiVersion(resource.storageVersion))
        object["kind"] = .string(resource.kind)
    }

    // MARK: Create

    private func create(_ request: APIRequest, resource: ResourceType, version: String, namespace: String)
        async throws(Status) -> APIResponse
    {
        var duplicates: [String] = []
        var object = try decodeBody(request, duplicates: &duplicates)
        try checkTypeMeta(&object, resource: resource, version: version)
        var warnings: [String] = []
        object = try decodeTyped(
            object, resource: resource, version: version, request: request, duplicates: duplicates,
            warnings: &warnings)
        if resource.namespaced {
            if let ns = object["metadata"]?["namespace"]?.stringValue, !ns.isEmpty, ns != namespace {
                throw .badRequest(
                    "the namespace of the provided object does not match the namespace sent on the request")
            }
            object[path: ["metadata", "namespace"]] = .string(namespace)
            try requireNamespace(namespace)
        } else {
            object[path: ["metadata", "namespace"]] = nil
        }
        if let rv = object["metadata"]?["resourceVersion"]?.stringValue, !rv.isEmpty {
            throw .badRequest("resourceVersion should not be set on objects to be created")
        }
        var name = object["metadata"]?["name"]?.stringValue ?? ""
        if name.isEmpty, let base = object["metadata"]?["generateName"]?.stringValue, !base.isEmpty {
            name = base + NameGenerator.suffix()
            object[path: ["metadata", "name"]] = .string(name)
        }
        if name.isEmpty {
            throw .invalid(
                group: resource.group, kind: resource.kind, name: "",
                causes: [
                    .init(
                        type: "FieldValueRequired", message: "Required value: name or generateName is required",
                        field: "metadata.name")
                ])
        }
        object[path: ["metadata", "uid"]] = .string(UUIDGenerator.v4())
        object[path: ["metadata", "creationTimestamp"]] = .string(now())
        object[path: ["metadata", "deletionTimestamp"]] = nil
        object[path: ["metadata", "deletionGracePeriodSeconds"]] = nil
        object[path: ["metadata", "managedFields"]] = nil
        object[path: ["metadata", "selfLink"]] = nil
        object[path: ["metadata", "generation"]] = 1
        if resource.hasStatus, resource.behaviour == .custom { object["status"] = nil }
        object = try validateCustom(
            object, resource: resource, version: version, request: request,
            strictErrors: duplicates.map { "duplicate field \"\($0)\"" }, warnings: &warnings)
        let finalObject = try prepareForCreate(object, resource: resource)
        let objectKey = key(resource, namespace, name)
        let result: Storage.WriteResult
        do throws(Status) {
            result = try await storage.write(objectKey) { current throws(Status) in
                if current != nil { throw .alreadyExists(group: resource.group, resource: resource.plural, name: name) }
                return .put(finalObject)
            }
        } catch {
            releaseAllocations(finalObject, resource: resource)
            throw error
        }
        await afterWrite(resource: resource, object: result.object, kind: .added)
        return withWarnings(written(result, resource, version, status: 201), warnings)
    }

    func withWarnings(_ response: APIResponse, _ warnings: [String]) -> APIResponse {
        guard !warnings.isEmpty else { return response }
        var r = response
        r.headers["warning"] = warnings.map { "299 - \"\($0.replacing("\"", with: "\\\""))\"" }.joined(separator: ", ")
        return r
    }

    func requireNamespace(_ namespace: String) throws(Status) {
        guard let ns = storage.get(ObjectKey(prefix: "/namespaces", namespace: "", name: namespace)) else {
            throw .notFound(group: "", resource: "namespaces", name: namespace)
        }
        if ns.json["metadata"]?["deletionTimestamp"] != nil {
            throw Status(
                code: 403, reason: "Forbidden",
                message: "unable to create new content in namespace \(namespace) because it is being terminated",
                details: ["name": .string(namespace), "kind": "namespaces"])
        }
    }

    // MARK: Update and patch

    private func update(_ request: APIRequest, resource: ResourceType, version: String, key: ObjectKey, status: Bool)
        async throws(Status) -> APIResponse
    {
        var duplicates: [String] = []
        var object = try decodeBody(request, duplicates: &duplicates)
        try checkTypeMeta(&object, resource: resource, version: version)
        var warnings: [String] = []
        object = try decodeTyped(
            object, resource: resource, version: version, request: request, duplicates: duplicates,
            warnings: &warnings)
        if let name = object["metadata"]?["name"]?.stringValue, name != key.name {
            throw .badRequest("the name of the object (\(name)) does not match the name on the URL (\(key.name))")
        }
        let incoming = try validateCustom(
            object, resource: resource, version: version, request: request,
            strictErrors: duplicates.map { "duplicate field \"\($0)\"" }, warnings: &warnings)
        let result = try await storage.write(key) { current throws(Status) in
            guard let current else { throw .notFound(group: resource.group, resource: resource.plural, name: key.name) }
            return try self.decideUpdate(
                current: current, proposed: incoming, resource: resource, key: key, status: status)
        }
        await afterWrite(resource: resource, object: result.object, kind: result.kind)
        return withWarnings(written(result, resource, version), warnings)
    }

    private func patch(_ request: APIRequest, resource: ResourceType, version: String, key: ObjectKey, status: Bool)
        async throws(Status) -> APIResponse
    {
        let contentType = (request.headers["content-type"] ?? "").split(separator: ";").first.map { $0.trimmed() } ?? ""
        let patchKind: String
        switch contentType {
        case "application/merge-patch+json", "application/json-patch+json": patchKind = contentType
        case "application/strategic-merge-patch+json" where resource.patchSchema != nil: patchKind = contentType
        default: throw .unsupportedMediaType(contentType)
        }
        var duplicates: [String] = []
        let patchDocument = try decodeBody(request, duplicates: &duplicates)
        let patchErrors =
            patchKind == "application/json-patch+json"
            ? jsonPatchErrors(patchDocument, duplicates: duplicates)
            : duplicates.map { "duplicate field \"\($0)\"" }
        var warnings: [String] = []
        let result = try await storage.write(key) { current throws(Status) in
            guard let current else { throw .notFound(group: resource.group, resource: resource.plural, name: key.name) }
            var patched: JSON
            let original = self.present(current, resource, version)
            do throws(PatchError) {
                switch patchKind {
                case "application/json-patch+json": patched = try JSONPatch.apply(patchDocument, to: original)
                case "application/merge-patch+json":
                    guard case .object = patchDocument else {
                        throw PatchError(
                            "json: cannot unmarshal \(patchDocument.typeName) into Go value of type map[string]interface {}"
                        )
                    }
                    patched = JSONMergePatch.apply(patchDocument, to: original)
                default:
                    patched = try StrategicMergePatch.apply(
                        patchDocument, to: original, schema: resource.patchSchema ?? .atomic)
                }
            } catch {
                throw .badRequest(error.message)
            }
            // Stored objects are read back with `JSONParser`: a patch must not build what it would refuse.
            if patched.nestingDepth > JSONParser.maximumDepth {
                throw .badRequest("the patched object nests deeper than \(JSONParser.maximumDepth)")
            }
            try self.checkTypeMeta(&patched, resource: resource, version: version)
            if patched["metadata"]?["name"]?.stringValue != key.name {
                throw .badRequest(
                    "the name of the object (\(patched["metadata"]?["name"]?.stringValue ?? "")) does not match the name on the URL (\(key.name))"
                )
            }
            var requestWarnings: [String] = []
            patched = try self.decodePatched(
                patched, resource: resource, version: version, request: request, patchErrors: patchErrors,
                warnings: &requestWarnings)
            warnings = requestWarnings
            return try self.decideUpdate(
                current: current, proposed: patched, resource: resource, key: key, status: status)
        }
        await afterWrite(resource: resource, object: result.object, kind: result.kind)
        return withWarnings(written(result, resource, version), warnings)
    }

    /// The shared tail of update and patch: optimistic concurrency, immutable metadata, status split, generation,
    /// kind-specific rules, and finalizer-driven deletion.
    func decideUpdate(current: JSON, proposed: JSON, resource: ResourceType, key: ObjectKey, status: Bool)
        throws(Status) -> Storage.Decision
    {
        var next = proposed
        let currentRV = current["metadata"]?["resourceVersion"]?.stringValue ?? ""
        if let rv = next["metadata"]?["resourceVersion"]?.stringValue, !rv.isEmpty, rv != currentRV {
            throw .conflict(
                group: resource.group, resource: resource.plural, name: key.name,
                message: "the object has been modified; please apply your changes to the latest version and try again")
        }
        if let uid = next["metadata"]?["uid"]?.stringValue, !uid.isEmpty,
            uid != current["metadata"]?["uid"]?.stringValue
        {
            throw .conflict(
                group: resource.group, resource: resource.plural, name: key.name,
                message:
                    "Precondition failed: UID in precondition: \(uid), UID in object meta: \(current["metadata"]?["uid"]?.stringValue ?? "")"
            )
        }
        if status, resource.behaviour == .custom {
            // Custom resources: only status changes through the status subresource (metadata included).
            var merged = current
            merged["status"] = next["status"]
            next = merged
        } else if status {
            // Built-in kinds reset only `spec` on status updates; labels and annotations may change with the status,
            // as kube-apiserver's status strategies for Services, Nodes and Namespaces do.
            next["spec"] = current["spec"]
        } else if resource.hasStatus {
            next["status"] = current["status"]
        }
        for field in [
            "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "namespace", "generation",
        ] {
            next[path: ["metadata", field]] = current["metadata"]?[field]
        }
        next[path: ["metadata", "managedFields"]] = nil
        next[path: ["metadata", "resourceVersion"]] = current["metadata"]?["resourceVersion"]
        next = try prepareForUpdate(old: current, new: next, resource: resource, status: status)
        if !status, specChanged(current, next) {
            next[path: ["metadata", "generation"]] = .int((current["metadata"]?["generation"]?.intValue ?? 1) + 1)
        }
        if next["metadata"]?["deletionTimestamp"] != nil, (next["metadata"]?["finalizers"]?.arrayValue ?? []).isEmpty,
            (next["metadata"]?["deletionGracePeriodSeconds"]?.intValue ?? 0) == 0
        {
            return .delete
        }
        if next == current { return .unchanged }
        return .put(next)
    }

    private func specChanged(_ a: JSON, _ b: JSON) -> Bool {
        var x = a, y = b
        x["metadata"] = nil; y["metadata"] = nil
        x["status"] = nil; y["status"] = nil
        return x != y
    }

    // MARK: Delete

    private func delete(_ request: APIRequest, resource: ResourceType, version: String, key: ObjectKey)
        async throws(Status) -> APIResponse
    {
        let options = request.body.isEmpty ? JSON.object([:]) : try decodeBody(request)
        let grace = options["gracePeriodSeconds"]?.intValue ?? request.query["gracePeriodSeconds"].flatMap { Int64($0) }
        let result = try await deleteObject(
            key, resource: resource, preconditions: options["preconditions"], gracePeriod: grace)
        // kube-apiserver answers a deletion with the deleted object for Services and Pods, with a Status otherwise.
        if result.kind == .deleted, resource.behaviour != .service, resource.behaviour != .pod {
            return .json([
                "kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Success",
                "details": [
                    "name": .string(key.name), "group": .string(resource.group), "kind": .string(resource.plural),
                    "uid": result.object["metadata"]?["uid"] ?? .null,
                ],
            ])
        }
        return .json(present(result.object, resource, version), status: 200)
    }

    /// Deletes one object, or marks it for deletion when it has finalizers or is a Pod that a node must stop first
    /// (`gracePeriod` seconds, or the Pod's own, as `podTermination` decides).
    func deleteObject(
        _ key: ObjectKey, resource: ResourceType, preconditions: JSON? = nil, gracePeriod: Int64? = nil
    ) async throws(Status) -> Storage.WriteResult {
        let timestamp = now()
        let result = try await storage.write(key) { current throws(Status) in
            guard var current else { throw .notFound(group: resource.group, resource: resource.plural, name: key.name) }
            if let uid = preconditions?["uid"]?.stringValue, uid != current["metadata"]?["uid"]?.stringValue {
                throw .conflict(
                    group: resource.group, resource: resource.plural, name: key.name,
                    message:
                        "Precondition failed: UID in precondition: \(uid), UID in object meta: \(current["metadata"]?["uid"]?.stringValue ?? "")"
                )
            }
            if let rv = preconditions?["resourceVersion"]?.stringValue,
                rv != current["metadata"]?["resourceVersion"]?.stringValue
            {
                throw .conflict(
                    group: resource.group, resource: resource.plural, name: key.name,
                    message:
                        "Precondition failed: ResourceVersion in precondition: \(rv), ResourceVersion in object meta: \(current["metadata"]?["resourceVersion"]?.stringValue ?? "")"
                )
            }
            if resource.behaviour == .pod, let grace = Self.podTerminationGrace(current, requested: gracePeriod) {
                guard let marked = Self.markTerminating(current, grace: grace, now: clock() / 1_000_000) else {
                    return .unchanged
                }
                return .put(marked)
            }
            var finalizers = current["metadata"]?["finalizers"]?.arrayValue ?? []
            if resource.behaviour == .namespace {
                finalizers += current["spec"]?["finalizers"]?.arrayValue ?? []
            }
            if finalizers.isEmpty { return .delete }
            if current["metadata"]?["deletionTimestamp"] != nil { return .unchanged }
            current[path: ["metadata", "deletionTimestamp"]] = .string(timestamp)
            current[path: ["metadata", "deletionGracePeriodSeconds"]] = 0
            if resource.behaviour == .namespace { current[path: ["status", "phase"]] = "Terminating" }
            return .put(current)
        }
        await afterWrite(resource: resource, object: result.object, kind: result.kind)
        return result
    }

    private func deleteCollection(_ request: APIRequest, resource: ResourceType, version: String, namespace: String?)
        async throws(Status) -> APIResponse
    {
        let selection = try filter(request, resource: resource, namespace: namespace)
        let (items, _, revision) = storage.list(selection)
        var deleted: [JSON] = []
        for (itemKey, _) in items {
            do throws(Status) {
                deleted.append(present(try await deleteObject(itemKey, resource: resource).object, resource, version))
            } catch  where error.code == 404 {
                continue  // deleted concurrently
            }
        }
        return .json([
            "kind": .string(resource.kind + "List"), "apiVersion": .string(resource.apiVersion(version)),
            "metadata": ["resourceVersion": .string(String(revision))], "items": .array(deleted),
        ])
    }

    func wantsTable(_ request: APIRequest) -> Bool {
        (request.headers["accept"] ?? "").contains("as=Table")
    }
}
