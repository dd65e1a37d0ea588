import NetCore

extension BGPUpdate {
    /// Decodes an UPDATE body with the revised error handling of RFC 7606: errors that leave the message's
    /// structure intact mark it `treatAsWithdraw` or drop the attribute (`discarded`); only errors that make the
    /// rest unreadable or that the RFCs keep fatal throw the NOTIFICATION that resets the session.
    /// - Parameters:
    ///   - fourOctetAS: both speakers announced the 4-octet AS capability (AS_PATH and AGGREGATOR carry 4-octet
    ///     numbers).
    ///   - external: the peer is in another AS (a LOCAL_PREF from it is discarded).
    static func decode(_ body: ArraySlice<UInt8>, fourOctetAS: Bool, external: Bool) throws(BGPNotification)
        -> BGPUpdate
    {
        var r = ByteReader(body, truncated: BGPNotification.malformedAttributeList)
        let withdrawnBytes = try r.take(Int(try r.u16()))
        let attributeBytes = try r.take(Int(try r.u16()))
        var update = BGPUpdate()
        update.withdrawn = try decodePrefixes(withdrawnBytes, family: .ipv4)
        update.nlri = try decodePrefixes(r.bytes, family: .ipv4)
        var decoder = AttributeDecoder(fourOctetAS: fourOctetAS, external: external)
        try decoder.decode(attributeBytes)
        update.attributes = decoder.attributes
        update.discarded = decoder.discarded
        update.treatAsWithdraw = decoder.treatAsWithdraw
        // Well-known mandatory attributes (RFC 4271 §5, RFC 4760 §3): only when something is announced.
        let hasReach = update.attributes.contains { $0.type == PathAttribute.TypeCode.multiprotocolReach }
        if update.treatAsWithdraw == nil, !update.nlri.isEmpty || hasReach {
            let present = Set(update.attributes.map(\.type))
            let required =
                [PathAttribute.TypeCode.origin, PathAttribute.TypeCode.asPath]
                + (update.nlri.isEmpty ? [] : [PathAttribute.TypeCode.nextHop])
            if let missing = required.first(where: { !present.contains($0) }) {
                update.treatAsWithdraw = .missingWellKnownAttribute(missing)
            }
        }
        return update
    }

    /// NLRI of `family`: a bit length and the bytes it needs, repeated. Any inconsistency is an Invalid Network
    /// Field (RFC 7606 §5.3: the session is reset, since the prefixes cannot be known).
    static func decodePrefixes(_ bytes: ArraySlice<UInt8>, family: IPFamily) throws(BGPNotification) -> [IPNetwork] {
        var r = ByteReader(bytes, truncated: BGPNotification.invalidNetworkField)
        var prefixes: [IPNetwork] = []
        while r.remaining > 0 {
            let length = Int(try r.u8())
            guard length <= family.bitWidth else { throw .invalidNetworkField }
            var address = Array(try r.take((length + 7) / 8))
            address += [UInt8](repeating: 0, count: family.bitWidth / 8 - address.count)
            guard let ip = IPAddress(bytes: address), let prefix = IPNetwork(address: ip, prefixLength: length) else {
                throw .invalidNetworkField
            }
            prefixes.append(prefix)
        }
        return prefixes
    }
}

/// Reads the path attributes of one UPDATE, applying RFC 7606 per attribute.
struct AttributeDecoder {
    let fourOctetAS: Bool
    let external: Bool
    var attributes: [PathAttribute] = []
    var discarded: [UInt8] = []
    var treatAsWithdraw: BGPNotification?
    private var seen: Set<UInt8> = []

    init(fourOctetAS: Bool, external: Bool) {
        self.fourOctetAS = fourOctetAS
        self.external = external
    }

    private mutating func withdraw(_ reason: BGPNotification) {
        if treatAsWithdraw == nil { treatAsWithdraw = reason }
    }

