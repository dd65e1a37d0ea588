import KubeAPI

extension Explanation {
    /// What `pylon explain service` prints: the summary line, then one line per finding with a mark (✓ ok, · info,
    /// ✗ problem) and its topic in a column.
    public var text: String {
        var lines = ["Service \(service): \(summary)"]
        let width = findings.map(\.topic.count).max() ?? 0
        for finding in findings {
            let mark =
                switch finding.level {
                case .ok: "✓"
                case .info: "·"
                case .problem: "✗"
                }
            lines.append("  \(mark) \(finding.topic.padded(to: width + 2))\(finding.text)")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
