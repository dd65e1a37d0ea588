import CoreMetrics
import Metrics
import Proxy

/// The proxy's metrics, after kube-proxy's (`sync_proxy_rules_duration_seconds`, `…_last_timestamp_seconds`):
/// sync duration, last sync, Service addresses programmed, sync errors, and what was skipped by reason.
///
/// Thread-safe (swift-metrics handlers are).
struct ProxyMetrics: Sendable {
    let syncDuration = Timer(label: "pylon_proxy_sync_duration_seconds")
    let lastSync = Gauge(label: "pylon_proxy_last_sync_timestamp_seconds")
    let serviceAddresses = Gauge(label: "pylon_proxy_service_addresses")
    let endpoints = Gauge(label: "pylon_proxy_endpoints")
    let syncErrors = Counter(label: "pylon_proxy_sync_errors_total")
    let fullSyncs = Counter(label: "pylon_proxy_full_syncs_total")
    let staleFlowsRemoved = Counter(label: "pylon_proxy_stale_udp_flows_removed_total")
    let skipped: [ProxyProblem.Reason: Counter] = Dictionary(
        uniqueKeysWithValues: ProxyProblem.Reason.allCases.map {
            ($0, Counter(label: "pylon_proxy_skipped_total", dimensions: [("reason", $0.rawValue)]))
        })

    init() {
        for counter in [syncErrors, fullSyncs, staleFlowsRemoved] + Array(skipped.values) { counter.increment(by: 0) }
        serviceAddresses.record(0)
        endpoints.record(0)
    }
}
