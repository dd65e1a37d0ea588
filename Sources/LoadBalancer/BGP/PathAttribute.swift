import NetCore

/// A path attribute of an UPDATE (RFC 4271 §5, RFC 4760, RFC 1997, RFC 8092). Unknown ones are kept with their
/// flags so they can be counted or passed on.
public enum PathAttribute: Sendable, Hashable {
    public enum Origin: UInt8, Sendable { case igp = 0, egp = 1, incomplete = 2 }

    public struct ASPathSegment: Sendable, Hashable {
        public enum Kind: UInt8, Sendable { case set = 1, sequence = 2 }
        public var kind: Kind
        public var asns: [UInt32]

        public init(_ kind: Kind, _ asns: [UInt32]) {
            self.kind = kind
            self.asns = asns
        }
    }

    /// RFC 8092: global administrator and two local data parts, shown `g:l1:l2`.
    public struct LargeCommunity: Sendable, Hashable, CustomStringConvertible {
        public var global: UInt32
        public var local1: UInt32
        public var local2: UInt32

        public init(_ global: UInt32, _ local1: UInt32, _ local2: UInt32) {
            self.global = global
            self.local1 = local1
            self.local2 = local2
        }

        public var description: String { "\(global):\(local1):\(local2)" }
    }

    case origin(Origin)
    case asPath([ASPathSegment])
    case nextHop(IPAddress)
    case multiExitDiscriminator(UInt32)
    case localPreference(UInt32)
    case atomicAggregate
    case aggregator(asn: UInt32, address: IPAddress)
    /// RFC 1997 communities, each `asn << 16 | value`.
    case communities([UInt32])
    /// RFC 4760: reachable prefixes of another family, with their next hops (IPv6: global, then link-local).
    case multiprotocolReach(family: AddressFamily, nextHops: [IPAddress], prefixes: [IPNetwork])
    case multiprotocolUnreach(family: AddressFamily, prefixes: [IPNetwork])
    case largeCommunities([LargeCommunity])
    case unknown(flags: UInt8, type: UInt8, value: [UInt8])

    // MARK: Flags and types

    public static let optionalFlag: UInt8 = 0x80
    public static let transitiveFlag: UInt8 = 0x40
    public static let partialFlag: UInt8 = 0x20
    public static let extendedLengthFlag: UInt8 = 0x10

    /// Attribute type codes (IANA "BGP Path Attributes": RFC 4271, RFC 1997, RFC 4760, RFC 8092).
    public enum TypeCode {
        public static let origin: UInt8 = 1
        public static let asPath: UInt8 = 2
        public static let nextHop: UInt8 = 3
        public static let multiExitDiscriminator: UInt8 = 4
        public static let localPreference: UInt8 = 5
        public static let atomicAggregate: UInt8 = 6
        public static let aggregator: UInt8 = 7
        public static let communities: UInt8 = 8
        public static let multiprotocolReach: UInt8 = 14
        public static let multiprotocolUnreach: UInt8 = 15
        public static let largeCommunities: UInt8 = 32
    }

    public var type: UInt8 {
        switch self {
        case .origin: return TypeCode.origin
        case .asPath: return TypeCode.asPath
        case .nextHop: return TypeCode.nextHop
        case .multiExitDiscriminator: return TypeCode.multiExitDiscriminator
        case .localPreference: return TypeCode.localPreference
        case .atomicAggregate: return TypeCode.atomicAggregate
        case .aggregator: return TypeCode.aggregator
        case .communities: return TypeCode.communities
        case .multiprotocolReach: return TypeCode.multiprotocolReach
        case .multiprotocolUnreach: return TypeCode.multiprotocolUnreach
        case .largeCommunities: return TypeCode.largeCommunities
        case .unknown(_, let type, _): return type
        }
    }

    /// The optional and transitive bits each known attribute must carry.
    static func expectedFlags(_ type: UInt8) -> UInt8? {
        switch type {
        case TypeCode.origin, TypeCode.asPath, TypeCode.nextHop, TypeCode.localPreference, TypeCode.atomicAggregate:
            return transitiveFlag
        case TypeCode.multiExitDiscriminator, TypeCode.multiprotocolReach, TypeCode.multiprotocolUnreach:
            return optionalFlag
        case TypeCode.aggregator, TypeCode.communities, TypeCode.largeCommunities:
            return optionalFlag | transitiveFlag
        default: return nil
        }
    }

    // MARK: Encoding

    /// Flags, type, length (extended when over 255 bytes), value. AS numbers are 4 octets unless `fourOctetAS` is
    /// false (a peer without the capability), when larger ones become AS_TRANS.
    func encoded(fourOctetAS: Bool) -> [UInt8] {
        var value: [UInt8] = []
        var flags = Self.expectedFlags(type) ?? 0
        func asn(_ n: UInt32) {
            if fourOctetAS { value.append32(n) } else { value.append16(n > 0xFFFF ? BGPOpen.asTrans : UInt16(n)) }
        }
        switch self {
        case .origin(let origin): value = [origin.rawValue]
        case .asPath(let segments):
            for segment in segments {
                value += [segment.kind.rawValue, UInt8(segment.asns.count)]
                for n in segment.asns { asn(n) }
            }
        case .nextHop(let address): value = address.bytes
        case .multiExitDiscriminator(let n), .localPreference(let n): value.append32(n)
        case .atomicAggregate: break
        case .aggregator(let n, let address):
            asn(n)
            value += address.bytes
        case .communities(let communities): for c in communities { value.append32(c) }
        case .multiprotocolReach(let family, let nextHops, let prefixes):
            value.append16(family.afi)
            let hops = nextHops.flatMap(\.bytes)
            value += [family.safi, UInt8(hops.count)] + hops + [0]
            for prefix in prefixes { value += Self.encode(prefix) }
        case .multiprotocolUnreach(let family, let prefixes):
            value.append16(family.afi)
            value.append(family.safi)
            for prefix in prefixes { value += Self.encode(prefix) }
        case .largeCommunities(let communities):
            for c in communities {
                value.append32(c.global)
                value.append32(c.local1)
                value.append32(c.local2)
            }
        case .unknown(let f, _, let v):
            flags = f & ~Self.extendedLengthFlag
            value = v
        }
        if value.count > 255 {
            var out = [flags | Self.extendedLengthFlag, type]
            out.append16(UInt16(value.count))
            return out + value
        }
        return [flags, type, UInt8(value.count)] + value
    }

    /// A prefix as NLRI: length in bits, then just the bytes that length needs.
    static func encode(_ prefix: IPNetwork) -> [UInt8] {
        [UInt8(prefix.prefixLength)] + prefix.address.bytes.prefix((prefix.prefixLength + 7) / 8)
    }
}
