import NetCore
import Synchronization

/// Hands out Service cluster IPs from the service CIDR, never the same one twice.
///
/// Thread-safe. The network address and (for IPv4) the broadcast address are never handed out; the first usable
/// address is reserved for the `kubernetes` Service, as kube-apiserver does.
final class ClusterIPAllocator: Sendable {
    let network: IPNetwork
    private let used: Mutex<Set<UInt128>>

    init(network: IPNetwork) {
        self.network = network
        self.used = Mutex([])
    }

    /// The first usable address (the `kubernetes` Service's).
    var first: IPAddress { network.address(at: 1)! }

    private var usableRange: ClosedRange<UInt128> {
        let last = network.family == .ipv4 ? network.size - 2 : min(network.size - 1, UInt128(UInt64.max))
        return 1...max(1, last)
    }

    /// Reserves a specific address. Returns an error message when it is outside the range or taken.
    func reserve(_ ip: IPAddress) -> String? {
        guard let offset = network.offset(of: ip), usableRange.contains(offset) else {
            return "the provided IP (\(ip)) is not in the valid range. The range of valid IPs is \(network)"
        }
        return used.withLock { u in
            if u.contains(offset) { return "provided IP is already allocated" }
            u.insert(offset)
            return nil
        }
    }

    /// Marks an address as used without checks (rebuilding state at start-up).
    func markUsed(_ ip: IPAddress) {
        guard let offset = network.offset(of: ip) else { return }
        _ = used.withLock { $0.insert(offset) }
    }

    /// Reserves a free address, starting from a random point above the reserved low band.
    func allocate() -> IPAddress? {
        let range = usableRange
        let span = range.upperBound - range.lowerBound + 1
        var rng = SystemRandomNumberGenerator()
        let start = UInt128(UInt64.random(in: 0..<UInt64(min(span, UInt128(UInt64.max))), using: &rng))
        return used.withLock { u -> IPAddress? in
            guard UInt128(u.count) < span else { return nil }
            var i: UInt128 = 0
            while i < span {
                let offset = range.lowerBound + (start + i) % span
                if offset > 1, !u.contains(offset) {
                    u.insert(offset)
                    return network.address(at: offset)
                }
                i += 1
            }
            return nil
        }
    }

    func release(_ ip: IPAddress) {
        guard let offset = network.offset(of: ip) else { return }
        _ = used.withLock { $0.remove(offset) }
    }
}
