/// The lines of a client probe stream (`<ms> ok <node>` / `<ms> fail <reason>`), read back to tell what the
/// client saw around a failover. Pure.
public struct ProbeLog: Sendable, Equatable {
    public struct Probe: Sendable, Equatable {
        public var milliseconds: Int
        /// The node that answered, nil when the probe failed.
        public var answer: String?
    }

    public var probes: [Probe]

    /// Reads the lines it understands; others (log noise) are skipped.
    public init(_ text: String) {
        probes = text.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ", maxSplits: 2)
            guard words.count >= 2, let ms = Int(words[0]) else { return nil }
            switch words[1] {
            case "ok": return Probe(milliseconds: ms, answer: words.count > 2 ? String(words[2]) : "")
            case "fail": return Probe(milliseconds: ms, answer: nil)
            default: return nil
            }
        }
    }

    /// What the client saw after the first `from` probes (those sent before the failure was caused).
    public struct Failover: Sendable, Equatable, Codable {
        /// Time from the last answer before the first failed probe to the next answer (0: no probe failed).
        public var outageMilliseconds: Int
        public var failedProbes: Int
        /// Time from the last probe sent before the failure until the first answer from another node.
        public var switchMilliseconds: Int?
        public var answeredBefore: String?
        public var answeredAfter: String?
    }

    public func failover(from index: Int) -> Failover {
        let before = probes.prefix(index)
        let after = probes.dropFirst(index)
        let start = before.last?.milliseconds ?? after.first?.milliseconds ?? 0
        let previous = before.last(where: { $0.answer != nil })?.answer
        var outage = 0
        var failed = 0
        var lastAnswer = before.last(where: { $0.answer != nil })?.milliseconds ?? start
        var failing = false
        for probe in after {
            if probe.answer == nil {
                failed += 1
                failing = true
            } else {
                if failing { outage = max(outage, probe.milliseconds - lastAnswer) }
                failing = false
                lastAnswer = probe.milliseconds
            }
        }
        // The outage ends only with an answer; failures up to the end of the log count until its last probe.
        if failing, let last = after.last { outage = max(outage, last.milliseconds - lastAnswer) }
        let switched = after.first { $0.answer != nil && $0.answer != previous }
        return Failover(
            outageMilliseconds: outage, failedProbes: failed,
            switchMilliseconds: switched.map { $0.milliseconds - start },
            answeredBefore: previous, answeredAfter: after.last(where: { $0.answer != nil })?.answer)
    }
}
