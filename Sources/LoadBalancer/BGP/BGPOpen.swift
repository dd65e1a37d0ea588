import NetCore

/// An OPEN message (RFC 4271 §4.2) with its capabilities.
public struct BGPOpen: Sendable, Equatable {
    /// AS_TRANS (RFC 6793): the 2-octet stand-in for a 4-octet AS number.
    public static let asTrans: UInt16 = 23456
    /// The optional parameter type that carries capabilities (RFC 5492).
    static let capabilitiesParameter: UInt8 = 2

    /// The speaker's AS number: from the 4-octet AS capability when present, else the 2-octet field.
    public var asn: UInt32
    /// Proposed hold time in seconds: 0 (no keepalives) or at least 3.
    public var holdTime: UInt16
    /// BGP identifier (an IPv4 address, RFC 6286 only asks for a non-zero 32-bit value).
    public var identifier: UInt32
    public var capabilities: [BGPCapability]

    public init(asn: UInt32, holdTime: UInt16, identifier: UInt32, capabilities: [BGPCapability]) {
        self.asn = asn
        self.holdTime = holdTime
        self.identifier = identifier
        self.capabilities = capabilities
    }

    /// The families the speaker offers (IPv4 unicast when it sends no multiprotocol capability, RFC 4760 §8).
    public var families: Set<AddressFamily> {
        let offered = capabilities.compactMap { capability -> AddressFamily? in
            if case .multiprotocol(let family) = capability { return family }
            return nil
        }
        return offered.isEmpty ? [.ipv4Unicast] : Set(offered)
    }

    public var supportsFourOctetAS: Bool {
        capabilities.contains { if case .fourOctetAS = $0 { return true } else { return false } }
    }

    public var supportsRouteRefresh: Bool { capabilities.contains(.routeRefresh) }

    var body: [UInt8] {
        var out: [UInt8] = [4]
        out.append16(asn > UInt32(UInt16.max) ? Self.asTrans : UInt16(asn))
        out.append16(holdTime)
        out.append32(identifier)
        // All capabilities in one Capabilities optional parameter.
        let capabilities = self.capabilities.flatMap(\.encoded)
        if capabilities.isEmpty {
            out.append(0)
        } else {
            out +=
                [UInt8(capabilities.count + 2), Self.capabilitiesParameter, UInt8(capabilities.count)] + capabilities
        }
        return out
    }

    /// Decodes and checks an OPEN body: version 4, hold time 0 or ≥ 3, non-zero identifier, only the Capabilities
    /// optional parameter, and a 4-octet AS capability consistent with the 2-octet field.
    static func decode(_ body: ArraySlice<UInt8>) throws(BGPNotification) -> BGPOpen {
        var r = ByteReader(body, truncated: BGPNotification.badMessageLength(UInt16(body.count + 19)))
        guard try r.u8() == 4 else { throw .unsupportedVersionNumber }
        let shortAS = try r.u16()
        let holdTime = try r.u16()
        let identifier = try r.u32()
        let parametersLength = Int(try r.u8())
        guard parametersLength == r.remaining else { throw .badMessageLength(UInt16(body.count + 19)) }
        guard holdTime == 0 || holdTime >= 3 else { throw .unacceptableHoldTime }
        guard identifier != 0 else { throw .badBGPIdentifier }
        var capabilities: [BGPCapability] = []
        // A parameter running past the others has no subcode of its own: "Unspecific" (RFC 4271 §4.5).
        var p = ByteReader(r.bytes, truncated: BGPNotification(code: BGPNotification.openMessageError, subcode: 0))
        while p.remaining > 0 {
            let type = try p.u8()
            let length = Int(try p.u8())
            let value = try p.take(length)
            guard type == Self.capabilitiesParameter else { throw .unsupportedOptionalParameter }
            var c = ByteReader(value, truncated: BGPNotification.unsupportedOptionalParameter)
            while c.remaining > 0 {
                let code = try c.u8()
                let capabilityLength = Int(try c.u8())
                capabilities.append(try BGPCapability.decode(code: code, value: try c.take(capabilityLength)))
            }
        }
        var asn = UInt32(shortAS)
        for case .fourOctetAS(let wide) in capabilities {
            // RFC 6793 §4.1: the 2-octet field holds AS_TRANS, or the number itself when it fits.
            guard shortAS == asTrans || UInt32(shortAS) == wide else { throw .badPeerAS }
            asn = wide
        }
        guard asn != 0 else { throw .badPeerAS }
        return BGPOpen(asn: asn, holdTime: holdTime, identifier: identifier, capabilities: capabilities)
    }
}
