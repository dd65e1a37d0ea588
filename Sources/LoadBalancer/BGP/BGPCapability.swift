import NetCore

/// A capability advertised in OPEN (RFC 5492). Unknown ones are kept as they came.
public enum BGPCapability: Sendable, Equatable {
    /// RFC 4760, code 1.
    case multiprotocol(AddressFamily)
    /// RFC 2918, code 2.
    case routeRefresh
    /// RFC 4724, code 64: restart state bit, restart time (seconds, 12 bits), and per family whether forwarding
    /// state was preserved.
    case gracefulRestart(restarting: Bool, time: UInt16, families: [GracefulRestartFamily])
    /// RFC 6793, code 65: the speaker's 4-octet AS number.
    case fourOctetAS(UInt32)
    case unknown(code: UInt8, value: [UInt8])

    public struct GracefulRestartFamily: Sendable, Equatable {
        public var family: AddressFamily
        public var forwardingPreserved: Bool

        public init(_ family: AddressFamily, forwardingPreserved: Bool) {
            self.family = family
            self.forwardingPreserved = forwardingPreserved
        }
    }

    /// Capability codes (IANA "Capability Codes").
    public enum Code {
        public static let multiprotocol: UInt8 = 1
        public static let routeRefresh: UInt8 = 2
        public static let gracefulRestart: UInt8 = 64
        public static let fourOctetAS: UInt8 = 65
    }

    public var code: UInt8 {
        switch self {
        case .multiprotocol: return Code.multiprotocol
        case .routeRefresh: return Code.routeRefresh
        case .gracefulRestart: return Code.gracefulRestart
        case .fourOctetAS: return Code.fourOctetAS
        case .unknown(let code, _): return code
        }
    }

    var value: [UInt8] {
        var out: [UInt8] = []
        switch self {
        case .multiprotocol(let family):
            out.append16(family.afi)
            out += [0, family.safi]
        case .routeRefresh:
            break
        case .gracefulRestart(let restarting, let time, let families):
            out.append16((restarting ? 0x8000 : 0) | (time & 0x0FFF))
            for f in families {
                out.append16(f.family.afi)
                out += [f.family.safi, f.forwardingPreserved ? 0x80 : 0]
            }
        case .fourOctetAS(let asn):
            out.append32(asn)
        case .unknown(_, let value):
            out = value
        }
        return out
    }

    /// Code, length, value.
    var encoded: [UInt8] { [code, UInt8(value.count)] + value }

    /// Decodes one capability's value; a malformed known capability is an OPEN error (RFC 5492 leaves the subcode
    /// to the capability; unsupported optional parameter is what peers send in practice).
    static func decode(code: UInt8, value: ArraySlice<UInt8>) throws(BGPNotification) -> BGPCapability {
        var r = ByteReader(value, truncated: BGPNotification.unsupportedOptionalParameter)
        switch code {
        case Code.multiprotocol:
            guard value.count == 4 else { throw .unsupportedOptionalParameter }
            let afi = try r.u16()
            _ = try r.u8()
            return .multiprotocol(AddressFamily(afi: afi, safi: try r.u8()))
        case Code.routeRefresh:
            guard value.isEmpty else { throw .unsupportedOptionalParameter }
            return .routeRefresh
        case Code.gracefulRestart:
            guard value.count >= 2, (value.count - 2) % 4 == 0 else { throw .unsupportedOptionalParameter }
            let flags = try r.u16()
            var families: [GracefulRestartFamily] = []
            while r.remaining > 0 {
                let afi = try r.u16()
                let safi = try r.u8()
                families.append(.init(AddressFamily(afi: afi, safi: safi), forwardingPreserved: try r.u8() & 0x80 != 0))
            }
            return .gracefulRestart(restarting: flags & 0x8000 != 0, time: flags & 0x0FFF, families: families)
        case Code.fourOctetAS:
            guard value.count == 4 else { throw .unsupportedOptionalParameter }
            return .fourOctetAS(try r.u32())
        default:
            return .unknown(code: code, value: Array(value))
        }
    }
}
