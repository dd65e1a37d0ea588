import NetCore

/// Why a Service gets no address, precise enough to tell the user what to change. `description` is the Event
/// message.
public enum AllocationFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// No pool admits the Service (each entry: pool name and why not).
    case noPoolMatches([PoolRejection])
    /// Every admitting pool is full for the families wanted.
    case poolsExhausted([String])
    case unknownPool(String)
    case requestedIPOutsidePools(IPAddress)
    case requestedIPNotInRequestedPool(IPAddress, pool: String)
    case requestedIPTaken(IPAddress, by: String)
    case sharingConflict(IPAddress, port: ServiceRequest.Port, with: String)
    case sharingKeyMismatch(IPAddress, with: String)
    case backendMismatch(IPAddress, with: String)
    case familyUnavailable(IPFamily)
    case invalidRequest(String)

    public struct PoolRejection: Sendable, Equatable, CustomStringConvertible {
        public var pool: String
        public var reason: String

        public init(pool: String, reason: String) {
            self.pool = pool
            self.reason = reason
        }

        public var description: String { "\(pool): \(reason)" }
    }

    /// A short machine-readable cause, for metrics labels.
    public var reason: String {
        switch self {
        case .noPoolMatches: return "no_pool_matches"
        case .poolsExhausted: return "pool_exhausted"
        case .unknownPool: return "unknown_pool"
        case .requestedIPOutsidePools: return "requested_ip_outside_pools"
        case .requestedIPNotInRequestedPool: return "requested_ip_not_in_pool"
        case .requestedIPTaken: return "requested_ip_taken"
        case .sharingConflict, .sharingKeyMismatch, .backendMismatch: return "sharing_conflict"
        case .familyUnavailable: return "family_unavailable"
        case .invalidRequest: return "invalid_request"
        }
    }

    public var description: String {
        switch self {
        case .noPoolMatches(let rejections):
            if rejections.isEmpty { return "no IPAddressPool is configured" }
            return "no pool matches the service: " + rejections.map(\.description).joined(separator: "; ")
        case .poolsExhausted(let pools): return "no available IPs: pool(s) \(pools.joined(separator: ", ")) exhausted"
        case .unknownPool(let name): return "pool \"\(name)\" requested by metallb.io/address-pool does not exist"
        case .requestedIPOutsidePools(let ip): return "requested IP \(ip) is not in any pool"
        case .requestedIPNotInRequestedPool(let ip, let pool):
            return "requested IP \(ip) is not in the requested pool \"\(pool)\""
        case .requestedIPTaken(let ip, let by): return "requested IP \(ip) is already assigned to \(by)"
        case .sharingConflict(let ip, let port, let with):
            return "IP \(ip) cannot be shared with \(with): port \(port) is used by both"
        case .sharingKeyMismatch(let ip, let with):
            return "IP \(ip) is used by \(with) with a different metallb.io/allow-shared-ip key"
        case .backendMismatch(let ip, let with):
            return
                "IP \(ip) is shared with \(with), which selects different backends (externalTrafficPolicy Local needs the same selector)"
        case .familyUnavailable(let family): return "no pool admitting the service has \(family.rawValue) addresses"
        case .invalidRequest(let message): return message
        }
    }
}
