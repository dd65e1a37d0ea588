import Layer2
import Membership
import Metrics

/// The speaker's counters and gauges, created once (swift-metrics lookups take a lock).
///
/// Thread-safe (swift-metrics handlers are).
struct SpeakerMetrics: Sendable {
    let arpRequests = Counter(label: "pylon_speaker_requests_received_total", dimensions: [("protocol", "arp")])
    let ndpRequests = Counter(label: "pylon_speaker_requests_received_total", dimensions: [("protocol", "ndp")])
    let arpReplies = Counter(label: "pylon_speaker_responses_sent_total", dimensions: [("protocol", "arp")])
    let ndpReplies = Counter(label: "pylon_speaker_responses_sent_total", dimensions: [("protocol", "ndp")])
    let arpGratuitous = Counter(label: "pylon_speaker_gratuitous_sent_total", dimensions: [("protocol", "arp")])
    let ndpGratuitous = Counter(label: "pylon_speaker_gratuitous_sent_total", dimensions: [("protocol", "ndp")])
    let sendFailures = Counter(label: "pylon_speaker_send_failures_total")
    let announced = Gauge(label: "pylon_speaker_announced_ips")
    let membersAlive = Gauge(label: "pylon_speaker_members_alive")
    let drops: [DropReason: Counter] = Dictionary(
        uniqueKeysWithValues: DropReason.allCases.map {
            ($0, Counter(label: "pylon_speaker_drops_total", dimensions: [("reason", $0.rawValue)]))
        })
    let membershipDrops: [PacketCodec.Drop: Counter] = Dictionary(
        uniqueKeysWithValues: PacketCodec.Drop.allCases.map {
            ($0, Counter(label: "pylon_speaker_membership_drops_total", dimensions: [("reason", $0.rawValue)]))
        })

    init() {
        // Every series exists from the start, so a scrape shows zeros instead of nothing.
        for counter in [arpRequests, ndpRequests, arpReplies, ndpReplies, arpGratuitous, ndpGratuitous, sendFailures] {
            counter.increment(by: 0)
        }
        for counter in drops.values { counter.increment(by: 0) }
        for counter in membershipDrops.values { counter.increment(by: 0) }
        announced.record(0)
    }
}
