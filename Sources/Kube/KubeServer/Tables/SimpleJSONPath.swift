import KubeAPI

/// The JSONPath subset CRD printer columns use: `.a.b`, `.a[0].b`, `.a[*].b` (joined with commas), and
/// `.metadata.labels.some\.dotted\.key`.
enum SimpleJSONPath {
    static func evaluate(_ path: String, in object: JSON) -> JSON? {
        var text = path
        if text.hasPrefix("{") && text.hasSuffix("}") { text = String(text.dropFirst().dropLast()) }
        var values: [JSON] = [object]
        var segments: [String] = []
        var current = ""
        var escaped = false
        for c in text {
            if escaped { current.append(c); escaped = false; continue }
            switch c {
            case "\\": escaped = true
            case ".":
                if !current.isEmpty { segments.append(current) }
                current = ""
            case "[":
                if !current.isEmpty { segments.append(current) }
                current = "["
            case "]":
                current.append("]")
                segments.append(current)
                current = ""
            default: current.append(c)
            }
        }
        if !current.isEmpty { segments.append(current) }
        for segment in segments {
            if segment.hasPrefix("[") {
                let inner = segment.dropFirst().dropLast()
                values = values.flatMap { v -> [JSON] in
                    guard let a = v.arrayValue else { return [] }
                    if inner == "*" { return a }
                    guard let i = Int(inner), i >= 0, i < a.count else { return [] }
                    return [a[i]]
                }
            } else {
                values = values.compactMap { $0[segment] }
            }
        }
        if values.isEmpty { return nil }
        if values.count == 1 { return values[0] }
        return .string(values.map { $0.stringValue ?? $0.text() }.joined(separator: ","))
    }
}
