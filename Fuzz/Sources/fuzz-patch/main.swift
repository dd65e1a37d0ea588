import FuzzDriver
import KubeAPI

/// Patches as the API server applies them: the input is a JSON array `[patch, target]`; JSON patch, merge patch
/// and strategic merge patch (with a schema of merge keys) each return a document or a `PatchError`, never trap,
/// and never nest deeper than the parser reads back.
func fuzzPatch(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    guard case .array(let pair)? = try? JSONParser.parse(input), pair.count == 2 else { return 0 }
    let (patch, target) = (pair[0], pair[1])
    if let patched = try? JSONPatch.apply(patch, to: target), patched.nestingDepth > JSONParser.maximumDepth {
        fatalError("a JSON patch nested the document \(patched.nestingDepth) deep")
    }
    _ = JSONMergePatch.apply(patch, to: target)
    let schema = PatchSchema.object([
        "containers": .mergeList(key: "name", fields: ["ports": .mergeList(key: "containerPort")]),
        "finalizers": .mergeList(key: nil),
    ])
    _ = try? StrategicMergePatch.apply(patch, to: target, schema: schema)
    return 0
}

runFuzzer(fuzzPatch)
