import NetCore
import Synchronization

/// The addresses this node answers for, per interface index: written by the speaker's reconcile loop, read by the
/// responders on every received frame.
///
/// Thread-safe (a mutex around an immutable snapshot per interface).
final class AnnouncementTable: Sendable {
    private let table = Mutex<[Int32: Set<IPAddress>]>([:])

    func addresses(on interface: Int32) -> Set<IPAddress> {
        table.withLock { $0[interface] ?? [] }
    }

    func set(_ addresses: Set<IPAddress>, on interface: Int32) {
        table.withLock { $0[interface] = addresses.isEmpty ? nil : addresses }
    }
}
