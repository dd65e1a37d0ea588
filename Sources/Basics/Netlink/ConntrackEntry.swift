import NetCore

/// A connection tracking entry as the proxy needs it (ctnetlink, `NFNL_SUBSYS_CTNETLINK`): the reply direction's
/// source — after a destination NAT, the endpoint the connection was translated to — and its original tuple as
/// the kernel gave it, which names the entry for deletion.
///
/// Pure value. `NetlinkRequest.dumpConntrack` asks for entries, `NetlinkRequest.deleteConntrack` removes one.
public struct ConntrackEntry: Sendable, Equatable {
    /// The reply tuple's source address and port (the endpoint of a translated connection).
    public var replySource: IPAddress
    public var replySourcePort: UInt16
    /// `CTA_TUPLE_ORIG` as the kernel sent it, whole (attribute header included).
    public var originalTuple: [UInt8]
    /// Whether the connection's destination was translated (`IPS_DST_NAT`).
    public var translated: Bool

    /// The entry in a message of a conntrack dump; nil for another message or an entry without a reply source.
    /// - Throws: `NetlinkError` when the message's attributes are malformed.
    public init?(_ message: NetlinkMessage) throws(NetlinkError) {
        guard message.type == Self.newMessage, message.payload.count >= 4 else { return nil }
        let body = message.payload.dropFirst(4)
        var original: [UInt8]?
        var source: IPAddress?
        var port: UInt16?
        var status: UInt32 = 0
        var offset = body.startIndex
        for (type, value) in try NetlinkMessage.attributes(body) {
            let length = 4 + value.count
            if type == 1 { original = Array(body[offset..<(offset + length)]) }  // CTA_TUPLE_ORIG
            if type == 3, value.count == 4 {  // CTA_STATUS, big-endian
                status = value.reduce(0) { $0 << 8 | UInt32($1) }
            }
            if type == 2 {  // CTA_TUPLE_REPLY
                for (part, inner) in try NetlinkMessage.attributes(value) {
                    if part == 1 {  // CTA_TUPLE_IP
                        for (kind, bytes) in try NetlinkMessage.attributes(inner) {
                            if kind == 1, bytes.count == 4 { source = IPAddress(bytes: bytes) }  // V4_SRC
                            if kind == 3, bytes.count == 16 { source = IPAddress(bytes: bytes) }  // V6_SRC
                        }
                    }
                    if part == 2 {  // CTA_TUPLE_PROTO
                        for (kind, bytes) in try NetlinkMessage.attributes(inner) where kind == 2 && bytes.count == 2 {
                            port = UInt16(bytes[bytes.startIndex]) << 8 | UInt16(bytes[bytes.startIndex + 1])
                        }
                    }
                }
            }
            offset += NetlinkMessage.align(length)
        }
        guard let original, let source, let port else { return nil }
        replySource = source
        replySourcePort = port
        originalTuple = original
        translated = status & 0x20 != 0
    }

    /// `IPCTNL_MSG_CT_NEW` in the ctnetlink subsystem: how a dump lists entries.
    static let newMessage: UInt16 = 1 << 8 | 0
}

extension NetlinkRequest {
    /// `IPCTNL_MSG_CT_GET` as a dump of the entries whose original destination is `address` (any, when nil) and
    /// `port` with `transport` (an IP protocol number) — the kernel filters (`CTA_FILTER`, Linux 5.8 and later).
    public static func dumpConntrack(destination address: IPAddress?, port: UInt16, transport: UInt8, family: IPFamily)
        -> NetlinkRequest
    {
        var request = NetlinkRequest(
            type: 1 << 8 | 1, flags: NetlinkMessage.flagRequest | NetlinkMessage.flagDump,
            header: [family == .ipv4 ? 2 : 10, 0, 0, 0])
        request.nest(1 | 0x8000) { tuple in  // CTA_TUPLE_ORIG
            if let address {
                tuple.nest(1 | 0x8000) { $0.append(address.family == .ipv4 ? 2 : 4, address.bytes) }  // IP_V4/V6_DST
            }
            tuple.nest(2 | 0x8000) { proto in  // CTA_TUPLE_PROTO
                proto.append(1, [transport])  // CTA_PROTO_NUM
                proto.append(3, [UInt8(port >> 8), UInt8(port & 0xFF)])  // CTA_PROTO_DST_PORT
            }
        }
        // CTA_FILTER: CTA_FILTER_ORIG_FLAGS = IP_DST (when given) | PROTO_NUM | PROTO_DST_PORT, in host order.
        let flags: UInt32 = (address == nil ? 0 : 1 << 1) | 1 << 3 | 1 << 5
        request.nest(25 | 0x8000) { filter in
            filter.append(1, u32: flags)
            filter.append(2, u32: 0)
        }
        return request
    }

    /// `IPCTNL_MSG_CT_DELETE` of the entry with `entry`'s original tuple (ENOENT when it is gone already).
    public static func deleteConntrack(_ entry: ConntrackEntry, family: IPFamily) -> NetlinkRequest {
        var request = NetlinkRequest(
            type: 1 << 8 | 2, flags: NetlinkMessage.flagRequest | NetlinkMessage.flagAcknowledge,
            header: [family == .ipv4 ? 2 : 10, 0, 0, 0])
        request.appendRaw(entry.originalTuple)
        return request
    }
}
