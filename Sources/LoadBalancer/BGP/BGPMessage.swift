import NetCore

/// A BGP-4 message (RFC 4271 §4): what goes on the wire after the 16-byte marker, the length and the type.
///
/// Pure: encoding and decoding only. Decoding throws the NOTIFICATION the receiver must send (RFC 4271 §6, revised
/// for UPDATEs by RFC 7606), so a session answers bad input exactly as the RFCs ask.
public enum BGPMessage: Sendable, Equatable {
    case open(BGPOpen)
    case update(BGPUpdate)
    case notification(BGPNotification)
    case keepalive
    /// RFC 2918 (the subtype byte of RFC 7313 is kept as 0: a plain refresh request).
    case routeRefresh(AddressFamily)

    public static let headerLength = 19
    public static let maximumLength = 4096

    /// Message type codes (RFC 4271 §4.1, RFC 2918).
    public enum TypeCode {
        public static let open: UInt8 = 1
        public static let update: UInt8 = 2
        public static let notification: UInt8 = 3
        public static let keepalive: UInt8 = 4
        public static let routeRefresh: UInt8 = 5
    }

    public var type: UInt8 {
        switch self {
        case .open: return TypeCode.open
        case .update: return TypeCode.update
        case .notification: return TypeCode.notification
        case .keepalive: return TypeCode.keepalive
        case .routeRefresh: return TypeCode.routeRefresh
        }
    }

    /// The whole message, header included. `fourOctetAS`: the session negotiated 4-octet AS numbers (UPDATEs).
    public func encoded(fourOctetAS: Bool = true) -> [UInt8] {
        var body: [UInt8]
        switch self {
        case .open(let open): body = open.body
        case .update(let update): body = update.body(fourOctetAS: fourOctetAS)
        case .notification(let n): body = [n.code, n.subcode] + n.data
        case .keepalive: body = []
        case .routeRefresh(let family):
            body = []
            body.append16(family.afi)
            body += [0, family.safi]
        }
        var out = [UInt8](repeating: 0xFF, count: 16)
        out.append16(UInt16(Self.headerLength + body.count))
        out.append(type)
        return out + body
    }

    /// Checks a message header (the first 19 bytes): all-ones marker, a length within 19…4096 that suits the type,
    /// a known type. Returns the whole message's length.
    public static func checkHeader(_ header: ArraySlice<UInt8>) throws(BGPNotification) -> Int {
        guard header.prefix(16).allSatisfy({ $0 == 0xFF }) else { throw .connectionNotSynchronized }
        var r = ByteReader(header.dropFirst(16), truncated: BGPNotification.connectionNotSynchronized)
        let length = try r.u16()
        let type = try r.u8()
        let minimum: Int
        switch type {
        case TypeCode.open: minimum = 29
        case TypeCode.update: minimum = 23
        case TypeCode.notification: minimum = 21
        case TypeCode.keepalive: minimum = 19
        case TypeCode.routeRefresh: minimum = 23
        default: throw .badMessageType(type)
        }
        let valid = type == TypeCode.keepalive ? Int(length) == 19 : (minimum...maximumLength).contains(Int(length))
        guard valid else { throw .badMessageLength(length) }
        return Int(length)
    }

    /// Decodes one complete message (header included).
    /// - Parameters:
    ///   - fourOctetAS: both ends announced the 4-octet AS capability.
    ///   - external: the peer is in another AS.
    /// - Throws: the NOTIFICATION to send.
    public static func decode(_ message: ArraySlice<UInt8>, fourOctetAS: Bool = true, external: Bool = true)
        throws(BGPNotification) -> BGPMessage
    {
        guard message.count >= headerLength else { throw .badMessageLength(UInt16(message.count)) }
        let length = try checkHeader(message.prefix(headerLength))
        guard length == message.count else { throw .badMessageLength(UInt16(truncatingIfNeeded: message.count)) }
        let body = message.dropFirst(headerLength)
        switch message[message.startIndex + 18] {
        case TypeCode.open: return .open(try BGPOpen.decode(body))
        case TypeCode.update: return .update(try BGPUpdate.decode(body, fourOctetAS: fourOctetAS, external: external))
        case TypeCode.notification:
            return .notification(
                BGPNotification(
                    code: body[body.startIndex], subcode: body[body.startIndex + 1], data: Array(body.dropFirst(2))))
        case TypeCode.keepalive: return .keepalive
        default:
            guard body.count == 4 else { throw .invalidRouteRefreshLength(Array(message)) }
            var r = ByteReader(body, truncated: BGPNotification.invalidRouteRefreshLength(Array(message)))
            let afi = try r.u16()
            _ = try r.u8()
            return .routeRefresh(AddressFamily(afi: afi, safi: try r.u8()))
        }
    }
}
