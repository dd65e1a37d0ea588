import KubeAPI
import NetCore

/// An `IPAddressPool` (metallb.io/v1beta1) after validation: the ranges it holds and who may use them.
public struct AddressPool: Sendable, Equatable {
    public var name: String
    public var ranges: [IPRange]
    /// Whether Services that name neither this pool nor one of its addresses may get addresses from it.
    public var autoAssign: Bool
    /// Skip IPv4 addresses ending in `.0` or `.255`.
    public var avoidBuggyIPs: Bool
    public var allocation: ServiceAllocation
    /// The pool object's labels (advertisements select pools by them).
    public var labels: [String: String]

    public init(
        name: String, ranges: [IPRange], autoAssign: Bool = true, avoidBuggyIPs: Bool = false,
        allocation: ServiceAllocation = ServiceAllocation(), labels: [String: String] = [:]
    ) {
        self.name = name
        self.ranges = ranges
        self.autoAssign = autoAssign
        self.avoidBuggyIPs = avoidBuggyIPs
        self.allocation = allocation
        self.labels = labels
    }

    /// Whether the pool has addresses of `family`.
    public func has(_ family: IPFamily) -> Bool {
        ranges.contains { $0.family == family }
    }

    /// Whether `ip` belongs to the pool (whether or not `avoidBuggyIPs` would skip it).
    public func contains(_ ip: IPAddress) -> Bool {
        ranges.contains { $0.contains(ip) }
    }

    /// Whether the pool may hand out `ip`: inside a range and not skipped by `avoidBuggyIPs`.
    public func offers(_ ip: IPAddress) -> Bool {
        contains(ip) && !(avoidBuggyIPs && AddressPool.isBuggy(ip))
    }

    /// IPv4 addresses ending in .0 or .255, which some consumer equipment mistakes for network or broadcast.
    public static func isBuggy(_ ip: IPAddress) -> Bool {
        guard case .v4(let v) = ip else { return false }
        let last = v & 0xFF
        return last == 0 || last == 255
    }

    /// Number of addresses of `family` the pool can hand out.
    public func capacity(_ family: IPFamily) -> UInt128 {
        var total: UInt128 = 0
        for range in ranges where range.family == family {
            total += range.count
            if avoidBuggyIPs, family == .ipv4 {
                total -= AddressPool.buggyCount(range)
            }
        }
        return total
    }

    /// How many addresses of an IPv4 range end in .0 or .255.
    private static func buggyCount(_ range: IPRange) -> UInt128 {
        let a = range.first.numeric
        let b = range.last.numeric
        // Multiples of 256 in [a, b], plus numbers one below a multiple of 256 in [a, b].
        let zeros = b / 256 - (a == 0 ? 0 : (a - 1) / 256) + (a == 0 ? 1 : 0)
        let nines = (b + 1) / 256 - a / 256
        return zeros + nines
    }
}

/// `spec.serviceAllocation`: which Services may use the pool, and its place among pools.
///
/// As in MetalLB, a pool that has a `serviceAllocation` at all (even one with only a priority, or an empty one) is
/// *pinned*: it is tried before every pool without one, so a pool meant for a namespace or for labelled Services
/// is preferred over the catch-all pools whatever their names.
public struct ServiceAllocation: Sendable, Equatable {
    /// Lower is tried first; `nil` (or 0 in the object, MetalLB's "no priority") comes after every prioritised
    /// pool.
    public var priority: Int?
    public var namespaces: [String]
    public var namespaceSelectors: [LabelSelector]
    public var serviceSelectors: [LabelSelector]
    /// Whether the pool object has `spec.serviceAllocation`: pinned pools are tried first.
    public var isPinned: Bool

    public init(
        priority: Int? = nil, namespaces: [String] = [], namespaceSelectors: [LabelSelector] = [],
        serviceSelectors: [LabelSelector] = [], isPinned: Bool? = nil
    ) {
        self.priority = priority
        self.namespaces = namespaces
        self.namespaceSelectors = namespaceSelectors
        self.serviceSelectors = serviceSelectors
        self.isPinned =
            isPinned
            ?? (priority != nil || !namespaces.isEmpty || !namespaceSelectors.isEmpty
                || !serviceSelectors.isEmpty)
    }

    /// Whether a Service in `namespace` (with the namespace's labels) and with `serviceLabels` may use the pool.
    /// Namespace names and namespace selectors are alternatives; service selectors must then also match one.
    public func admits(namespace: String, namespaceLabels: [String: String], serviceLabels: [String: String]) -> Bool {
        if !namespaces.isEmpty || !namespaceSelectors.isEmpty {
            let byName = namespaces.contains(namespace)
            let bySelector = namespaceSelectors.contains { $0.matches(namespaceLabels) }
            guard byName || bySelector else { return false }
        }
        if !serviceSelectors.isEmpty {
            guard serviceSelectors.contains(where: { $0.matches(serviceLabels) }) else { return false }
        }
        return true
    }
}
