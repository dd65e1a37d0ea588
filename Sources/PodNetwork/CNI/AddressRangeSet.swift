import NetCore

/// The ranges one address of an attachment may come from (host-local's range set: one `ranges` entry), in order.
///
/// Pure value. `candidates(after:)` gives host-local's allocation order, so Pylon and the reference plugin, sharing
/// one store, hand out the same next address.
public struct AddressRangeSet: Sendable, Equatable, CustomStringConvertible {
    public let ranges: [AddressRange]

    /// - Throws: `CNIError.invalidConfig` when the set is empty, mixes families or has overlapping ranges.
    public init(_ ranges: [AddressRange], path: String) throws(CNIError) {
        guard let first = ranges.first else { throw CNIError(.invalidConfig, "\(path) has no range") }
        for (i, range) in ranges.enumerated() {
            guard range.subnet.family == first.subnet.family else {
                throw CNIError(.invalidConfig, "\(path) mixes IPv4 and IPv6 ranges")
            }
            for other in ranges[..<i] where range.overlaps(other) {
                throw CNIError(.invalidConfig, "\(path): range \(range) overlaps \(other)")
            }
        }
        self.ranges = ranges
    }

    public var family: IPFamily { ranges[0].subnet.family }

    /// The range holding `ip`, if any.
    public func range(for ip: IPAddress) -> AddressRange? { ranges.first { $0.contains(ip) } }

    func overlaps(_ other: AddressRangeSet) -> Bool {
        ranges.contains { range in other.ranges.contains { range.overlaps($0) } }
    }

    /// host-local's description of the set: its ranges joined with commas.
    public var description: String { ranges.map(\.description).joined(separator: ",") }

    /// Every address to try, in host-local's round-robin order: from the one after `last` (the last address
    /// reserved from this set, when it is still in the set) through the end of its range, the following ranges, and
    /// around to `last` itself; without `last`, from the first range's start. Gateways are skipped.
    public func candidates(after last: IPAddress?) -> Candidates {
        Candidates(set: self, last: last.flatMap { ip in range(for: ip) != nil ? ip : nil })
    }

    /// The lazy sequence of `candidates(after:)`.
    public struct Candidates: Sequence, IteratorProtocol, Sendable {
        let set: AddressRangeSet
        private var index: Int
        private var current: IPAddress?
        private var first: IPAddress?

        init(set: AddressRangeSet, last: IPAddress?) {
            self.set = set
            self.current = last
            self.index = last.flatMap { ip in set.ranges.firstIndex { $0.contains(ip) } } ?? 0
        }

        public mutating func next() -> IPAddress? {
            // Bounded: at most one gateway per range is skipped between two answers.
            for _ in 0...set.ranges.count {
                let range = set.ranges[index]
                if let at = current, at != range.end {
                    current = IPAddress(family: at.family, numeric: at.numeric + 1)
                } else if current != nil {
                    index = (index + 1) % set.ranges.count
                    current = set.ranges[index].start
                } else {
                    current = range.start
                }
                guard let candidate = current else { return nil }
                if let first {
                    if candidate == first { return nil }
                } else {
                    first = candidate
                }
                if candidate != set.ranges[index].gateway { return candidate }
            }
            return nil
        }
    }
}
