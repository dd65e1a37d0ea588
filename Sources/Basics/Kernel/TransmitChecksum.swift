import CLinuxNet
import Glibc

/// Transmit checksum offload of a network interface (`ethtool -K DEV tx off`, which includes
/// `tx-checksum-ip-generic`): the workaround for VXLAN devices whose offloaded checksums come out wrong (flannel
/// #1279, K3s #2013), at the price of doing checksums (and segmentation) in software.
///
/// The setting belongs to the interface's network namespace: call it inside `NetworkNamespace.run` for another's.
public enum TransmitChecksum {
    /// Turns the offload of `interface` on or off; returns whether it was on.
    /// - Throws: `KernelCallError` naming the interface (ENODEV: no such interface; EOPNOTSUPP: the driver cannot).
    @discardableResult
    public static func set(_ interface: String, enabled: Bool) throws(KernelCallError) -> Bool {
        var was: Int32 = 0
        guard pylon_set_tx_checksum(interface, enabled ? 1 : 0, &was) == 0 else {
            throw KernelCallError(
                operation: "turn \(enabled ? "on" : "off") transmit checksum offload of \(interface)", errno: errno)
        }
        return was != 0
    }
}
