/// Whether the VXLAN devices keep transmit checksum offload. Some kernels (before 5.7, and vendor kernels with the
/// fix lost) and VXLAN endpoints behind NAT send tunnelled packets whose UDP checksum is wrong, so the receiver drops
/// them (flannel #1279, K3s #2013); turning the offload off (`ethtool -K flannel.1 tx-checksum-ip-generic off`)
/// avoids that, and costs throughput everywhere else (software checksums and segmentation: about 4× less here).
///
/// Pure value.
public enum ChecksumOffload: String, Sendable, CaseIterable {
    /// Off where the bug is known to bite (a kernel before 5.7, or this node's published address is not on its
    /// interface: NAT); kept otherwise.
    case auto
    /// Always kept.
    case on
    /// Always off (the workaround everywhere).
    case off

    /// Whether to keep the offload on a kernel of release `kernel` (`uname -r`, such as `6.18.44-fc-v1300`), with
    /// `natted` saying the published address differs from the underlay's; and why, for the log.
    public func keeps(kernel: String, natted: Bool) -> (keep: Bool, reason: String) {
        switch self {
        case .on: return (true, "--vxlan-checksum-offload=on")
        case .off: return (false, "--vxlan-checksum-offload=off")
        case .auto:
            let numbers = kernel.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
            let major = numbers.first ?? 0
            let minor = numbers.count > 1 ? numbers[1] : 0
            if (major, minor) < (5, 7) {
                return (false, "kernel \(kernel) predates the VXLAN checksum fix of 5.7 (flannel #1279, K3s #2013)")
            }
            if natted {
                return (false, "this node's published address is not on its interface (NAT; flannel #1929)")
            }
            return (true, "kernel \(kernel) has the VXLAN checksum fix and the node is not behind NAT")
        }
    }
}
