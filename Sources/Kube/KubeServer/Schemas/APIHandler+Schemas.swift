import KubeAPI
import Logging
import OrderedCollections

extension APIHandler {
    /// The `fieldValidation` directive of a write.
    enum FieldValidation {
        case strict, warn, ignore
    }

    /// The request's `fieldValidation` (`Warn` when absent, as kube-apiserver defaults it).
    func fieldValidation(_ request: APIRequest) throws(Status) -> FieldValidation {
        switch request.query["fieldValidation"] ?? "Warn" {
        case "Strict": return .strict
        case "Warn": return .warn
        case "Ignore": return .ignore
        case let mode: throw .badRequest("fieldValidation must be one of Ignore, Warn, or Strict; got \(mode)")
        }
    }

    /// The prefix kube-apiserver puts before a request body's decode errors.
    private func cannotHandle(_ resource: ResourceType, _ version: String) -> String {
        "\(resource.kind) in version \"\(version)\" cannot be handled as a \(resource.kind): "
    }

    /// Decodes a created or replaced built-in object as kube-apiserver decodes it into its Go type: a value of the
    /// wrong JSON type refuses the request (400, Go's message); unknown and duplicate fields refuse it under
    /// `Strict`, become `Warning`s under `Warn`, and pass under `Ignore`. Unknown fields are dropped in every mode.
    /// Custom resources and kinds without a generated schema pass unchanged (see `validateCustom`).
    func decodeTyped(
        _ object: JSON, resource: ResourceType, version: String, request: APIRequest, duplicates: [String],
        warnings: inout [String]
    ) throws(Status) -> JSON {
        guard resource.behaviour != .custom,
            let root = BuiltinSchemas.root(group: resource.group, version: version, kind: resource.kind)
        else { return object }
        let outcome = TypedDecoder.decode(object, root: root, schema: BuiltinSchemas.typed, duplicates: duplicates)
        if let error = outcome.typeError { throw .badRequest(cannotHandle(resource, version) + error) }
        try apply(fieldValidation(request), to: outcome.strictErrors, warnings: &warnings) { message throws(Status) in
            .badRequest(cannotHandle(resource, version) + message)
        }
        return outcome.object
    }

    /// Decodes a patched built-in object as kube-apiserver does after applying a patch: a value of the wrong type
    /// refuses the patch (422, field `patch`); `patchErrors` (the patch document's duplicate fields, a JSON patch's
    /// unknown operation members) come first, then the patched object's unknown fields in key order, handled per
    /// `fieldValidation`. Custom resources pass through `validateCustom`.
    func decodePatched(
        _ object: JSON, resource: ResourceType, version: String, request: APIRequest, patchErrors: [String],
        warnings: inout [String]
    ) throws(Status) -> JSON {
        let invalidPatch = { (message: String) -> Status in
            .invalid(
                group: "", kind: "", name: "",
                causes: [
                    .init(
                        type: "FieldValueInvalid", message: "Invalid value: \"\(object.text())\": \(message)",
                        field: "patch")
                ])
        }
        if resource.behaviour == .custom {
            return try validateCustom(
                object, resource: resource, version: version, request: request, strictErrors: patchErrors,
                warnings: &warnings, refuse: invalidPatch)
        }
        guard let root = BuiltinSchemas.root(group: resource.group, version: version, kind: resource.kind) else {
            return object
        }
        let outcome = TypedDecoder.decode(object, root: root, schema: BuiltinSchemas.typed)
        if let error = outcome.typeError { throw invalidPatch(error) }
        let unknown = outcome.unknownFields.sorted(by: TypedDecoder.sortedOrder).map {
            "unknown field \"\(TypedDecoder.render($0))\""
        }
        try apply(fieldValidation(request), to: patchErrors + unknown, warnings: &warnings) { message throws(Status) in
            invalidPatch(message)
        }
        return outcome.object
    }

