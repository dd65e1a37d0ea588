/// Converts YAML to `JSON` the way Kubernetes reads manifests: mappings to objects, sequences to arrays, plain
/// scalars resolved to null, booleans, integers and floats (YAML 1.1, as Kubernetes' YAML library), quoted and
/// block scalars kept as strings. The reader is `YAMLReader` (no Foundation).
public enum YAMLToJSON {
    /// Parses every document of a YAML stream (separated by `---`), skipping empty ones.
    /// - Throws: `YAMLError` naming the line and column of the first problem.
    public static func documents(_ text: String) throws(YAMLError) -> [JSON] {
        var reader = YAMLReader(text)
        return try reader.documents().filter { !$0.isNull }
    }

    /// Parses a stream that must hold exactly one non-empty document (a request body).
    /// - Throws: `YAMLError` for unreadable YAML, no document, or more than one.
    public static func document(_ text: String) throws(YAMLError) -> JSON {
        let all = try documents(text)
        guard all.count == 1 else {
            throw YAMLError(
                line: 1, column: 1, message: all.isEmpty ? "no YAML document" : "\(all.count) YAML documents, not one")
        }
        return all[0]
    }
}
