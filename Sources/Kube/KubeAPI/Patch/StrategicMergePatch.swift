import OrderedCollections

/// Strategic merge patch, the patch type Kubernetes defines for its built-in types.
///
/// Like JSON merge patch, but lists that declare a merge strategy merge element by element (objects matched on
/// their merge key, scalars as a set), and these directives are honoured: `$patch: replace|delete|merge` on maps
/// and list elements, `$retainKeys`, `$setElementOrder/<field>` and `$deleteFromPrimitiveList/<field>`.
public enum StrategicMergePatch {
    /// Applies `patch` to `target` using `schema`.
    /// - Throws: `PatchError` for an unknown directive or a patch that is not an object.
    public static func apply(_ patch: JSON, to target: JSON, schema: PatchSchema) throws(PatchError) -> JSON {
        guard let p = patch.objectValue else {
            throw PatchError("json: cannot unmarshal \(patch.typeName) into Go value of type map[string]interface {}")
        }
        return .object(try mergeMap(target.objectValue ?? [:], p, schema) ?? [:])
    }

    /// Returns `nil` when the patch deletes the whole map.
    private static func mergeMap(_ original: JSONObject, _ patch: JSONObject, _ schema: PatchSchema) throws(PatchError)
        -> JSONObject?
    {
        switch patch["$patch"]?.stringValue {
        case "replace": return stripDirectives(patch)
        case "delete": return nil
        case nil, "merge": break
        case let other?: throw PatchError("Unknown patch type: \(other) in map: \(JSON.object(patch).text())")
        }
        var result = original
        if let retain = patch["$retainKeys"]?.arrayValue {
            let keep = Set(retain.compactMap(\.stringValue))
            for key in result.keys where !keep.contains(key) { result[key] = nil }
        }
        var orders: [(String, [JSON])] = []
        var deletions: [(String, [JSON])] = []
        for (key, value) in patch {
            if key == "$patch" || key == "$retainKeys" { continue }
            if key.hasPrefix("$setElementOrder/") {
                orders.append((String(key.dropFirst("$setElementOrder/".count)), value.arrayValue ?? []))
                continue
            }
            if key.hasPrefix("$deleteFromPrimitiveList/") {
                deletions.append((String(key.dropFirst("$deleteFromPrimitiveList/".count)), value.arrayValue ?? []))
                continue
            }
            if key.hasPrefix("$") { throw PatchError("unknown patch directive \(key)") }
            if value.isNull {
                result[key] = nil
                continue
            }
            let fieldSchema = schema.child(key)
            switch (value, result[key]) {
            case (.object(let p), .object(let o)?):
                result[key] = try mergeMap(o, p, fieldSchema).map(JSON.object)
            case (.object(let p), _):
                result[key] = try mergeMap([:], p, fieldSchema).map(JSON.object)
            case (.array(let p), let current):
                if case .merge(let mergeKey) = fieldSchema.list {
                    result[key] = .array(try mergeList(current?.arrayValue ?? [], p, mergeKey: mergeKey, fieldSchema))
                } else {
                    result[key] = .array(p.map(stripDirectives))
                }
            default:
                result[key] = value
            }
        }
        for (field, values) in deletions {
            guard let list = result[field]?.arrayValue else { continue }
            result[field] = .array(list.filter { !values.contains($0) })
        }
        for (field, order) in orders {
            guard let list = result[field]?.arrayValue else { continue }
            let mergeKey: String? = {
                if case .merge(let k) = schema.child(field).list { return k }
                return nil
            }()
            result[field] = .array(reorder(list, by: order, mergeKey: mergeKey))
        }
        return result
    }

    private static func mergeList(_ original: [JSON], _ patch: [JSON], mergeKey: String?, _ schema: PatchSchema)
        throws(PatchError) -> [JSON]
    {
        if patch.contains(where: { $0.objectValue?["$patch"]?.stringValue == "replace" }) {
            return patch.filter { $0.objectValue?["$patch"]?.stringValue != "replace" }.map(stripDirectives)
        }
        var result = original
        for element in patch {
            guard case .object(let p) = element, let mergeKey else {
                if !result.contains(element) { result.append(element) }
                continue
            }
            guard let keyValue = p[mergeKey] else {
                throw PatchError("map: \(element.text()) does not contain declared merge key: \(mergeKey)")
            }
            let index = result.firstIndex { $0[mergeKey] == keyValue }
            if p["$patch"]?.stringValue == "delete" {
                result.removeAll { $0[mergeKey] == keyValue }
                continue
            }
            if let index, case .object(let o) = result[index] {
                if let merged = try mergeMap(o, p, schema) {
                    result[index] = .object(merged)
                } else {
                    result.remove(at: index)
                }
            } else {
                result.append(.object(stripDirectives(p)))
            }
        }
        return result
    }

    private static func reorder(_ list: [JSON], by order: [JSON], mergeKey: String?) -> [JSON] {
        func identity(_ element: JSON) -> JSON {
            if let mergeKey, let k = element[mergeKey] { return k }
            return element
        }
        let wanted = order.map(identity)
        var ordered: [JSON] = []
        var rest = list
        for w in wanted {
            if let i = rest.firstIndex(where: { identity($0) == w }) {
                ordered.append(rest.remove(at: i))
            }
        }
        return ordered + rest
    }

    private static func stripDirectives(_ object: JSONObject) -> JSONObject {
        var o = object
        for key in o.keys where key.hasPrefix("$") { o[key] = nil }
        for (key, value) in o { o[key] = stripDirectives(value) }
        return o
    }

    private static func stripDirectives(_ value: JSON) -> JSON {
        switch value {
        case .object(let o): return .object(stripDirectives(o))
        case .array(let a): return .array(a.map(stripDirectives))
        default: return value
        }
    }
}
