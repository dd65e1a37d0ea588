import FuzzDriver
import KubeAPI

/// Label and field selectors from query strings: parsing returns a selector or a `SelectorError`, never traps, and
/// a parsed label selector matches without trapping.
func fuzzSelectors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: bytes(data, size), as: UTF8.self)
    if let selector = try? LabelSelector(parsing: text) {
        _ = selector.matches(["app": "web", "tier": "gold"])
    }
    _ = try? FieldSelector(parsing: text)
    return 0
}

runFuzzer(fuzzSelectors)
