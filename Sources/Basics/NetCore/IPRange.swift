/// An inclusive range of addresses of one family: what an address pool entry denotes, whether written as a CIDR
/// (`192.0.2.0/24`) or as `first-last` (`192.0.2.10-192.0.2.20`, spaces around the dash allowed).
public struct IPRange: Sendable, Hashable, CustomStringConvertible {
    public let first: IPAddress
    public let last: IPAddress

    /// `nil` when the families differ or `last` precedes `first`.
    public init?(first: IPAddress, last: IPAddress) {
        guard first.family == last.family, first <= last else { return nil }
        self.init(unchecked: first, last)
    }

    /// The range a CIDR covers, network and broadcast addresses included (MetalLB hands those out too unless
    /// told to avoid them).
    public init(_ network: IPNetwork) {
        self.init(
            unchecked: network.address,
            IPAddress(family: network.family, numeric: network.address.numeric + (network.size - 1)))
    }

    /// Parses a CIDR or a `first-last` range. A CIDR with host bits set (`192.0.2.77/29`) denotes its network
    /// (`192.0.2.72/29`), as Go's `net.ParseCIDR` and so MetalLB read it; `maskedNetwork(_:)` tells the caller so.
    /// - Throws: `IPRangeError` describing what is wrong.
    public init(parsing text: String) throws(IPRangeError) {
        let trimmed = text.filter { $0 != " " }
        if trimmed.contains("/") {
            guard let network = IPNetwork(trimmed) else { throw IPRangeError("invalid CIDR \"\(text)\"") }
            self.init(network)
            return
        }
        let parts = trimmed.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let first = IPAddress(parts[0]), let last = IPAddress(parts[1]) else {
            throw IPRangeError("invalid address range \"\(text)\": expected a CIDR or FIRST-LAST")
        }
        guard first.family == last.family else {
            throw IPRangeError("invalid address range \"\(text)\": mixes IPv4 and IPv6")
        }
        guard first <= last else {
            throw IPRangeError("invalid address range \"\(text)\": \(first) is after \(last)")
        }
        self.init(unchecked: first, last)
    }

    /// The network a CIDR with host bits set denotes (`198.51.100.72/29` for `198.51.100.77/29`); `nil` for a
    /// CIDR without host bits, a `first-last` range or text that is not a CIDR.
    public static func maskedNetwork(_ text: String) -> IPNetwork? {
        let trimmed = text.filter { $0 != " " }
        guard let slash = trimmed.firstIndex(of: "/"), let network = IPNetwork(trimmed),
            let address = IPAddress(String(trimmed[..<slash])), address != network.address
        else { return nil }
        return network
    }

    private init(unchecked first: IPAddress, _ last: IPAddress) {
        self.first = first
        self.last = last
    }

    public var family: IPFamily { first.family }

    /// Number of addresses (saturating for a whole IPv6 space).
    public var count: UInt128 {
        let span = last.numeric - first.numeric
        return span == .max ? .max : span + 1
    }

    public func contains(_ ip: IPAddress) -> Bool {
        ip.family == family && first <= ip && ip <= last
    }

    public func overlaps(_ other: IPRange) -> Bool {
        family == other.family && first <= other.last && other.first <= last
    }

    /// The address `offset` positions after `first`, or `nil` past `last`.
    public func address(at offset: UInt128) -> IPAddress? {
        guard offset < count else { return nil }
        return IPAddress(family: family, numeric: first.numeric + offset)
    }

    public var description: String { "\(first)-\(last)" }
}

/// Why a text is not an address range.
public struct IPRangeError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
