import NetCore

/// An UPDATE message (RFC 4271 §4.3): IPv4 withdrawals, path attributes, IPv4 NLRI; other families travel in the
/// multiprotocol attributes.
public struct BGPUpdate: Sendable, Equatable {
    public var withdrawn: [IPNetwork]
    public var attributes: [PathAttribute]
    public var nlri: [IPNetwork]
    /// Set by the decoder when RFC 7606 says to "treat as withdraw": the error a pre-7606 speaker would have reset
    /// the session with. Every prefix the UPDATE announces then counts as withdrawn.
    public var treatAsWithdraw: BGPNotification?
    /// Types of the attributes the decoder dropped (RFC 7606 "attribute discard", and repeats of an attribute).
    public var discarded: [UInt8]

    public init(withdrawn: [IPNetwork] = [], attributes: [PathAttribute] = [], nlri: [IPNetwork] = []) {
        self.withdrawn = withdrawn
        self.attributes = attributes
        self.nlri = nlri
        self.treatAsWithdraw = nil
        self.discarded = []
    }

    /// Prefixes the UPDATE makes reachable (NLRI and MP_REACH_NLRI), none when treated as withdraw.
    public var announcedPrefixes: [IPNetwork] {
        treatAsWithdraw == nil ? reachable : []
    }

    /// Prefixes the UPDATE makes unreachable (withdrawn routes, MP_UNREACH_NLRI, and everything announced when
    /// treated as withdraw).
    public var withdrawnPrefixes: [IPNetwork] {
        var out = withdrawn
        for case .multiprotocolUnreach(_, let prefixes) in attributes { out += prefixes }
        if treatAsWithdraw != nil { out += reachable }
        return out
    }

    private var reachable: [IPNetwork] {
        var out = nlri
        for case .multiprotocolReach(_, _, let prefixes) in attributes { out += prefixes }
        return out
    }

    func body(fourOctetAS: Bool) -> [UInt8] {
        let withdrawnBytes = withdrawn.flatMap(PathAttribute.encode)
        let attributeBytes = attributes.flatMap { $0.encoded(fourOctetAS: fourOctetAS) }
        var out: [UInt8] = []
        out.append16(UInt16(withdrawnBytes.count))
        out += withdrawnBytes
        out.append16(UInt16(attributeBytes.count))
        out += attributeBytes
        out += nlri.flatMap(PathAttribute.encode)
        return out
    }

    /// The End-of-RIB marker of `family` (RFC 4724 §2): an empty UPDATE for IPv4 unicast, else an UPDATE whose
    /// only attribute is an MP_UNREACH_NLRI of that family without prefixes.
    public static func endOfRIB(_ family: AddressFamily) -> BGPUpdate {
        family == .ipv4Unicast
            ? BGPUpdate() : BGPUpdate(attributes: [.multiprotocolUnreach(family: family, prefixes: [])])
    }

    /// Whether this is an End-of-RIB marker.
    public var isEndOfRIB: Bool {
        guard withdrawn.isEmpty, nlri.isEmpty else { return false }
        if attributes.isEmpty { return true }
        guard attributes.count == 1, case .multiprotocolUnreach(_, let prefixes) = attributes[0] else { return false }
        return prefixes.isEmpty
    }
}
