/// An IPv4 or IPv6 address as a value.
///
/// Parsing accepts the textual forms Kubernetes accepts (dotted quad without leading zeros; RFC 4291 IPv6 text,
/// including `::` compression and an embedded dotted quad); formatting follows RFC 5952 for IPv6.
public enum IPAddress: Sendable, Hashable, Comparable, CustomStringConvertible {
    case v4(UInt32)
    case v6(UInt128)

    /// The address family.
    public var family: IPFamily {
        switch self {
        case .v4: return .ipv4
        case .v6: return .ipv6
        }
    }

    /// The address as an unsigned integer wide enough for either family.
    public var numeric: UInt128 {
        switch self {
        case .v4(let v): return UInt128(v)
        case .v6(let v): return v
        }
    }

    /// Builds an address of `family` from its numeric value, truncated to the family's width.
    public init(family: IPFamily, numeric: UInt128) {
        switch family {
        case .ipv4: self = .v4(UInt32(truncatingIfNeeded: numeric))
        case .ipv6: self = .v6(numeric)
        }
    }

    /// Parses an IPv4 or IPv6 address; `nil` when the text is neither.
    public init?(_ text: some StringProtocol) {
        let contiguous = text.utf8.withContiguousStorageIfAvailable(Self.parse)
        guard let parsed = contiguous ?? Array(text.utf8).withUnsafeBufferPointer(Self.parse) else { return nil }
        self = parsed
    }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        switch (lhs, rhs) {
        case (.v4(let a), .v4(let b)): return a < b
        case (.v6(let a), .v6(let b)): return a < b
        case (.v4, .v6): return true
        case (.v6, .v4): return false
        }
    }

    /// The 4 or 16 bytes of the address in network order.
    public var bytes: [UInt8] {
        switch self {
        case .v4(let v): return (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * UInt32($0))) }
        case .v6(let v): return (0..<16).map { UInt8(truncatingIfNeeded: v >> (120 - 8 * UInt128($0))) }
        }
    }

    public var description: String {
        switch self {
        case .v4(let v):
            return "\(v >> 24).\((v >> 16) & 0xFF).\((v >> 8) & 0xFF).\(v & 0xFF)"
        case .v6(let v):
            return IPAddress.formatV6(v)
        }
    }

    /// Parses the UTF-8 text of an address, byte by byte (addresses are read by the thousand: every Service's
    /// status at every controller start).
    private static func parse(_ text: UnsafeBufferPointer<UInt8>) -> IPAddress? {
        if text.contains(UInt8(ascii: ":")) {
            return parseV6(text).map(IPAddress.v6)
        }
        var end = 0
        guard let v4 = parseV4(text, from: 0, end: &end), end == text.count else { return nil }
        return .v4(v4)
    }

    /// A dotted quad at `start` (four decimal octets, no leading zeros); `end` is set to the index after it.
    private static func parseV4(_ text: UnsafeBufferPointer<UInt8>, from start: Int, end: inout Int) -> UInt32? {
        var value: UInt32 = 0
        var i = start
        for octetIndex in 0..<4 {
            if octetIndex > 0 {
                guard i < text.count, text[i] == UInt8(ascii: ".") else { return nil }
                i += 1
            }
            let first = i
            var octet: UInt32 = 0
            while i < text.count, i - first < 3, let digit = decimal(text[i]) {
                octet = octet * 10 + digit
                i += 1
            }
            let digits = i - first
            guard digits > 0, octet <= 255, digits == 1 || text[first] != UInt8(ascii: "0") else { return nil }
            if i < text.count, decimal(text[i]) != nil { return nil }  // a fourth digit
            value = value << 8 | octet
        }
        end = i
        return value
    }

    /// RFC 4291 text: up to eight groups of one to four hex digits, one `::` standing for one or more zero groups,
    /// a dotted quad in place of the last two groups.
    private static func parseV6(_ text: UnsafeBufferPointer<UInt8>) -> UInt128? {
        let colon = UInt8(ascii: ":")
        var head: UInt128 = 0  // groups before `::` (all groups when there is none)
        var headCount = 0
        var tail: UInt128 = 0  // groups after `::`
        var tailCount = 0
        var compressed = false
        var i = 0
        func append(_ group: UInt128, count: Int) -> Bool {
            if compressed {
                tail = tail << (16 * UInt128(count)) | group
                tailCount += count
            } else {
                head = head << (16 * UInt128(count)) | group
                headCount += count
            }
            return headCount + tailCount <= 8
        }
        if text.count >= 2, text[0] == colon, text[1] == colon {
            compressed = true
            i = 2
        } else if text.first == colon {
            return nil
        }
        while i < text.count {
            let first = i
            var group: UInt128 = 0
            while i < text.count, i - first < 5, let digit = hex(text[i]) {
                group = group << 4 | UInt128(digit)
                i += 1
            }
            if i < text.count, text[i] == UInt8(ascii: ".") {
                var end = 0
                guard let v4 = parseV4(text, from: first, end: &end), end == text.count,
                    append(UInt128(v4), count: 2)
                else { return nil }
                break
            }
            guard i > first, i - first <= 4, append(group, count: 1) else { return nil }
            if i == text.count { break }
            guard text[i] == colon, i + 1 < text.count else { return nil }
            i += 1
            if text[i] == colon {
                guard !compressed else { return nil }
                compressed = true
                i += 1
            }
        }
        if compressed {
            guard headCount + tailCount < 8 else { return nil }
            return head << (16 * UInt128(8 - headCount)) | tail
        }
        return headCount == 8 ? head : nil
    }

    private static func decimal(_ byte: UInt8) -> UInt32? {
        (0x30...0x39).contains(byte) ? UInt32(byte - 0x30) : nil
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x61...0x66: byte - 0x61 + 10
        case 0x41...0x46: byte - 0x41 + 10
        default: nil
        }
    }

    static func formatV6(_ v: UInt128) -> String {
        let groups = (0..<8).map { UInt16(truncatingIfNeeded: v >> (112 - 16 * UInt128($0))) }
        // Longest run of two or more zero groups, first one wins on ties (RFC 5952 section 4.2).
        var bestStart = -1
        var bestLength = 1
        var i = 0
        while i < 8 {
            if groups[i] == 0 {
                var j = i
                while j < 8, groups[j] == 0 { j += 1 }
                if j - i > bestLength {
                    bestStart = i
                    bestLength = j - i
                }
                i = j
            } else {
                i += 1
            }
        }
        func hex(_ range: Range<Int>) -> String {
            groups[range].map { String($0, radix: 16) }.joined(separator: ":")
        }
        if bestStart < 0 { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }
}

/// An IP address family.
public enum IPFamily: String, Sendable, Hashable, CaseIterable {
    case ipv4 = "IPv4"
    case ipv6 = "IPv6"

    /// Number of bits in an address of this family.
    public var bitWidth: Int { self == .ipv4 ? 32 : 128 }

    /// The other family.
    public var other: IPFamily { self == .ipv4 ? .ipv6 : .ipv4 }
}
