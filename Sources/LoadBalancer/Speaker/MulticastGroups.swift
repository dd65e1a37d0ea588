import Glibc
import Kernel
import NetCore

/// Holds this node's memberships of the solicited-node multicast groups of the IPv6 addresses it announces, so that
/// the kernel accepts those frames and tells snooping switches (MLD) to forward them here.
///
/// One IPv6 datagram socket carries every membership; a group shared by several addresses on one interface is
/// joined once and left with the last. Not thread-safe: used from the speaker's reconcile loop only.
struct MulticastGroups: ~Copyable {
    private let socket: Int32
    private var joined: [Key: Int] = [:]

    private struct Key: Hashable {
        var interface: Int32
        var group: IPAddress
    }

    /// - Throws: `KernelCallError` when the socket cannot be opened (IPv6 disabled).
    init() throws {
        socket = Glibc.socket(AF_INET6, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw KernelCallError(operation: "IPv6 socket for multicast groups", errno: errno) }
    }

    deinit { Glibc.close(socket) }

    /// Joins the solicited-node group of `ip` on `interface`.
    /// - Throws: `KernelCallError` from `setsockopt` (e.g. the interface went away).
    mutating func join(_ ip: IPAddress, on interface: Int32) throws {
        guard let group = ip.solicitedNodeMulticast else { return }
        let key = Key(interface: interface, group: group)
        if let count = joined[key] {
            joined[key] = count + 1
            return
        }
        try membership(IPV6_ADD_MEMBERSHIP, group, interface)
        joined[key] = 1
    }

    /// Leaves the group joined for `ip` on `interface` once no other address needs it. Errors (interface gone,
    /// which drops its memberships anyway) are ignored.
    mutating func leave(_ ip: IPAddress, on interface: Int32) {
        guard let group = ip.solicitedNodeMulticast else { return }
        let key = Key(interface: interface, group: group)
        guard let count = joined[key] else { return }
        if count > 1 {
            joined[key] = count - 1
            return
        }
        joined[key] = nil
        try? membership(IPV6_DROP_MEMBERSHIP, group, interface)
    }

    private func membership(_ option: Int32, _ group: IPAddress, _ interface: Int32) throws {
        var request = ipv6_mreq()
        withUnsafeMutableBytes(of: &request.ipv6mr_multiaddr) { raw in
            for (i, byte) in group.bytes.enumerated() { raw[i] = byte }
        }
        request.ipv6mr_interface = UInt32(interface)
        let result = setsockopt(socket, Int32(IPPROTO_IPV6), option, &request, socklen_t(MemoryLayout<ipv6_mreq>.size))
        guard result == 0 else { throw KernelCallError(operation: "multicast membership of \(group)", errno: errno) }
    }
}
