import KubeAPI
import OrderedCollections

extension APIHandler {
    /// `/openapi/v3`: one entry per group-version, each pointing at its document. The hash kubectl caches documents
    /// by changes with the CRDs served and with the built-in schemas (their release and size), so that a client's
    /// cache from another build of the server is not used.
    func openAPIIndex() -> JSON {
        var paths = JSONObject()
        let hash =
            "pylon-\(BuiltinSchemas.kubernetesVersion)-\(BuiltinSchemas.definitionsText.utf8.count)-\(registry.generation)"
        for r in registry.all {
            for v in r.versions {
                let gv = r.group.isEmpty ? "api/\(v.name)" : "apis/\(r.group)/\(v.name)"
                paths[gv] = ["serverRelativeURL": .string("/openapi/v3/\(gv)?hash=\(hash)")]
            }
        }
        return ["paths": .object(paths)]
    }

    /// The OpenAPI v3 document of one group-version (`api/v1`, `apis/GROUP/VERSION`): a schema per kind (the CRD's
    /// own schema for custom resources) and the paths with the parameters kubectl looks for.
    func openAPIDocument(_ groupVersion: String) throws(Status) -> APIResponse {
        let parts = groupVersion.split(separator: "/").map(String.init)
        let group: String
        let version: String
        switch (parts.first, parts.count) {
        case ("api", 2): group = ""; version = parts[1]
        case ("apis", 3): group = parts[1]; version = parts[2]
        default: throw .pathNotFound()
        }
        let resources = registry.all.filter { $0.group == group && $0.version(version) != nil }
        guard !resources.isEmpty else { throw .pathNotFound() }
        var schemas = JSONObject()
        var paths = JSONObject()
        let reversedGroup =
            group.isEmpty ? "io.k8s.api.core" : group.split(separator: ".").reversed().joined(separator: ".")
        var builtins: [String] = []
        for r in resources {
            let gvk: JSON = ["group": .string(r.group), "version": .string(version), "kind": .string(r.kind)]
            let schemaName: String
            if r.behaviour != .custom,
                let builtin = BuiltinSchemas.definitionName(group: r.group, version: version, kind: r.kind)
            {
                schemaName = builtin
                builtins.append(builtin)
            } else {
                schemaName = "\(reversedGroup).\(version).\(r.kind)"
                schemas[schemaName] = customSchema(r, version: version, gvk: gvk)
            }
            let base =
                (group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)")
                + (r.namespaced ? "/namespaces/{namespace}" : "") + "/\(r.plural)/{name}"
            var patchContent: JSONObject = [
                "application/json-patch+json": ["schema": ["type": "object"]],
                "application/merge-patch+json": ["schema": ["type": "object"]],
            ]
            if r.behaviour == .custom { patchContent["application/apply-patch+yaml"] = nil }
            let parameters: JSON = [
                ["name": "fieldValidation", "in": "query", "schema": ["type": "string", "uniqueItems": true]],
                ["name": "dryRun", "in": "query", "schema": ["type": "string", "uniqueItems": true]],
                ["name": "fieldManager", "in": "query", "schema": ["type": "string", "uniqueItems": true]],
            ]
            let ref: JSON = ["$ref": .string("#/components/schemas/\(schemaName)")]
            paths[base] = [
                "get": [
                    "x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "get",
                    "responses": ["200": ["description": "OK", "content": ["application/json": ["schema": ref]]]],
                ],
                "put": [
                    "x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "put", "parameters": parameters,
                    "requestBody": ["content": ["application/json": ["schema": ref]]],
                    "responses": ["200": ["description": "OK"]],
                ],
                "patch": [
                    "x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "patch", "parameters": parameters,
                    "requestBody": ["content": .object(patchContent)], "responses": ["200": ["description": "OK"]],
                ],
            ]
        }
        for (name, schema) in BuiltinSchemas.components(builtins) { schemas[name] = schema }
        schemas.sort()
        return .json([
            "openapi": "3.0.0", "info": ["title": "Kubernetes", "version": .string(BuiltinSchemas.kubernetesVersion)],
            "paths": .object(paths), "components": ["schemas": .object(schemas)],
        ])
    }

    /// The schema of a custom resource's version: its CRD's, with `apiVersion`, `kind` and `metadata` described.
    private func customSchema(_ r: ResourceType, version: String, gvk: JSON) -> JSON {
        var schema =
            r.version(version)?.schema ?? [
                "type": "object",
                "description": .string("\(r.kind) (no schema given by its CustomResourceDefinition)."),
            ]
        var properties = schema["properties"]?.objectValue ?? [:]
        properties["apiVersion"] = [
            "type": "string",
            "description": "APIVersion defines the versioned schema of this representation of an object.",
        ]
        properties["kind"] = [
            "type": "string",
            "description": "Kind is a string value representing the REST resource this object represents.",
        ]
        properties["metadata"] = [
            "type": "object", "description": "Standard object's metadata.",
            "x-kubernetes-preserve-unknown-fields": true,
        ]
        schema["properties"] = .object(properties)
        schema["x-kubernetes-group-version-kind"] = [gvk]
        return schema
    }
}
