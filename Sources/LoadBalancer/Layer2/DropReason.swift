/// Why a received frame was not acted on. Every decoder failure has one; the raw value is the `reason` label of
/// the speaker's drop counter.
public enum DropReason: String, Error, Sendable, CaseIterable {
    /// Shorter than its headers or than the lengths it declares.
    case truncated
    /// An EtherType other than ARP (0x0806) or IPv6 (0x86dd).
    case unsupportedEtherType = "unsupported_ethertype"
    /// ARP for a hardware type other than Ethernet, a protocol other than IPv4, or other address lengths.
    case arpNotEthernetIPv4 = "arp_not_ethernet_ipv4"
    /// ARP operation other than request (1) or reply (2).
    case arpBadOperation = "arp_bad_operation"
    /// IPv6 header with a version other than 6.
    case ipv6BadVersion = "ipv6_bad_version"
    /// IPv6 payload length larger than the frame.
    case ipv6BadPayloadLength = "ipv6_bad_payload_length"
    /// Not ICMPv6 directly after the IPv6 header (extension headers are not followed).
    case notICMPv6 = "not_icmpv6"
    /// ICMPv6 other than Neighbor Solicitation or Advertisement.
    case notNeighborDiscovery = "not_neighbor_discovery"
    /// ICMPv6 checksum mismatch.
    case badChecksum = "bad_checksum"
    /// RFC 4861 §7.1: hop limit not 255 (the packet crossed a router).
    case ndpBadHopLimit = "ndp_bad_hop_limit"
    /// RFC 4861 §7.1: ICMP code not 0.
    case ndpBadCode = "ndp_bad_code"
    /// RFC 4861 §7.1: the target address is multicast.
    case ndpMulticastTarget = "ndp_multicast_target"
    /// RFC 4861 §7.1: an option with length 0 or running past the packet.
    case ndpBadOption = "ndp_bad_option"
    /// RFC 4861 §7.1.1: unspecified source with a source link-layer option, or not sent to a solicited-node
    /// multicast address.
    case ndpBadUnspecifiedSource = "ndp_bad_unspecified_source"
    /// An ARP reply or a Neighbor Advertisement: only requests are answered.
    case notARequest = "not_a_request"
    /// A request for an address this node does not announce on the interface it came in on.
    case notAnnounced = "not_announced"
    /// Another host claims an address this node announces (gratuitous ARP, or an ARP packet whose sender address
    /// is ours with another MAC): never answered, logged as a conflict.
    case conflict
    /// A frame this node sent itself.
    case ownFrame = "own_frame"
}
