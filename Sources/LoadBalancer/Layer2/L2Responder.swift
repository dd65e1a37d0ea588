import NetCore

/// Decides the answer to one received frame: an ARP reply or Neighbor Advertisement for an address this node
/// announces on the interface, or the reason the frame is dropped.
///
/// Pure: no I/O, no state of its own; the speaker passes what it announces on the interface.
public enum L2Responder {
    /// What to do with a frame.
    public enum Action: Sendable, Equatable {
        /// Send this frame (on the interface the request came in on).
        case reply(frame: [UInt8], ip: IPAddress)
        case drop(DropReason)
    }

    static let allNodesMAC = MACAddress([0x33, 0x33, 0, 0, 0, 1])

    /// Answers `frame`, received on an interface with hardware address `mac` where this node announces `announced`.
    public static func respond(to frame: ArraySlice<UInt8>, mac: MACAddress, announced: Set<IPAddress>) -> Action {
        do throws(DropReason) {
            let ethernet = try EthernetFrame(decoding: frame)
            guard ethernet.source != mac else { return .drop(.ownFrame) }
            switch ethernet.etherType {
            case EthernetFrame.arp: return try respondARP(ethernet, mac: mac, announced: announced)
            case EthernetFrame.ipv6: return try respondNDP(ethernet, mac: mac, announced: announced)
            default: return .drop(.unsupportedEtherType)
            }
        } catch {
            return .drop(error)
        }
    }

    static func respondARP(_ ethernet: EthernetFrame, mac: MACAddress, announced: Set<IPAddress>) throws(DropReason)
        -> Action
    {
        let arp = try ARPPacket(decoding: ethernet.payload)
        // Someone else using an address we announce: a conflict, whatever the operation.
        if announced.contains(arp.senderIP), arp.senderMAC != mac { return .drop(.conflict) }
        guard arp.operation == .request else { return .drop(.notARequest) }
        guard announced.contains(arp.targetIP) else { return .drop(.notAnnounced) }
        let reply = arp.reply(from: mac)
        let out = EthernetFrame(
            destination: arp.senderMAC, source: mac, etherType: EthernetFrame.arp, payload: reply.encoded()[...])
        return .reply(frame: out.encoded(), ip: arp.targetIP)
    }

    static func respondNDP(_ ethernet: EthernetFrame, mac: MACAddress, announced: Set<IPAddress>) throws(DropReason)
        -> Action
    {
        let message = try NDPMessage(decoding: ethernet.payload)
        guard case .solicitation(let sourceLinkLayer) = message.kind else { return .drop(.notARequest) }
        guard announced.contains(message.target) else { return .drop(.notAnnounced) }
        let answer = message.advertisement(from: mac)
        let destination = message.source.isUnspecified ? allNodesMAC : (sourceLinkLayer ?? ethernet.source)
        let out = EthernetFrame(
            destination: destination, source: mac, etherType: EthernetFrame.ipv6, payload: answer.encoded()[...])
        return .reply(frame: out.encoded(), ip: message.target)
    }

    /// The frames announcing that `ip` is now at `mac`: gratuitous ARP request and reply for IPv4, an unsolicited
    /// Neighbor Advertisement to all nodes for IPv6.
    public static func announcements(of ip: IPAddress, mac: MACAddress) -> [[UInt8]] {
        switch ip.family {
        case .ipv4:
            return [ARPPacket.Operation.request, .reply].map { operation in
                EthernetFrame(
                    destination: .broadcast, source: mac, etherType: EthernetFrame.arp,
                    payload: ARPPacket.gratuitous(operation, ip: ip, mac: mac).encoded()[...]
                ).encoded()
            }
        case .ipv6:
            return [
                EthernetFrame(
                    destination: allNodesMAC, source: mac, etherType: EthernetFrame.ipv6,
                    payload: NDPMessage.unsolicited(ip, mac: mac).encoded()[...]
                ).encoded()
            ]
        }
    }
}
