import Kernel
import Logging
import Netlink
import Processes
import Synchronization

/// Follows rtnetlink announcements of links, neighbours and routes in one namespace on a thread of its own and calls
/// `onChange` when something was removed or a link changed (or announcements were lost), so the overlay repairs
/// drift within moments instead of at the next periodic check.
///
/// Thread-safe. `stop()` ends the thread within the socket's timeout.
final class KernelWatcher: Sendable {
    private let stopped = Mutex(false)

    /// Starts watching.
    /// - Throws: `NetlinkSocketError` when the socket cannot be opened.
    init(namespace: NetworkNamespace, logger: Logger, onChange: @escaping @Sendable () -> Void)
        throws(NetlinkSocketError)
    {
        let socket = try NetlinkSocket(
            namespace: namespace,
            groups: NetlinkMessage.linkGroup | NetlinkMessage.neighbourGroup | NetlinkMessage.ipv4RouteGroup
                | NetlinkMessage.ipv6RouteGroup,
            timeout: .milliseconds(250))
        BlockingWork.detach { [self] in
            while !stopped.withLock({ $0 }) {
                do throws(NetlinkSocketError) {
                    let events = try socket.announcements()
                    if events.contains(where: Self.matters) { onChange() }
                } catch .overrun {
                    onChange()
                } catch {
                    logger.warning(
                        "netlink announcements failed; the periodic check still runs",
                        metadata: ["error": "\(error)"])
                    return
                }
            }
        }
    }

    func stop() { stopped.withLock { $0 = true } }

    private static func matters(_ event: NetlinkEvent) -> Bool {
        switch event {
        case .linkRemoved, .routeRemoved, .neighbourRemoved, .link: true
        default: false
        }
    }
}