    mutating func decode(_ bytes: ArraySlice<UInt8>) throws(BGPNotification) {
        var r = ByteReader(bytes, truncated: BGPNotification.malformedAttributeList)
        while r.remaining > 0 {
            let start = r.bytes.startIndex
            guard r.remaining >= 3 else {
                // RFC 7606 §4: an attribute header cut short leaves the rest unreadable: treat as withdraw.
                return withdraw(.malformedAttributeList)
            }
            let flags = try r.u8()
            let type = try r.u8()
            let extended = flags & PathAttribute.extendedLengthFlag != 0
            guard r.remaining >= (extended ? 2 : 1) else { return withdraw(.malformedAttributeList) }
            let length = extended ? Int(try r.u16()) : Int(try r.u8())
            guard r.remaining >= length else {
                // The length runs past the attributes: nothing after can be trusted (RFC 7606 §4).
                return withdraw(.attributeLengthError(Array(bytes[start...])))
            }
            let value = try r.take(length)
            let whole = Array(bytes[start..<r.bytes.startIndex])
            let multiprotocol =
                type == PathAttribute.TypeCode.multiprotocolReach || type == PathAttribute.TypeCode.multiprotocolUnreach
            guard !seen.contains(type) else {
                // RFC 7606 §3(g): a repeated MP attribute resets the session; other repeats are dropped.
                if multiprotocol { throw .malformedAttributeList }
                discarded.append(type)
                continue
            }
            seen.insert(type)
            if let expected = PathAttribute.expectedFlags(type),
                flags & (PathAttribute.optionalFlag | PathAttribute.transitiveFlag) != expected
            {
                if multiprotocol { throw .attributeFlagsError(whole) }
                if type == PathAttribute.TypeCode.atomicAggregate || type == PathAttribute.TypeCode.aggregator {
                    discarded.append(type)
                } else {
                    withdraw(.attributeFlagsError(whole))
                }
                continue
            }
            try decodeValue(type: type, flags: flags, value: value, whole: whole)
        }
    }

    private mutating func decodeValue(type: UInt8, flags: UInt8, value: ArraySlice<UInt8>, whole: [UInt8])
        throws(BGPNotification)
    {
        var r = ByteReader(value, truncated: BGPNotification.attributeLengthError(whole))
        switch type {
        case PathAttribute.TypeCode.origin:
            guard value.count == 1 else { return withdraw(.attributeLengthError(whole)) }
            guard let origin = PathAttribute.Origin(rawValue: try r.u8()) else {
                return withdraw(.invalidOrigin(whole))
            }
            attributes.append(.origin(origin))
        case PathAttribute.TypeCode.asPath:
            guard let segments = decodeASPath(value) else { return withdraw(.malformedASPath) }
            attributes.append(.asPath(segments))
        case PathAttribute.TypeCode.nextHop:
            guard value.count == 4, let address = IPAddress(bytes: Array(value)) else {
                return withdraw(.attributeLengthError(whole))
            }
            // 0.0.0.0, multicast and class E cannot be next hops (RFC 4271 §6.3; RFC 7606 §7.3: withdraw).
            guard let first = value.first, address.numeric != 0, first < 224 else {
                return withdraw(.invalidNextHop(whole))
            }
            attributes.append(.nextHop(address))
        case PathAttribute.TypeCode.multiExitDiscriminator, PathAttribute.TypeCode.localPreference:
            guard value.count == 4 else { return withdraw(.attributeLengthError(whole)) }
            let n = try r.u32()
            if type == PathAttribute.TypeCode.localPreference, external {
                discarded.append(type)
                return
            }
            attributes.append(
                type == PathAttribute.TypeCode.multiExitDiscriminator ? .multiExitDiscriminator(n) : .localPreference(n)
            )
        case PathAttribute.TypeCode.atomicAggregate:
            guard value.isEmpty else { return discarded.append(type) }
            attributes.append(.atomicAggregate)
        case PathAttribute.TypeCode.aggregator:
            guard value.count == (fourOctetAS ? 8 : 6) else { return discarded.append(type) }
            let asn = fourOctetAS ? try r.u32() : UInt32(try r.u16())
            attributes.append(.aggregator(asn: asn, address: IPAddress(bytes: Array(try r.take(4)))!))
        case PathAttribute.TypeCode.communities:
            guard !value.isEmpty, value.count % 4 == 0 else { return withdraw(.optionalAttributeError(whole)) }
            var communities: [UInt32] = []
            while r.remaining > 0 { communities.append(try r.u32()) }
            attributes.append(.communities(communities))
        case PathAttribute.TypeCode.multiprotocolReach, PathAttribute.TypeCode.multiprotocolUnreach:
            // RFC 4760 §7 / RFC 7606 §7.11: a malformed multiprotocol attribute resets the session.
            guard let attribute = decodeMultiprotocol(type: type, value) else { throw .optionalAttributeError(whole) }
            attributes.append(attribute)
        case PathAttribute.TypeCode.largeCommunities:
            guard !value.isEmpty, value.count % 12 == 0 else { return withdraw(.optionalAttributeError(whole)) }
            var communities: [PathAttribute.LargeCommunity] = []
            while r.remaining > 0 { communities.append(.init(try r.u32(), try r.u32(), try r.u32())) }
            attributes.append(.largeCommunities(communities))
        default:
            // An unknown well-known attribute cannot be ignored (RFC 4271 §6.3); unknown optional ones are kept.
            guard flags & PathAttribute.optionalFlag != 0 else { throw .unrecognizedWellKnownAttribute(whole) }
            // The Extended Length bit is framing, not a property of the attribute: encoding sets it by length.
            attributes.append(
                .unknown(flags: flags & ~PathAttribute.extendedLengthFlag, type: type, value: Array(value)))
        }
    }

