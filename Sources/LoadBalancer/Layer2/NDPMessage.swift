import NetCore

/// An IPv6 Neighbor Discovery message (RFC 4861 §4.3, §4.4) with the IPv6 header fields that matter for it,
/// validated on decode as RFC 4861 §7.1 requires.
public struct NDPMessage: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Type 135; the sender's link-layer address option when present.
        case solicitation(sourceLinkLayer: MACAddress?)
        /// Type 136; flags and the target link-layer address option when present.
        case advertisement(router: Bool, solicited: Bool, override: Bool, targetLinkLayer: MACAddress?)
    }

    static let icmpv6: UInt8 = 58
    static let solicitationType: UInt8 = 135
    static let advertisementType: UInt8 = 136

    public var source: IPAddress
    public var destination: IPAddress
    public var hopLimit: UInt8
    public var target: IPAddress
    public var kind: Kind

    public init(source: IPAddress, destination: IPAddress, hopLimit: UInt8 = 255, target: IPAddress, kind: Kind) {
        self.source = source
        self.destination = destination
        self.hopLimit = hopLimit
        self.target = target
        self.kind = kind
    }

    /// Decodes an IPv6 packet (the Ethernet payload) carrying a Neighbor Solicitation or Advertisement.
    /// - Throws: the `DropReason` of the first check that fails.
    public init(decoding packet: ArraySlice<UInt8>) throws(DropReason) {
        var r = ByteReader(packet, truncated: DropReason.truncated)
        guard try r.u32() >> 28 == 6 else { throw .ipv6BadVersion }
        let payloadLength = Int(try r.u16())
        let nextHeader = try r.u8()
        hopLimit = try r.u8()
        source = IPAddress(bytes: try r.take(16))!
        destination = IPAddress(bytes: try r.take(16))!
        guard r.remaining >= payloadLength else { throw .ipv6BadPayloadLength }
        guard nextHeader == Self.icmpv6 else { throw .notICMPv6 }
        let icmp = try r.take(payloadLength)
        guard icmp.count >= 4 else { throw .truncated }
        let type = icmp[icmp.startIndex]
        guard type == Self.solicitationType || type == Self.advertisementType else { throw .notNeighborDiscovery }
        guard Self.checksum(source: source, destination: destination, icmp) == 0 else { throw .badChecksum }
        guard hopLimit == 255 else { throw .ndpBadHopLimit }
        guard icmp[icmp.startIndex + 1] == 0 else { throw .ndpBadCode }
        var body = ByteReader(icmp.dropFirst(4), truncated: DropReason.truncated)
        let flags = try body.u32()
        target = IPAddress(bytes: try body.take(16))!
        guard !target.isMulticast else { throw .ndpMulticastTarget }
        // Options: type, length in units of 8 bytes (never 0), value.
        var linkLayer: MACAddress? = nil
        let wanted: UInt8 = type == Self.solicitationType ? 1 : 2
        while body.remaining > 0 {
            let optionType = try body.u8()
            let units = Int(try body.u8())
            guard units > 0, body.remaining >= units * 8 - 2 else { throw .ndpBadOption }
            let value = try body.take(units * 8 - 2)
            if optionType == wanted, value.count >= 6 { linkLayer = MACAddress(Array(value.prefix(6))) }
        }
        if type == Self.solicitationType {
            if source.isUnspecified,
                linkLayer != nil || !destination.isSolicitedNodeMulticast
            {
                throw .ndpBadUnspecifiedSource
            }
            kind = .solicitation(sourceLinkLayer: linkLayer)
        } else {
            kind = .advertisement(
                router: flags & 0x8000_0000 != 0, solicited: flags & 0x4000_0000 != 0,
                override: flags & 0x2000_0000 != 0, targetLinkLayer: linkLayer)
        }
    }

    /// The IPv6 packet (header and ICMPv6 message with its checksum).
    public func encoded() -> [UInt8] {
        var icmp: [UInt8] = []
        switch kind {
        case .solicitation(let mac):
            icmp += [Self.solicitationType, 0, 0, 0, 0, 0, 0, 0]
            icmp += target.bytes
            if let mac { icmp += [1, 1] + mac.bytes }
        case .advertisement(let router, let solicited, let override, let mac):
            var flags: UInt32 = 0
            if router { flags |= 0x8000_0000 }
            if solicited { flags |= 0x4000_0000 }
            if override { flags |= 0x2000_0000 }
            icmp += [Self.advertisementType, 0, 0, 0]
            icmp.append32(flags)
            icmp += target.bytes
            if let mac { icmp += [2, 1] + mac.bytes }
        }
        let sum = Self.checksum(source: source, destination: destination, icmp[...])
        icmp[2] = UInt8(sum >> 8)
        icmp[3] = UInt8(sum & 0xFF)
        var out: [UInt8] = [0x60, 0, 0, 0]
        out.append16(UInt16(icmp.count))
        out += [Self.icmpv6, hopLimit]
        out += source.bytes + destination.bytes + icmp
        return out
    }

    /// The solicited advertisement answering this solicitation for `target` at `mac` (RFC 4861 §7.2.4): to the
    /// solicitation's source, or to all-nodes when that source is unspecified (then not marked solicited).
    public func advertisement(from mac: MACAddress) -> NDPMessage {
        let allNodes = IPAddress("ff02::1")!
        let toAll = source.isUnspecified
        return NDPMessage(
            source: target, destination: toAll ? allNodes : source, target: target,
            kind: .advertisement(router: false, solicited: !toAll, override: true, targetLinkLayer: mac))
    }

    /// An unsolicited advertisement of `ip` at `mac` to all nodes (override set), sent on gaining an address.
    public static func unsolicited(_ ip: IPAddress, mac: MACAddress) -> NDPMessage {
        NDPMessage(
            source: ip, destination: IPAddress("ff02::1")!, target: ip,
            kind: .advertisement(router: false, solicited: false, override: true, targetLinkLayer: mac))
    }

    /// The ICMPv6 checksum (RFC 4443 §2.3) over the pseudo-header and `message`; 0 when a received message's
    /// checksum field is right.
    public static func checksum(source: IPAddress, destination: IPAddress, _ message: ArraySlice<UInt8>) -> UInt16 {
        var sum: UInt32 = 0
        func add(_ bytes: some Collection<UInt8>) {
            var high = true
            for b in bytes {
                sum &+= high ? UInt32(b) << 8 : UInt32(b)
                high.toggle()
            }
        }
        add(source.bytes)
        add(destination.bytes)
        let length = UInt32(message.count)
        add([UInt8(length >> 24), UInt8((length >> 16) & 0xFF), UInt8((length >> 8) & 0xFF), UInt8(length & 0xFF)])
        add([0, 0, 0, icmpv6])
        add(message)
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }
}
