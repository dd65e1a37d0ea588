import NetCore

/// An Ethernet II frame as an AF_PACKET socket delivers it (no preamble, no FCS, VLAN tags already stripped).
public struct EthernetFrame: Sendable, Equatable {
    public static let arp: UInt16 = 0x0806
    public static let ipv6: UInt16 = 0x86DD
    /// Frames shorter than this (without FCS) are padded when encoded.
    public static let minimumLength = 60

    public var destination: MACAddress
    public var source: MACAddress
    public var etherType: UInt16
    public var payload: ArraySlice<UInt8>

    public init(destination: MACAddress, source: MACAddress, etherType: UInt16, payload: ArraySlice<UInt8>) {
        self.destination = destination
        self.source = source
        self.etherType = etherType
        self.payload = payload
    }

    /// Decodes the 14-byte header; the payload keeps any padding.
    /// - Throws: `DropReason.truncated` for a frame shorter than its header.
    public init(decoding bytes: ArraySlice<UInt8>) throws(DropReason) {
        var r = ByteReader(bytes, truncated: DropReason.truncated)
        destination = MACAddress(Array(try r.take(6)))
        source = MACAddress(Array(try r.take(6)))
        etherType = try r.u16()
        payload = r.bytes
    }

    /// The frame's bytes, padded with zeros to the Ethernet minimum.
    public func encoded() -> [UInt8] {
        var out = destination.bytes + source.bytes
        out.append16(etherType)
        out += payload
        if out.count < Self.minimumLength { out += Array(repeating: 0, count: Self.minimumLength - out.count) }
        return out
    }
}
