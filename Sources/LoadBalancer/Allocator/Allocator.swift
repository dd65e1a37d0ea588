import LoadBalancerConfig
import NetCore

/// Hands out load balancer addresses from the configured pools: MetalLB's allocation rules as a pure value type.
///
/// No I/O and no clock: the controller feeds it Services and configurations and writes the results. Allocation
/// is deterministic (pools in MetalLB's order — pinned pools by priority, then the others, by name within a rank —
/// the lowest free address first) and stable (a Service that holds a valid assignment keeps it), so a restarted
/// controller that `restore`s every Service's status changes nothing.
/// An address is never given to two Services unless both carry the same `metallb.io/allow-shared-ip` key, use
/// no port twice, and select the same backends.
public struct Allocator: Sendable {
    private struct Held: Sendable {
        var assignment: Assignment
        var request: ServiceRequest
    }

    public private(set) var configuration: Configuration
    private var held: [String: Held] = [:]
    private var users: [IPAddress: Holders] = [:]
    /// Per pool range (`pool#index`): offsets below it are all in use, so searches start there.
    private var cursors: [String: UInt128] = [:]
    /// Distinct addresses in use per pool and family, kept as assignments come and go.
    private var usage: [String: [IPFamily: Int]] = [:]

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// The Service's current assignment, if any.
    public func assignment(of key: String) -> Assignment? {
        held[key]?.assignment
    }

    /// The request the Service's current assignment was last checked against, if it holds one.
    public func request(of key: String) -> ServiceRequest? {
        held[key]?.request
    }

    /// Services holding `ip`, sorted.
    public func users(of ip: IPAddress) -> [String] {
        users[ip]?.sorted ?? []
    }

    /// Number of Services holding an assignment.
    public var assignedCount: Int { held.count }

    /// Distinct addresses of `family` in use from `pool`.
    public func inUse(pool: String, family: IPFamily) -> Int {
        usage[pool]?[family] ?? 0
    }

    // MARK: Assigning

    /// Gives the Service addresses, or keeps the ones it holds when they still satisfy the request (also when
    /// the request no longer names them: removing `metallb.io/loadBalancerIPs` or `metallb.io/address-pool`, or
    /// an `autoAssign: false` pool, keeps a valid assignment, as in MetalLB). A `PreferDualStack` Service that
    /// holds one address gets one of the other family from the same pool once that pool has one, keeping the
    /// first.
    public mutating func assign(_ request: ServiceRequest) -> Result<Assignment, AllocationFailure> {
        if let current = held[request.key] {
            if validate(current.assignment.ips, pool: current.assignment.pool, for: request, ignoring: request.key)
                == nil
            {
                held[request.key]?.request = request
                guard let added = additionalAddress(for: request, holding: current.assignment) else {
                    return .success(current.assignment)
                }
                let extended = Assignment(pool: current.assignment.pool, ips: current.assignment.ips + [added])
                release(request.key)
                record(extended, request)
                return .success(extended)
            }
            release(request.key)
        }
        let result = request.requestedIPs.isEmpty ? allocateFromPools(request) : allocateRequested(request)
        if case .success(let assignment) = result { record(assignment, request) }
        return result
    }

    /// Takes over an assignment found in a Service's status (controller start): kept when still valid.
    /// - Returns: the failure that makes it invalid; the caller then calls `assign` for a new one.
    public mutating func restore(_ request: ServiceRequest, ips: [IPAddress]) -> Result<Assignment, AllocationFailure> {
        guard let first = ips.first, let pool = configuration.pool(containing: first) else {
            return .failure(.requestedIPOutsidePools(ips.first ?? .v4(0)))
        }
        if let failure = validate(ips, pool: pool.name, for: request, ignoring: request.key) {
            return .failure(failure)
        }
        release(request.key)
        let assignment = Assignment(pool: pool.name, ips: ips)
        record(assignment, request)
        return .success(assignment)
    }

