import Metrics
import NetCore

/// The BFD agent's series.
///
/// Thread-safe (swift-metrics handlers are).
struct BFDMetrics: Sendable {
    let sent = Counter(label: "pylon_bfd_packets_sent_total")
    let received = Counter(label: "pylon_bfd_packets_received_total")

    /// 1 while the session with `peer` is Up (`pylon_bfd_session_up{peer}`).
    func sessionUp(_ peer: IPAddress) -> Gauge {
        Gauge(label: "pylon_bfd_session_up", dimensions: [("peer", peer.description)])
    }

    /// Received packets discarded, by reason: a decoding error's `reason`, `no_session`, `source` (a known
    /// discriminator from another address) or `session` (rejected by the session's state machine).
    func dropped(_ reason: String) -> Counter {
        Counter(label: "pylon_bfd_packets_dropped_total", dimensions: [("reason", reason)])
    }
}