    /// Validates, defaults and prunes a custom object against its CRD schema. `strictErrors` (the body's duplicate
    /// fields) come before the unknown fields the schema prunes; both go by `fieldValidation`, refused with
    /// `refuse` (default: 400 with kube-apiserver's decode prefix).
    func validateCustom(
        _ object: JSON, resource: ResourceType, version: String, request: APIRequest, strictErrors: [String],
        warnings: inout [String], refuse: ((String) -> Status)? = nil
    ) throws(Status) -> JSON {
        guard resource.behaviour == .custom, let schema = resource.version(version)?.schema else { return object }
        let outcome = SchemaValidator(schema: schema).validate(object)
        let errors = strictErrors + outcome.unknownFields.map { "unknown field \"\($0)\"" }
        let prefix = cannotHandle(resource, version)
        try apply(fieldValidation(request), to: errors, warnings: &warnings) { message throws(Status) in
            refuse?(message) ?? .badRequest(prefix + message)
        }
        if !outcome.causes.isEmpty {
            throw .invalid(
                group: resource.group, kind: resource.kind, name: object["metadata"]?["name"]?.stringValue ?? "",
                causes: outcome.causes)
        }
        var result = outcome.object
        result["apiVersion"] = .string(resource.apiVersion(resource.storageVersion))
        return result
    }

    /// Logs, once each, the stored built-in objects their kind's schema no longer accepts (`pylon server` calls it
    /// once it serves, off the path to readiness: naming them changes nothing that is served).
    public func reportStoredObjectsOutsideTheirSchemas() async {
        for problem in await storedObjectsOutsideTheirSchemas() {
            logger.warning(
                "stored object does not match its kind's schema; still served as stored",
                metadata: ["object": "\(problem)"])
        }
    }

    /// Stored built-in objects that their kind's schema no longer accepts (stored before the check existed, or by
    /// another release), each as `group/plural namespace/name: problem`. They stay stored and served (read, list,
    /// watch, delete). Yields every 256 objects, so that a large store does not hold a thread from requests.
    public func storedObjectsOutsideTheirSchemas() async -> [String] {
        var found: [String] = []
        var checked = 0
        for resource in registry.all where resource.behaviour != .custom {
            let version = resource.storageVersion
            guard let root = BuiltinSchemas.root(group: resource.group, version: version, kind: resource.kind) else {
                continue
            }
            for (key, stored) in storage.list(WatchFilter(prefix: resource.storagePrefix)).items {
                checked += 1
                if checked % 256 == 0 { await Task.yield() }
                let outcome = TypedDecoder.decode(stored.json, root: root, schema: BuiltinSchemas.typed)
                let problem =
                    outcome.typeError
                    ?? outcome.unknownFields.map { "unknown field \"\(TypedDecoder.render($0))\"" }.first
                guard let problem else { continue }
                let name = key.namespace.isEmpty ? key.name : "\(key.namespace)/\(key.name)"
                found.append("\(resource.qualifiedName) \(name): \(problem)")
            }
        }
        return found
    }

    /// `Strict`: refuses with all errors in one message; `Warn`: one warning each; `Ignore`: nothing.
    private func apply(
        _ mode: FieldValidation, to errors: [String], warnings: inout [String],
        refuse: (String) throws(Status) -> Status
    ) throws(Status) {
        guard !errors.isEmpty else { return }
        switch mode {
        case .strict: throw try refuse("strict decoding error: " + errors.joined(separator: ", "))
        case .warn: warnings += errors
        case .ignore: break
        }
    }

    /// The duplicate-field and unknown-member errors of a JSON patch's operations (`[1].path`), as kube-apiserver
    /// reports them; duplicates inside an operation's value are not reported (upstream's patch library drops them).
    func jsonPatchErrors(_ patch: JSON, duplicates: [String]) -> [String] {
        var errors: [String] = []
        for (i, operation) in (patch.arrayValue ?? []).enumerated() {
            for key in operation.objectValue?.keys ?? [] where !["op", "path", "value", "from"].contains(key) {
                errors.append("json patch unknown field \"[\(i)].\(key)\"")
            }
            let prefix = "[\(i)]."
            for path in duplicates where path.hasPrefix(prefix) {
                let member = path.dropFirst(prefix.count)
                if !member.contains("."), !member.contains("[") {
                    errors.append("json patch duplicate field \"\(path)\"")
                }
            }
        }
        return errors
    }
}