    /// Frees the Service's addresses.
    public mutating func release(_ key: String) {
        guard let h = held.removeValue(forKey: key) else { return }
        for ip in h.assignment.ips {
            guard var holders = users[ip] else { continue }
            if holders.remove(key) {
                users[ip] = holders
            } else {
                users[ip] = nil
                usage[h.assignment.pool, default: [:]][ip.family, default: 0] -= 1
                lowerCursor(for: ip, pool: h.assignment.pool)
            }
        }
    }

    /// Why `ips` cannot serve `request` under the configuration in force (what other Services hold considered),
    /// or `nil` when they can: the check an assignment found in a Service's status must pass to be kept.
    public func check(_ ips: [IPAddress], for request: ServiceRequest) -> AllocationFailure? {
        guard let first = ips.first, let pool = configuration.pool(containing: first) else {
            return .requestedIPOutsidePools(ips.first ?? .v4(0))
        }
        return validate(ips, pool: pool.name, for: request, ignoring: request.key)
    }

    /// Switches to a new configuration and releases exactly the assignments it invalidates (pool gone, address
    /// no longer in a pool, Service no longer admitted). Addresses that moved to another pool by a rename or a
    /// split stay with their Service under the new pool's name, as in MetalLB.
    /// - Returns: the keys of the Services released, sorted; the caller reassigns them.
    public mutating func reconfigure(_ configuration: Configuration) -> [String] {
        self.configuration = configuration
        cursors = [:]
        var invalid: [String] = []
        var moved: [(key: String, held: Held, pool: String)] = []
        for (key, h) in held {
            guard let first = h.assignment.ips.first, let pool = configuration.pool(containing: first),
                validate(h.assignment.ips, pool: pool.name, for: h.request, ignoring: key) == nil
            else {
                invalid.append(key)
                continue
            }
            if pool.name != h.assignment.pool { moved.append((key, h, pool.name)) }
        }
        for key in invalid { release(key) }
        for m in moved {
            release(m.key)
            record(Assignment(pool: m.pool, ips: m.held.assignment.ips), m.held.request)
        }
        return invalid.sorted()
    }

    private mutating func record(_ assignment: Assignment, _ request: ServiceRequest) {
        held[request.key] = Held(assignment: assignment, request: request)
        for ip in assignment.ips {
            if var holders = users[ip] {
                holders.insert(request.key)
                users[ip] = holders
            } else {
                usage[assignment.pool, default: [:]][ip.family, default: 0] += 1
                users[ip] = Holders(request.key)
            }
        }
    }

    // MARK: Validation

    /// Why `ips` from `pool` cannot serve `request` (other holders than `ignoring` considered), or `nil`.
    func validate(_ ips: [IPAddress], pool poolName: String, for request: ServiceRequest, ignoring: String)
        -> AllocationFailure?
    {
        guard let pool = configuration.pool(named: poolName) else { return .unknownPool(poolName) }
        if let requested = request.requestedPool, requested != poolName { return .unknownPool(requested) }
        if !pool.allocation.admits(
            namespace: request.namespace, namespaceLabels: request.namespaceLabels, serviceLabels: request.labels)
        {
            return .noPoolMatches([.init(pool: poolName, reason: "the service is not admitted by serviceAllocation")])
        }
        if !request.requestedIPs.isEmpty, Set(request.requestedIPs) != Set(ips) {
            return .invalidRequest("assignment differs from the requested addresses")
        }
        let families = ips.map(\.family)
        switch request.families {
        case .single(let f):
            if families != [f] { return .familyUnavailable(f) }
        case .requireDual(let primary):
            if families.count != 2 || Set(families).count != 2 {
                return .familyUnavailable(families.first == primary ? primary.other : primary)
            }
        case .preferDual(let primary):
            if Set(families).count != families.count { return .familyUnavailable(primary.other) }
        }
        for ip in ips {
            guard pool.offers(ip) else { return .requestedIPOutsidePools(ip) }
            if let failure = sharingFailure(ip, for: request, ignoring: ignoring) { return failure }
        }
        return nil
    }

