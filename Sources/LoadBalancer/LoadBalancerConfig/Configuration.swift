import KubeAPI
import NetCore
import OrderedCollections

/// The load balancer configuration in force: validated pools and advertisements.
///
/// Built only by `Configuration.parse`, so a value always satisfies the validation rules (no overlapping pools,
/// no unknown pool references). Pure value type.
public struct Configuration: Sendable, Equatable {
    /// Pools in allocation order, as MetalLB tries them: pools with a priority (lower first), then the other
    /// pinned pools (with a `serviceAllocation`), then the pools without one; by name within each.
    public private(set) var pools: [AddressPool]
    public private(set) var l2Advertisements: [L2Advertisement]
    /// What was accepted but read differently from how it is written (a CIDR with host bits), each naming the
    /// object and field; reported as Warning Events, never a reason to refuse the configuration.
    public private(set) var warnings: [ConfigurationError]

    public init(
        pools: [AddressPool] = [], l2Advertisements: [L2Advertisement] = [], warnings: [ConfigurationError] = []
    ) {
        self.pools = pools.sorted(by: Configuration.allocationOrder)
        self.l2Advertisements = l2Advertisements.sorted { $0.name < $1.name }
        self.warnings = warnings
    }

    public func pool(named name: String) -> AddressPool? {
        pools.first { $0.name == name }
    }

    /// The pool holding `ip`, if any.
    public func pool(containing ip: IPAddress) -> AddressPool? {
        pools.first { $0.contains(ip) }
    }

    static func allocationOrder(_ a: AddressPool, _ b: AddressPool) -> Bool {
        switch (a.allocation.priority, b.allocation.priority) {
        case (let x?, let y?) where x != y: return x < y
        case (.some, nil): return true
        case (nil, .some): return false
        default:
            if a.allocation.isPinned != b.allocation.isPinned { return a.allocation.isPinned }
            return a.name < b.name
        }
    }

