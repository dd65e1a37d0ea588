import NetCore
import Synchronization

/// Hands out per-node pod CIDRs of one family from the cluster CIDR, as kube-controller-manager's range allocator
/// does: subnets of a fixed prefix length, handed out round robin (the first node gets the first subnet, the next
/// node the next one; a released subnet is handed out again only once the others have been), never one twice.
///
/// Thread-safe.
final class PodCIDRAllocator: Sendable {
    /// The cluster CIDR of this family (`--cluster-cidr`).
    let network: IPNetwork
    /// The prefix length of each node's subnet (`--node-cidr-mask-size-ipv4`/`-ipv6`).
    let subnetLength: Int
    private let state: Mutex<State>

    private struct State {
        var used: Set<UInt128> = []
        /// Where the next round-robin search starts.
        var next: UInt128 = 0
    }

    /// - Precondition: `subnetLength` lies between the network's prefix length and the family's width, and the
    ///   network holds at most 2^16 subnets (checked by `PodNetworks.parse`).
    init(network: IPNetwork, subnetLength: Int) {
        precondition(subnetLength >= network.prefixLength && subnetLength <= network.family.bitWidth)
        precondition(subnetLength - network.prefixLength <= 16)
        self.network = network
        self.subnetLength = subnetLength
        self.state = Mutex(State())
    }

    /// How many node subnets the cluster CIDR holds.
    var capacity: UInt128 { UInt128(1) << (subnetLength - network.prefixLength) }

    /// How many are handed out.
    var usedCount: Int { state.withLock { $0.used.count } }

    private var subnetShift: Int { network.family.bitWidth - subnetLength }

    private func subnet(at index: UInt128) -> IPNetwork {
        IPNetwork(address: network.address(at: index << subnetShift)!, prefixLength: subnetLength)!
    }

    /// The subnet indices `cidr` covers, `nil` when it does not lie inside the cluster CIDR.
    private func indices(of cidr: IPNetwork) -> ClosedRange<UInt128>? {
        guard cidr.family == network.family, cidr.prefixLength >= network.prefixLength,
            let offset = network.offset(of: cidr.address)
        else { return nil }
        let first = offset >> subnetShift
        let count = cidr.prefixLength >= subnetLength ? 1 : UInt128(1) << (subnetLength - cidr.prefixLength)
        return first...(first + count - 1)
    }

    /// Marks `cidr` (a node's existing pod CIDR) as used. Returns an error message when it lies outside the
    /// cluster CIDR, in kube-controller-manager's words.
    func occupy(_ cidr: IPNetwork) -> String? {
        guard let range = indices(of: cidr) else {
            return "cidr \(cidr) is out the range of cluster cidr \(network)"
        }
        state.withLock { s in for i in range { s.used.insert(i) } }
        return nil
    }

    /// Hands out the next free subnet, `nil` when every one is used.
    func allocate() -> IPNetwork? {
        let span = capacity
        let index = state.withLock { s -> UInt128? in
            guard UInt128(s.used.count) < span else { return nil }
            var i: UInt128 = 0
            while i < span {
                let candidate = (s.next + i) % span
                if !s.used.contains(candidate) {
                    s.used.insert(candidate)
                    s.next = (candidate + 1) % span
                    return candidate
                }
                i += 1
            }
            return nil
        }
        return index.map(subnet(at:))
    }

    /// Frees `cidr`; nothing when it lies outside the cluster CIDR.
    func release(_ cidr: IPNetwork) {
        guard let range = indices(of: cidr) else { return }
        state.withLock { s in for i in range { s.used.remove(i) } }
    }
}
