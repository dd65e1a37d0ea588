import CLinuxNet
import Glibc
import Kernel
import KubeClient
import Logging
import NIOCore
import Netlink

/// Follows the node's network interfaces through rtnetlink: a dump at start, then link events as the kernel sends
/// them (no polling). When the kernel drops events (ENOBUFS) or the socket fails, it reopens and dumps again, so the
/// picture is complete after every gap.
///
/// `run` delivers the full set of links after every change, on the caller's task.
struct LinkMonitor: Sendable {
    let group: any EventLoopGroup
    let logger: Logger

    private enum Event: Sendable {
        case datagram(ArraySlice<UInt8>)
        case closed
    }

    /// Calls `onLinks` with every link, keyed by index, after the first dump and after every change; returns when
    /// the task is cancelled.
    func run(_ onLinks: @Sendable ([Int32: Link]) async -> Void) async {
        var backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(5))
        while !Task.isCancelled {
            let opened = ContinuousClock.now
            do {
                try await follow(onLinks)
            } catch {
                logger.error("link monitor failed; reopening", metadata: ["error": "\(error)"])
            }
            // Reopen after a pause that grows with failures in quick succession (0.1 s … 5 s).
            if ContinuousClock.now - opened > .seconds(10) { backoff.reset() }
            try? await Task.sleep(for: backoff.next())
        }
    }

    private func follow(_ onLinks: @Sendable ([Int32: Link]) async -> Void) async throws {
        let fd = pylon_netlink_socket(NetlinkMessage.linkGroup)
        guard fd >= 0 else { throw KernelCallError(operation: "netlink socket", errno: errno) }
        let (events, continuation) = AsyncStream.makeStream(of: Event.self)
        let channel = try await DescriptorChannel(
            descriptor: fd, group: group, onDatagram: { datagram, _ in continuation.yield(.datagram(datagram)) },
            onClose: { continuation.yield(.closed) })
        defer { continuation.finish() }
        let request = NetlinkRequest.dumpLinks().bytes(sequence: 1)
        let sent = request.withUnsafeBytes { send(channel.sendDescriptor, $0.baseAddress, $0.count, 0) }
        guard sent == request.count else {
            let error = KernelCallError(operation: "netlink dump request", errno: errno)
            await channel.close()
            throw error
        }
        var links: [Int32: Link] = [:]
        var dumped = false
        await withTaskCancellationHandler {
            for await event in events {
                guard case .datagram(let datagram) = event else { break }
                do {
                    var changed = false
                    for change in try NetlinkEvent.parse(datagram) {
                        switch change {
                        case .link(let link):
                            changed = changed || links[link.index] != link
                            links[link.index] = link
                        case .linkRemoved(let link):
                            changed = changed || links.removeValue(forKey: link.index) != nil
                        case .dumpDone:
                            dumped = true
                            changed = true
                        default: continue
                        }
                    }
                    if dumped, changed { await onLinks(links) }
                } catch {
                    logger.warning("malformed netlink datagram ignored", metadata: ["error": "\(error)"])
                }
            }
        } onCancel: {
            continuation.finish()
        }
        await channel.close()
        if !Task.isCancelled { throw KernelCallError(operation: "netlink socket closed", errno: 0) }
    }
}
