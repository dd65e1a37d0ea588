import CoreMetrics
import Metrics
import Overlay

/// The overlay's counters and gauges, created once (swift-metrics lookups take a lock).
///
/// Thread-safe (swift-metrics handlers are).
struct OverlayMetrics: Sendable {
    /// Nodes whose entries are programmed.
    let remoteNodes = Gauge(label: "pylon_overlay_remote_nodes")
    /// Nodes left out (invalid lease, another backend, off the segment for host-gw).
    let skippedNodes = Gauge(label: "pylon_overlay_skipped_nodes")
    /// Kernel entries put or removed.
    let puts = Counter(label: "pylon_overlay_changes_total", dimensions: [("change", "put")])
    let removals = Counter(label: "pylon_overlay_changes_total", dimensions: [("change", "remove")])
    /// Entries put back after something else removed them from the kernel, and devices mended or recreated.
    let repairs = Counter(label: "pylon_overlay_repairs_total")
    /// Failures by reason (`OverlayError.Reason.label`).
    let errors: [OverlayError.Reason: Counter] = Dictionary(
        uniqueKeysWithValues: OverlayError.Reason.allCases.map {
            ($0, Counter(label: "pylon_overlay_errors_total", dimensions: [("reason", $0.label)]))
        })
    /// When the kernel last matched the plan (seconds since the epoch).
    let lastSync = Gauge(label: "pylon_overlay_last_sync_timestamp_seconds")

    init() {
        // Every series exists from the start, so a scrape shows zeros instead of nothing.
        for counter in [puts, removals, repairs] + Array(errors.values) { counter.increment(by: 0) }
        remoteNodes.record(0)
        skippedNodes.record(0)
    }

    func count(_ error: OverlayError) { errors[error.reason]?.increment() }
}