    /// Why `request` may not use `ip` alongside its current holders, or `nil`.
    private func sharingFailure(_ ip: IPAddress, for request: ServiceRequest, ignoring: String) -> AllocationFailure? {
        for other in users[ip]?.sorted ?? [] where other != ignoring {
            guard let h = held[other] else { continue }
            guard let key = request.sharingKey, !key.isEmpty, h.request.sharingKey == key else {
                if request.sharingKey == nil || h.request.sharingKey == nil {
                    return .requestedIPTaken(ip, by: other)
                }
                return .sharingKeyMismatch(ip, with: other)
            }
            if h.request.backendKey != request.backendKey { return .backendMismatch(ip, with: other) }
            if let port = request.ports.first(where: { h.request.ports.contains($0) }) {
                return .sharingConflict(ip, port: port, with: other)
            }
        }
        return nil
    }

    // MARK: Allocation

    /// The address of the other family a `PreferDualStack` Service holding one address can get from its pool.
    private mutating func additionalAddress(for request: ServiceRequest, holding assignment: Assignment)
        -> IPAddress?
    {
        guard case .preferDual = request.families, request.requestedIPs.isEmpty, assignment.ips.count == 1,
            let pool = configuration.pool(named: assignment.pool)
        else { return nil }
        let other = assignment.ips[0].family.other
        guard pool.has(other) else { return nil }
        return pick(request, pool: pool, family: other)
    }

    private func allocateRequested(_ request: ServiceRequest) -> Result<Assignment, AllocationFailure> {
        let ips = request.requestedIPs
        guard ips.count <= 2, Set(ips.map(\.family)).count == ips.count else {
            return .failure(.invalidRequest("at most one requested address per IP family may be given"))
        }
        guard let pool = configuration.pool(containing: ips[0]) else {
            return .failure(.requestedIPOutsidePools(ips[0]))
        }
        if let requested = request.requestedPool, requested != pool.name {
            guard configuration.pool(named: requested) != nil else { return .failure(.unknownPool(requested)) }
            return .failure(.requestedIPNotInRequestedPool(ips[0], pool: requested))
        }
        for ip in ips.dropFirst() where !pool.contains(ip) {
            return .failure(
                configuration.pool(containing: ip) == nil
                    ? .requestedIPOutsidePools(ip)
                    : .invalidRequest("requested addresses \(ips[0]) and \(ip) are in different pools"))
        }
        if !pool.allocation.admits(
            namespace: request.namespace, namespaceLabels: request.namespaceLabels, serviceLabels: request.labels)
        {
            return .failure(
                .noPoolMatches([.init(pool: pool.name, reason: "the service is not admitted by serviceAllocation")]))
        }
        for ip in ips {
            if !pool.offers(ip) {
                return .failure(
                    .invalidRequest("requested IP \(ip) is skipped by avoidBuggyIPs of pool \"\(pool.name)\""))
            }
            if let failure = sharingFailure(ip, for: request, ignoring: request.key) { return .failure(failure) }
        }
        switch request.families {
        case .single(let f) where ips.map(\.family) != [f]:
            return .failure(.invalidRequest("requested addresses do not match the service's IP family \(f.rawValue)"))
        case .requireDual where ips.count != 2:
            return .failure(.invalidRequest("RequireDualStack needs one requested address per family"))
        default:
            break
        }
        return .success(Assignment(pool: pool.name, ips: ips))
    }

