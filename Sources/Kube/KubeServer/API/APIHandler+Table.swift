import KubeAPI

extension APIHandler {
    /// A `meta.k8s.io/v1` Table of `objects`, with each row's object as `includeObject` asks (Metadata by default).
    func table(
        resource: ResourceType, version: String, objects: [JSON], listMeta: JSON, request: APIRequest,
        includeColumns: Bool = true
    ) -> JSON {
        let now = clock() / 1_000_000
        let include = request.query["includeObject"] ?? "Metadata"
        let columns = TableColumns.columns(for: resource, version: version)
        let rows: [JSON] = objects.map { o in
            var row: JSON = ["cells": .array(TableColumns.cells(for: resource, version: version, object: o, now: now))]
            switch include {
            case "None": break
            case "Object": row["object"] = o
            default:
                row["object"] = [
                    "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"] ?? [:],
                ]
            }
            return row
        }
        var table: JSON = ["kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": listMeta]
        if includeColumns {
            table["columnDefinitions"] = .array(
                columns.map {
                    [
                        "name": .string($0.name), "type": .string($0.type), "format": .string($0.format),
                        "description": .string($0.description), "priority": .int(Int64($0.priority)),
                    ]
                })
        } else {
            table["columnDefinitions"] = nil
        }
        table["rows"] = .array(rows)
        return table
    }
}
