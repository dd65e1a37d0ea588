import OrderedCollections

/// JSON Patch (RFC 6902) with JSON Pointers (RFC 6901): `add`, `remove`, `replace`, `move`, `copy`, `test`.
///
/// Bounded as kube-apiserver bounds it, so that a small patch cannot build a huge or bottomless document: at most
/// `maximumOperations` operations, copies adding up to at most `maximumCopiedBytes`, and no operation may put a
/// value deeper than `JSONParser.maximumDepth` (a pointer's length plus the value's own nesting).
public enum JSONPatch {
    /// kube-apiserver's limit on the operations of one patch.
    public static let maximumOperations = 10_000
    /// What all `copy` operations of one patch may copy in total, serialized: kube-apiserver's request body limit.
    public static let maximumCopiedBytes = 3 * 1024 * 1024

    /// Applies the operations in order; the whole patch fails if any operation fails.
    /// - Throws: `PatchError` with a message naming the operation and path, or the limit exceeded.
    public static func apply(_ patch: JSON, to target: JSON) throws(PatchError) -> JSON {
        guard let operations = patch.arrayValue else {
            throw PatchError("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
        }
        guard operations.count <= maximumOperations else {
            throw PatchError(
                "the patch has \(operations.count) operations; at most \(maximumOperations) are allowed")
        }
        var document = target
        var copied = 0
        /// The value `op` puts at `pointer`, once it is known not to nest too deep there.
        func placing(_ value: JSON, at pointer: [String], _ op: String, _ path: String) throws(PatchError) -> JSON {
            if pointer.count + value.nestingDepth > JSONParser.maximumDepth {
                throw PatchError(
                    "\(op) operation at \(path) would nest the document deeper than \(JSONParser.maximumDepth)")
            }
            return value
        }
        for operation in operations {
            guard let op = operation["op"]?.stringValue else { throw PatchError("Unexpected kind: missing op") }
            guard let path = operation["path"]?.stringValue else {
                throw PatchError("missing path in operation \"\(op)\"")
            }
            let pointer = try parsePointer(path)
            switch op {
            case "add":
                guard let value = operation["value"] else { throw PatchError("missing value for add operation") }
                document = try add(placing(value, at: pointer, op, path), at: pointer[...], in: document, path: path)
            case "remove":
                document = try remove(at: pointer[...], in: document, path: path).0
            case "replace":
                guard let value = operation["value"] else { throw PatchError("missing value for replace operation") }
                document = try remove(at: pointer[...], in: document, path: path).0
                document = try add(placing(value, at: pointer, op, path), at: pointer[...], in: document, path: path)
            case "move", "copy":
                guard let from = operation["from"]?.stringValue else { throw PatchError("missing from in \(op)") }
                let fromPointer = try parsePointer(from)
                guard let value = get(fromPointer[...], in: document) else {
                    throw PatchError("\(op) operation does not apply: doc is missing from path: \(from)")
                }
                if op == "move" {
                    document = try remove(at: fromPointer[...], in: document, path: from).0
                } else {
                    copied += value.serialized().count
                    if copied > maximumCopiedBytes {
                        throw PatchError(
                            "the patch copies more than \(maximumCopiedBytes) bytes; that is the most allowed")
                    }
                }
                document = try add(placing(value, at: pointer, op, path), at: pointer[...], in: document, path: path)
            case "test":
                let expected = operation["value"] ?? .null
                guard let actual = get(pointer[...], in: document), actual == expected else {
                    throw PatchError("testing value \(path) failed: test failed")
                }
            default:
                throw PatchError("Unexpected kind: \(op)")
            }
        }
        return document
    }

    static func parsePointer(_ path: String) throws(PatchError) -> [String] {
        if path.isEmpty { return [] }
        guard path.hasPrefix("/") else { throw PatchError("JSON pointer must be empty or start with a \"/\": \(path)") }
        let segments = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count <= JSONParser.maximumDepth else {
            throw PatchError("JSON pointer \(path.prefix(40))… is deeper than \(JSONParser.maximumDepth)")
        }
        return segments.map { String($0).replacing("~1", with: "/").replacing("~0", with: "~") }
    }

    static func get(_ pointer: ArraySlice<String>, in document: JSON) -> JSON? {
        guard let first = pointer.first else { return document }
        switch document {
        case .object(let o): return o[first].flatMap { get(pointer.dropFirst(), in: $0) }
        case .array(let a):
            guard let i = Int(first), i >= 0, i < a.count else { return nil }
            return get(pointer.dropFirst(), in: a[i])
        default: return nil
        }
    }

    static func add(_ value: JSON, at pointer: ArraySlice<String>, in document: JSON, path: String) throws(PatchError)
        -> JSON
    {
        guard let first = pointer.first else { return value }
        let last = pointer.count == 1
        switch document {
        case .object(var o):
            if last {
                o[first] = value
            } else {
                guard let child = o[first] else {
                    throw PatchError("add operation does not apply: doc is missing path: \"\(path)\": missing value")
                }
                o[first] = try add(value, at: pointer.dropFirst(), in: child, path: path)
            }
            return .object(o)
        case .array(var a):
            if last {
                if first == "-" {
                    a.append(value)
                } else {
                    guard let i = Int(first), i >= 0, i <= a.count else {
                        throw PatchError(
                            "add operation does not apply: doc is missing path: \"\(path)\": missing value")
                    }
                    a.insert(value, at: i)
                }
            } else {
                guard let i = Int(first), i >= 0, i < a.count else {
                    throw PatchError("add operation does not apply: doc is missing path: \"\(path)\": missing value")
                }
                a[i] = try add(value, at: pointer.dropFirst(), in: a[i], path: path)
            }
            return .array(a)
        default:
            throw PatchError("add operation does not apply: doc is missing path: \"\(path)\": missing value")
        }
    }

    static func remove(at pointer: ArraySlice<String>, in document: JSON, path: String) throws(PatchError) -> (
        JSON, JSON
    ) {
        guard let first = pointer.first else { throw PatchError("cannot remove the whole document") }
        let last = pointer.count == 1
        let missing = PatchError("remove operation does not apply: doc is missing path: \"\(path)\": missing value")
        switch document {
        case .object(var o):
            guard let child = o[first] else { throw missing }
            if last {
                o[first] = nil
                return (.object(o), child)
            }
            let (updated, removed) = try remove(at: pointer.dropFirst(), in: child, path: path)
            o[first] = updated
            return (.object(o), removed)
        case .array(var a):
            guard let i = Int(first), i >= 0, i < a.count else { throw missing }
            if last {
                let removed = a.remove(at: i)
                return (.array(a), removed)
            }
            let (updated, removed) = try remove(at: pointer.dropFirst(), in: a[i], path: path)
            a[i] = updated
            return (.array(a), removed)
        default:
            throw missing
        }
    }
}
