import Yams

/// Converts YAML documents to `JSON` the way Kubernetes reads manifests: mappings to objects, sequences to arrays,
/// plain scalars resolved to null, booleans, integers and floats, quoted scalars kept as strings.
public enum YAMLToJSON {
    /// Converts one composed YAML node.
    /// - Throws: `YAMLConversionError` for a mapping key that is not a scalar.
    public static func convert(_ node: Node) throws -> JSON {
        switch node {
        case .scalar(let scalar):
            guard scalar.style == .plain else { return .string(scalar.string) }
            if node.null != nil { return .null }
            if let b = node.bool { return .bool(b) }
            if let i = node.int { return .int(Int64(i)) }
            if let d = node.float { return .double(d) }
            return .string(scalar.string)
        case .sequence(let sequence):
            return .array(try sequence.map(convert))
        case .mapping(let mapping):
            var object = JSONObject()
            for (key, value) in mapping {
                guard case .scalar(let k) = key else {
                    throw YAMLConversionError(message: "mapping keys must be strings")
                }
                object[k.string] = try convert(value)
            }
            return .object(object)
        case .alias:
            throw YAMLConversionError(message: "unresolved YAML alias")
        }
    }

    /// Parses every document of a YAML stream (separated by `---`), skipping empty ones.
    /// - Throws: the YAML parser's error, or `YAMLConversionError`.
    public static func documents(_ text: String) throws -> [JSON] {
        var result: [JSON] = []
        for node in try Yams.compose_all(yaml: text) {
            let json = try convert(node)
            if !json.isNull { result.append(json) }
        }
        return result
    }
}

/// A YAML document that has no JSON equivalent.
public struct YAMLConversionError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
