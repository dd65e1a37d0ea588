/// Reading Prometheus' text format in tests and benchmarks.
public enum MetricSamples {
    /// Every sample: `name{labels}` (exactly as printed) → value. Comments and unreadable lines are skipped.
    public static func parse(_ text: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let value = Double(parts[1]) { out[String(parts[0])] = value }
        }
        return out
    }
}
