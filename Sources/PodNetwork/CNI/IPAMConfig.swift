import KubeAPI
import NetCore

/// host-local's IPAM configuration: the range sets (one address from each), the routes handed to the pod and where
/// the allocations are stored.
///
/// Pure value.
public struct IPAMConfig: Sendable, Equatable {
    public var rangeSets: [AddressRangeSet]
    public var routes: [CNIResult.RouteConfig]
    /// The store's root; the network's allocations live in `<dataDir>/<network name>`.
    public var dataDirectory: String

    public static let defaultDataDirectory = "/var/lib/cni/networks"

    public init(rangeSets: [AddressRangeSet], routes: [CNIResult.RouteConfig] = [], dataDirectory: String? = nil) {
        self.rangeSets = rangeSets
        self.routes = routes
        self.dataDirectory = dataDirectory ?? Self.defaultDataDirectory
    }

    /// Reads an `ipam` object: `ranges` (a list of range sets, each a list of `{subnet, rangeStart, rangeEnd,
    /// gateway}`), or host-local's older single-range form with those keys at the top; `routes`; `dataDir`.
    /// - Throws: `CNIError.unsupportedField` for an IPAM type other than host-local, `.invalidConfig` for anything
    ///   malformed, overlapping or missing.
    init(_ object: ConfigObject) throws(CNIError) {
        if let type = try object.string("type"), type != "host-local" {
            throw CNIError(
                .unsupportedField,
                "ipam.type \"\(type)\" is not supported: Pylon's plugin has host-local address management built in")
        }
        var sets: [AddressRangeSet] = []
        if let ranges = try object.array("ranges") {
            for (i, set) in ranges.enumerated() {
                let path = "ipam.ranges[\(i)]"
                guard let items = set.arrayValue else { throw ConfigObject.wrongType(path, "an array", set) }
                var members: [AddressRange] = []
                for (j, item) in items.enumerated() {
                    members.append(try Self.range(try ConfigObject(item, path: "\(path)[\(j)]")))
                }
                sets.append(try AddressRangeSet(members, path: path))
            }
        } else if object.has("subnet") {
            sets.append(try AddressRangeSet([try Self.range(object)], path: "ipam"))
        }
        guard !sets.isEmpty else { throw CNIError(.invalidConfig, "ipam has no ranges (and no subnet)") }
        for (i, set) in sets.enumerated() {
            for (j, other) in sets[..<i].enumerated() where set.overlaps(other) {
                throw CNIError(.invalidConfig, "ipam.ranges[\(i)] overlaps ipam.ranges[\(j)]")
            }
        }
        var routes: [CNIResult.RouteConfig] = []
        for (i, item) in (try object.array("routes") ?? []).enumerated() {
            routes.append(try CNIResult.RouteConfig(try ConfigObject(item, path: "ipam.routes[\(i)]")))
        }
        self.init(rangeSets: sets, routes: routes, dataDirectory: try object.string("dataDir"))
    }

    private static func range(_ object: ConfigObject) throws(CNIError) -> AddressRange {
        guard let subnet = try object.string("subnet") else {
            throw CNIError(.invalidConfig, "\(object.name("subnet")) is missing")
        }
        return try AddressRange(
            subnet: subnet, start: try object.string("rangeStart"), end: try object.string("rangeEnd"),
            gateway: try object.string("gateway"), path: object.path)
    }
}
