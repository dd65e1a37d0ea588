import NetCore

/// An ARP packet for IPv4 over Ethernet (RFC 826).
public struct ARPPacket: Sendable, Equatable {
    public enum Operation: UInt16, Sendable {
        case request = 1
        case reply = 2
    }

    public var operation: Operation
    public var senderMAC: MACAddress
    public var senderIP: IPAddress
    public var targetMAC: MACAddress
    public var targetIP: IPAddress

    public init(
        operation: Operation, senderMAC: MACAddress, senderIP: IPAddress, targetMAC: MACAddress, targetIP: IPAddress
    ) {
        self.operation = operation
        self.senderMAC = senderMAC
        self.senderIP = senderIP
        self.targetMAC = targetMAC
        self.targetIP = targetIP
    }

    /// Decodes an ARP payload (trailing padding ignored).
    /// - Throws: `truncated`, `arpNotEthernetIPv4` or `arpBadOperation`.
    public init(decoding bytes: ArraySlice<UInt8>) throws(DropReason) {
        var r = ByteReader(bytes, truncated: DropReason.truncated)
        let hardware = try r.u16()
        let proto = try r.u16()
        let hardwareLength = try r.u8()
        let protocolLength = try r.u8()
        guard hardware == 1, proto == 0x0800, hardwareLength == 6, protocolLength == 4 else {
            throw .arpNotEthernetIPv4
        }
        guard let operation = Operation(rawValue: try r.u16()) else { throw .arpBadOperation }
        self.operation = operation
        senderMAC = MACAddress(Array(try r.take(6)))
        senderIP = IPAddress(bytes: try r.take(4))!
        targetMAC = MACAddress(Array(try r.take(6)))
        targetIP = IPAddress(bytes: try r.take(4))!
    }

    /// The 28 bytes of the packet.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.append16(1)
        out.append16(0x0800)
        out += [6, 4]
        out.append16(operation.rawValue)
        out += senderMAC.bytes + senderIP.bytes + targetMAC.bytes + targetIP.bytes
        return out
    }

    /// The reply announcing `mac` for the address this request asks about, sent back to the asker.
    public func reply(from mac: MACAddress) -> ARPPacket {
        ARPPacket(operation: .reply, senderMAC: mac, senderIP: targetIP, targetMAC: senderMAC, targetIP: senderIP)
    }

    /// Gratuitous ARP for `ip` at `mac`: sender and target address both `ip` (RFC 5227 §3 announcement form for
    /// requests; a reply variant is sent too because some hosts only update their cache from replies).
    public static func gratuitous(_ operation: Operation, ip: IPAddress, mac: MACAddress) -> ARPPacket {
        ARPPacket(
            operation: operation, senderMAC: mac, senderIP: ip,
            targetMAC: operation == .request ? .zero : .broadcast, targetIP: ip)
    }
}