    /// Segments of AS_SET or AS_SEQUENCE with at least one AS each, filling the value exactly; nil if malformed.
    private func decodeASPath(_ value: ArraySlice<UInt8>) -> [PathAttribute.ASPathSegment]? {
        var r = ByteReader(value, truncated: BGPNotification.malformedASPath)
        var segments: [PathAttribute.ASPathSegment] = []
        do {
            while r.remaining > 0 {
                guard let kind = PathAttribute.ASPathSegment.Kind(rawValue: try r.u8()) else { return nil }
                let count = Int(try r.u8())
                guard count > 0 else { return nil }
                var asns: [UInt32] = []
                for _ in 0..<count { asns.append(fourOctetAS ? try r.u32() : UInt32(try r.u16())) }
                segments.append(.init(kind, asns))
            }
        } catch {
            return nil
        }
        return segments
    }

    /// MP_REACH_NLRI / MP_UNREACH_NLRI of IPv4 or IPv6 unicast (other families are kept as unknown attributes).
    private func decodeMultiprotocol(type: UInt8, _ value: ArraySlice<UInt8>) -> PathAttribute? {
        var r = ByteReader(value, truncated: BGPNotification.malformedAttributeList)
        do {
            let family = AddressFamily(afi: try r.u16(), safi: try r.u8())
            let ipFamily: IPFamily
            switch family {
            case .ipv4Unicast: ipFamily = .ipv4
            case .ipv6Unicast: ipFamily = .ipv6
            default:
                return .unknown(flags: PathAttribute.optionalFlag, type: type, value: Array(value))
            }
            if type == PathAttribute.TypeCode.multiprotocolUnreach {
                return .multiprotocolUnreach(
                    family: family, prefixes: try BGPUpdate.decodePrefixes(r.bytes, family: ipFamily))
            }
            let hopsLength = Int(try r.u8())
            let hops = try r.take(hopsLength)
            _ = try r.u8()  // reserved
            let width = ipFamily.bitWidth / 8
            guard hopsLength > 0, hopsLength % width == 0, hopsLength <= 2 * width else { return nil }
            let nextHops = stride(from: hops.startIndex, to: hops.endIndex, by: width).compactMap {
                IPAddress(bytes: Array(hops[$0..<$0 + width]))
            }
            return .multiprotocolReach(
                family: family, nextHops: nextHops, prefixes: try BGPUpdate.decodePrefixes(r.bytes, family: ipFamily))
        } catch {
            return nil
        }
    }
}
