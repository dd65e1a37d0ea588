import Metrics

/// One BGP session's series, labelled with the peer's address and port (`peer`).
///
/// Thread-safe (swift-metrics handlers are).
struct BGPPeerMetrics: Sendable {
    /// 1 while Established.
    let sessionUp: Gauge
    let updatesSent: Counter
    let updatesReceived: Counter
    /// Prefixes the router has from this speaker.
    let prefixesAnnounced: Gauge
    /// Prefixes the router sends (counted, never installed).
    let prefixesReceived: Gauge
    /// Bad input answered with a NOTIFICATION, by error code.
    let notificationsSent: Counter
    /// Prefixes beyond the tracking limit (see `BGPPeer.maximumReceivedPrefixes`).
    let prefixesIgnored: Counter

    init(peer: String) {
        let dimensions = [("peer", peer)]
        sessionUp = Gauge(label: "pylon_bgp_session_up", dimensions: dimensions)
        updatesSent = Counter(label: "pylon_bgp_updates_sent_total", dimensions: dimensions)
        updatesReceived = Counter(label: "pylon_bgp_updates_received_total", dimensions: dimensions)
        prefixesAnnounced = Gauge(label: "pylon_bgp_prefixes_announced", dimensions: dimensions)
        prefixesReceived = Gauge(label: "pylon_bgp_prefixes_received", dimensions: dimensions)
        notificationsSent = Counter(label: "pylon_bgp_notifications_sent_total", dimensions: dimensions)
        prefixesIgnored = Counter(label: "pylon_bgp_prefixes_ignored_total", dimensions: dimensions)
        sessionUp.record(0)
        prefixesAnnounced.record(0)
        prefixesReceived.record(0)
        for counter in [updatesSent, updatesReceived, notificationsSent, prefixesIgnored] { counter.increment(by: 0) }
    }
}