    /// MetalLB's search: the pinned pools (those with a `serviceAllocation`) in priority order, then the others;
    /// within each group the first pool that gives every family wanted. A `PreferDualStack` Service takes the
    /// first pool of the group that gives both families, else the first that gives the primary one, else the
    /// first that gives the other one. Addresses come IPv4 first, as MetalLB writes them.
    private mutating func allocateFromPools(_ request: ServiceRequest) -> Result<Assignment, AllocationFailure> {
        let groups: [[AddressPool]]
        if let name = request.requestedPool {
            guard let pool = configuration.pool(named: name) else { return .failure(.unknownPool(name)) }
            groups = [[pool]]
        } else {
            groups = [
                configuration.pools.filter(\.allocation.isPinned),
                configuration.pools.filter { !$0.allocation.isPinned },
            ]
        }
        var wanted: [IPFamily] = [.ipv4, .ipv6]
        var preferred: IPFamily? = nil
        switch request.families {
        case .single(let f): wanted = [f]
        case .requireDual: break
        case .preferDual(let primary): preferred = primary
        }
        var rejections: [AllocationFailure.PoolRejection] = []
        var exhausted: [String] = []
        var familyMissing: IPFamily?
        for group in groups {
            var primaryOnly: Assignment?
            var otherOnly: Assignment?
            for pool in group {
                if let reason = Self.admissionFailure(of: pool, for: request) {
                    rejections.append(.init(pool: pool.name, reason: reason))
                    continue
                }
                if preferred == nil, let missing = wanted.first(where: { !pool.has($0) }) {
                    familyMissing = missing
                    rejections.append(.init(pool: pool.name, reason: "no addresses of the family the service needs"))
                    continue
                }
                let found = wanted.compactMap { pool.has($0) ? pick(request, pool: pool, family: $0) : nil }
                if found.count == wanted.count { return .success(Assignment(pool: pool.name, ips: found)) }
                if let preferred, let ip = found.first {
                    if ip.family == preferred {
                        if primaryOnly == nil { primaryOnly = Assignment(pool: pool.name, ips: [ip]) }
                    } else if otherOnly == nil {
                        otherOnly = Assignment(pool: pool.name, ips: [ip])
                    }
                    continue
                }
                exhausted.append(pool.name)
            }
            if let chosen = primaryOnly ?? otherOnly { return .success(chosen) }
        }
        if !exhausted.isEmpty { return .failure(.poolsExhausted(exhausted)) }
        // A pool admitted the Service but lacks the family: that is the actionable cause.
        if let familyMissing { return .failure(.familyUnavailable(familyMissing)) }
        return .failure(.noPoolMatches(rejections))
    }

    /// Why `pool` does not consider `request` at all (nil: it does): `autoAssign: false` without the pool being
    /// asked for by name, or the pool's `serviceAllocation` leaving the Service's namespace or labels out.
    public static func admissionFailure(of pool: AddressPool, for request: ServiceRequest) -> String? {
        if request.requestedPool == nil, !pool.autoAssign { return "autoAssign is false" }
        guard
            pool.allocation.admits(
                namespace: request.namespace, namespaceLabels: request.namespaceLabels, serviceLabels: request.labels)
        else { return "the service is not admitted by serviceAllocation" }
        return nil
    }

    /// An address already used with the same sharing key that this Service may join.
    private func shareable(_ request: ServiceRequest, pool: AddressPool, family: IPFamily) -> IPAddress? {
        guard let key = request.sharingKey, !key.isEmpty else { return nil }
        let candidates = users.keys.filter { ip in
            ip.family == family && pool.offers(ip)
                && users[ip]?.contains(where: { held[$0]?.request.sharingKey == key }) == true
        }
        return candidates.sorted().first { sharingFailure($0, for: request, ignoring: request.key) == nil }
    }

    /// An address of `family` from `pool` for `request`: one it may share, else the lowest unused one.
    private mutating func pick(_ request: ServiceRequest, pool: AddressPool, family: IPFamily) -> IPAddress? {
        shareable(request, pool: pool, family: family) ?? free(pool, family: family)
    }

    /// The lowest unused address of `family` in `pool`.
    private mutating func free(_ pool: AddressPool, family: IPFamily) -> IPAddress? {
        for (index, range) in pool.ranges.enumerated() where range.family == family {
            let cursorKey = "\(pool.name)#\(index)"
            var offset = cursors[cursorKey] ?? 0
            while offset < range.count {
                let ip = range.address(at: offset)!
                if users[ip] == nil, !(pool.avoidBuggyIPs && AddressPool.isBuggy(ip)) { return ip }
                cursors[cursorKey] = offset + 1
                offset += 1
            }
        }
        return nil
    }

    private mutating func lowerCursor(for ip: IPAddress, pool: String) {
        guard let p = configuration.pool(named: pool) else { return }
        for (index, range) in p.ranges.enumerated() where range.contains(ip) {
            let key = "\(pool)#\(index)"
            let offset = ip.numeric - range.first.numeric
            if let c = cursors[key], c > offset { cursors[key] = offset }
        }
    }
}