    /// Validates `IPAddressPool` and `L2Advertisement` objects (as stored in the API) into a configuration.
    /// - Returns: the configuration, or every problem found, each naming the object and field.
    public static func parse(pools poolObjects: [JSON], l2Advertisements l2Objects: [JSON]) -> Result<
        Configuration, ConfigurationErrors
    > {
        var errors: [ConfigurationError] = []
        var warnings: [ConfigurationError] = []
        var pools: [AddressPool] = []
        var seen = Set<String>()
        // Oldest first, so that a conflict is reported on the object that introduced it.
        for object in poolObjects.sorted(by: { $0.creationOrder < $1.creationOrder }) {
            let name = object["metadata"]?["name"]?.stringValue ?? ""
            func fail(_ field: String, _ message: String) {
                errors.append(ConfigurationError(kind: "IPAddressPool", name: name, field: field, message: message))
            }
            if name.isEmpty { fail("metadata.name", "a pool needs a name") }
            guard seen.insert(name).inserted else {
                fail("metadata.name", "duplicate pool name")
                continue
            }
            let spec = object["spec"] ?? [:]
            var ranges: [IPRange] = []
            let addresses = spec["addresses"]?.arrayValue ?? []
            if addresses.isEmpty { fail("spec.addresses", "at least one address range is required") }
            for (i, entry) in addresses.enumerated() {
                guard let text = entry.stringValue else {
                    fail("spec.addresses[\(i)]", "must be a string")
                    continue
                }
                do throws(IPRangeError) {
                    ranges.append(try IPRange(parsing: text))
                    if let network = IPRange.maskedNetwork(text) {
                        warnings.append(
                            ConfigurationError(
                                kind: "IPAddressPool", name: name, field: "spec.addresses[\(i)]",
                                message: "\(text) has host bits set; read as \(network), as MetalLB reads it"))
                    }
                } catch {
                    fail("spec.addresses[\(i)]", error.message)
                }
            }
            for i in ranges.indices {
                for j in ranges.indices where j > i && ranges[i].overlaps(ranges[j]) {
                    fail("spec.addresses", "\(ranges[i]) overlaps \(ranges[j]) in the same pool")
                }
            }
            var allocation = ServiceAllocation()
            if let sa = spec["serviceAllocation"], sa != .null {
                allocation.isPinned = true
                if let p = sa["priority"] {
                    if let v = p.intValue {
                        allocation.priority = v == 0 ? nil : Int(v)
                    } else {
                        fail("spec.serviceAllocation.priority", "must be an integer")
                    }
                }
                allocation.namespaces = (sa["namespaces"]?.arrayValue ?? []).compactMap(\.stringValue)
                for (i, namespace) in allocation.namespaces.enumerated()
                where allocation.namespaces[..<i].contains(namespace) {
                    fail("spec.serviceAllocation.namespaces[\(i)]", "duplicate namespace \"\(namespace)\"")
                }
                allocation.namespaceSelectors = selectors(
                    sa["namespaceSelectors"], "spec.serviceAllocation.namespaceSelectors"
                ) { fail($0, $1) }
                allocation.serviceSelectors = selectors(
                    sa["serviceSelectors"], "spec.serviceAllocation.serviceSelectors"
                ) { fail($0, $1) }
            }
            var labels: [String: String] = [:]
            for (k, v) in object["metadata"]?["labels"]?.objectValue ?? [:] { labels[k] = v.stringValue ?? "" }
            pools.append(
                AddressPool(
                    name: name, ranges: ranges, autoAssign: spec["autoAssign"]?.boolValue ?? true,
                    avoidBuggyIPs: spec["avoidBuggyIPs"]?.boolValue ?? false, allocation: allocation, labels: labels))
        }
        // Overlaps between pools: an address must belong to one pool only.
        for i in pools.indices {
            for j in pools.indices where j > i {
                for a in pools[i].ranges {
                    for b in pools[j].ranges where a.overlaps(b) {
                        errors.append(
                            ConfigurationError(
                                kind: "IPAddressPool", name: pools[j].name, field: "spec.addresses",
                                message: "\(b) overlaps \(a) of pool \"\(pools[i].name)\""))
                    }
                }
            }
        }
        var advertisements: [L2Advertisement] = []
        let poolNames = Set(pools.map(\.name))
        for object in l2Objects {
            let name = object["metadata"]?["name"]?.stringValue ?? ""
            func fail(_ field: String, _ message: String) {
                errors.append(ConfigurationError(kind: "L2Advertisement", name: name, field: field, message: message))
            }
            let spec = object["spec"] ?? [:]
            let names = (spec["ipAddressPools"]?.arrayValue ?? []).compactMap(\.stringValue)
            for (i, pool) in names.enumerated() {
                if !poolNames.contains(pool) { fail("spec.ipAddressPools[\(i)]", "pool \"\(pool)\" does not exist") }
                if names[..<i].contains(pool) { fail("spec.ipAddressPools[\(i)]", "duplicate pool \"\(pool)\"") }
            }
            advertisements.append(
                L2Advertisement(
                    name: name, pools: names,
                    poolSelectors: selectors(spec["ipAddressPoolSelectors"], "spec.ipAddressPoolSelectors") {
                        fail($0, $1)
                    },
                    nodeSelectors: selectors(spec["nodeSelectors"], "spec.nodeSelectors") { fail($0, $1) },
                    serviceSelectors: selectors(spec["serviceSelectors"], "spec.serviceSelectors") { fail($0, $1) },
                    interfaces: (spec["interfaces"]?.arrayValue ?? []).compactMap(\.stringValue)))
        }
        if !errors.isEmpty { return .failure(ConfigurationErrors(errors: errors)) }
        return .success(Configuration(pools: pools, l2Advertisements: advertisements, warnings: warnings))
    }

    /// Reads a list of label selectors, reporting each bad or repeated one through `fail(field, message)` (MetalLB
    /// refuses a selector given twice).
    static func selectors(_ json: JSON?, _ field: String, _ fail: (String, String) -> Void) -> [LabelSelector] {
        var result: [LabelSelector] = []
        for (i, entry) in (json?.arrayValue ?? []).enumerated() {
            do throws(SelectorError) {
                let selector = try LabelSelector(json: entry)
                if result.contains(selector) { fail("\(field)[\(i)]", "duplicate selector \(selector)") }
                result.append(selector)
            } catch {
                fail("\(field)[\(i)]", error.message)
            }
        }
        return result
    }
}

/// One validation problem, naming the object and field.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var kind: String
    public var name: String
    public var field: String
    public var message: String

    public var description: String { "\(kind) \"\(name)\": \(field): \(message)" }
}

/// Every problem of an invalid configuration; `description` is the `errorSummary` users see.
public struct ConfigurationErrors: Error, Sendable, Equatable, CustomStringConvertible {
    public var errors: [ConfigurationError]
    public var description: String { errors.map(\.description).joined(separator: "; ") }
}
