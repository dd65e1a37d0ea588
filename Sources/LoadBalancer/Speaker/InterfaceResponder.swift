import CLinuxNet
import Glibc
import Kernel
import Layer2
import Logging
import Metrics
import NIOCore
import NetCore
import Netlink
import Synchronization

/// Answers ARP requests and Neighbor Solicitations on one interface for the addresses the `AnnouncementTable`
/// lists for it, and sends gratuitous announcements.
///
/// Two packet sockets (ARP; IPv6 Neighbor Solicitations), each filtered in the kernel to frames received from the
/// wire. Replies are sent from the event loop thread that read the request, without a hop through Swift
/// concurrency. Thread-safe.
final class InterfaceResponder: Sendable {
    let index: Int32
    let name: String
    let mac: MACAddress
    private let arp: DescriptorChannel
    private let ndp: DescriptorChannel
    private let metrics: SpeakerMetrics
    private let failure: FailureFlag

    /// Whether a socket closed without being asked to (an error reading it): the responder must be replaced.
    var hasFailed: Bool { failure.raised.withLock { $0 } }

    private final class FailureFlag: Sendable {
        let raised = Mutex(false)
    }

    /// Opens the sockets. `onFailure` is called (on an event loop thread) when a socket closes on its own.
    /// - Throws: `KernelCallError` when a socket cannot be opened or bound (no CAP_NET_RAW, interface gone).
    init(
        link: Link, table: AnnouncementTable, group: any EventLoopGroup, metrics: SpeakerMetrics, logger: Logger,
        onFailure: @escaping @Sendable () -> Void
    ) async throws {
        let failure = FailureFlag()
        self.failure = failure
        let closed: @Sendable () -> Void = {
            let first = failure.raised.withLock { raised in
                defer { raised = true }
                return !raised
            }
            if first { onFailure() }
        }
        let index = link.index
        let mac = MACAddress(link.address)
        let name = link.name
        self.index = index
        self.name = name
        self.mac = mac
        self.metrics = metrics
        func open(_ ethertype: UInt16, _ filter: pylon_packet_filter) throws -> Int32 {
            let fd = pylon_packet_socket(index, ethertype, filter)
            guard fd >= 0 else { throw KernelCallError(operation: "packet socket on \(name)", errno: errno) }
            return fd
        }
        let arpFD = try open(UInt16(ETH_P_ARP), PYLON_FILTER_ARP_IN)
        let ndpFD: Int32
        do { ndpFD = try open(UInt16(ETH_P_IPV6), PYLON_FILTER_NS_IN) } catch {
            Glibc.close(arpFD)
            throw error
        }
        func handler(_ requests: Counter, _ replies: Counter) -> @Sendable (ArraySlice<UInt8>, Int32) -> Void {
            { frame, descriptor in
                requests.increment()
                switch L2Responder.respond(to: frame, mac: mac, announced: table.addresses(on: index)) {
                case .reply(let out, let ip):
                    if Self.send(out, descriptor, index) {
                        replies.increment()
                    } else {
                        metrics.sendFailures.increment()
                        logger.warning("reply not sent", metadata: ["interface": "\(name)", "ip": "\(ip)"])
                    }
                case .drop(let reason):
                    metrics.drops[reason]?.increment()
                    if reason == .conflict {
                        logger.warning(
                            "another host claims an address this node announces",
                            metadata: ["interface": "\(name)", "frame": "\(frame.prefix(42).map { $0 })"])
                    }
                }
            }
        }
        let arpChannel: DescriptorChannel
        do {
            arpChannel = try await DescriptorChannel(
                descriptor: arpFD, group: group, onDatagram: handler(metrics.arpRequests, metrics.arpReplies),
                onClose: closed)
        } catch {
            Glibc.close(ndpFD)
            throw error
        }
        do {
            ndp = try await DescriptorChannel(
                descriptor: ndpFD, group: group, onDatagram: handler(metrics.ndpRequests, metrics.ndpReplies),
                onClose: closed)
        } catch {
            await arpChannel.close()
            throw error
        }
        arp = arpChannel
    }

    /// Sends the gratuitous ARP or unsolicited Neighbor Advertisements announcing `ip` here; nothing once the
    /// sockets failed or were closed (their descriptor numbers may belong to other sockets by then).
    func announce(_ ip: IPAddress) {
        guard !hasFailed else { return }
        let ipv4 = ip.family == .ipv4
        for frame in L2Responder.announcements(of: ip, mac: mac) {
            if Self.send(frame, ipv4 ? arp.sendDescriptor : ndp.sendDescriptor, index) {
                (ipv4 ? metrics.arpGratuitous : metrics.ndpGratuitous).increment()
            } else {
                metrics.sendFailures.increment()
            }
        }
    }

    /// Closes both sockets (not a failure).
    func close() async {
        failure.raised.withLock { $0 = true }
        await arp.close()
        await ndp.close()
    }

    private static func send(_ frame: [UInt8], _ descriptor: Int32, _ index: Int32) -> Bool {
        frame.withUnsafeBytes { pylon_packet_send(descriptor, index, $0.baseAddress, UInt($0.count)) } == frame.count
    }
}
