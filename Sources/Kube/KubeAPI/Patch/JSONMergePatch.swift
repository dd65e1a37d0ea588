import OrderedCollections

/// JSON Merge Patch (RFC 7386): objects merge member by member, `null` deletes, everything else replaces.
public enum JSONMergePatch {
    /// Applies `patch` to `target`.
    public static func apply(_ patch: JSON, to target: JSON) -> JSON {
        guard case .object(let patchObject) = patch else { return patch }
        var result = target.objectValue ?? [:]
        for (key, value) in patchObject {
            if value.isNull {
                result[key] = nil
            } else {
                result[key] = apply(value, to: result[key] ?? .null)
            }
        }
        return .object(result)
    }
}
