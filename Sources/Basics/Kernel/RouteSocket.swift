import CLinuxNet
import Glibc
import Netlink
import Synchronization

/// A NETLINK_ROUTE socket bound to one network namespace: sends `NetlinkRequest`s and reads the kernel's answers
/// (acknowledgements, errors with their extended-ACK text, multi-part dumps), or, opened with multicast `groups`,
/// the kernel's announcements of changes.
///
/// Isolation: every method blocks the calling thread for one exchange with the kernel (which answers while it
/// handles the send; the socket's timeout bounds the wait). Calls are serialised by a lock, so the socket may be
/// shared. From async code, call it through `BlockingWork`, never on the cooperative pool directly.
public final class RouteSocket: Sendable {
    /// The namespace the socket was opened in.
    public let namespace: NetworkNamespace
    private let descriptor: Int32
    private let sequence = Mutex<UInt32>(0)

    /// Opens a socket in `namespace` (entered on a thread of its own for the `socket` call only).
    /// - Parameters:
    ///   - groups: multicast groups (`NetlinkMessage.linkGroup`, …) whose announcements `announcements()` reads.
    ///   - timeout: how long a send or receive may wait.
    /// - Throws: `RouteSocketError.system` when the namespace cannot be entered or the socket not opened.
    public init(
        namespace: NetworkNamespace = .current, groups: UInt32 = 0, timeout: Duration = .seconds(5)
    ) throws(RouteSocketError) {
        let milliseconds = Int32(
            timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let open = { () throws(KernelCallError) -> Int32 in
            let fd = pylon_route_socket(groups, milliseconds)
            guard fd >= 0 else { throw KernelCallError(operation: "open a netlink socket", errno: errno) }
            return fd
        }
        do {
            descriptor = namespace == .current ? try open() : try namespace.run { try open() }
        } catch let error as KernelCallError {
            throw .system(error)
        } catch {
            throw .system(KernelCallError(operation: "open a netlink socket in \(namespace)", errno: EINVAL))
        }
        self.namespace = namespace
    }

    deinit { close(descriptor) }

    /// Sends `request` and waits for the kernel's acknowledgement.
    /// - Throws: `RouteSocketError.refused` with the kernel's reason, or another case when the exchange failed.
    public func perform(_ request: NetlinkRequest) throws(RouteSocketError) {
        try exchange(request) { _ throws(RouteSocketError) in false }
    }

    /// Sends a dump request and collects every object the kernel lists, across as many datagrams as it takes.
    /// - Throws: `RouteSocketError` when the kernel refuses or an answer cannot be read.
    public func dump(_ request: NetlinkRequest) throws(RouteSocketError) -> [NetlinkEvent] {
        var events: [NetlinkEvent] = []
        try exchange(request) { message throws(RouteSocketError) in
            do throws(NetlinkError) {
                guard let event = try NetlinkEvent(message) else { return false }
                if event == .dumpDone { return true }
                events.append(event)
                return false
            } catch {
                throw .malformed(error)
            }
        }
        return events
    }

    /// Sends a request the kernel answers with one object (`RTM_GETLINK` by name) and returns it; nil when the
    /// kernel says there is none (ENODEV, ENOENT).
    /// - Throws: `RouteSocketError` for any other refusal or a failed exchange.
    public func query(_ request: NetlinkRequest) throws(RouteSocketError) -> NetlinkEvent? {
        var answer: NetlinkEvent?
        do throws(RouteSocketError) {
            try exchange(request) { message throws(RouteSocketError) in
                do throws(NetlinkError) { answer = try NetlinkEvent(message) } catch { throw .malformed(error) }
                return answer != nil
            }
        } catch .refused(let error) where error.code == KernelError.noDevice || error.code == KernelError.noEntry {
            return nil
        }
        return answer
    }

    /// Waits for the next datagram of announcements (a socket opened with `groups`) and returns its events; an
    /// empty array when none came within the socket's timeout.
    /// - Throws: `RouteSocketError.overrun` when the kernel dropped announcements (dump again to catch up), or
    ///   another case when the socket fails.
    public func announcements() throws(RouteSocketError) -> [NetlinkEvent] {
        var buffer = [UInt8](repeating: 0, count: Self.bufferSize)
        let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        if count < 0 {
            switch errno {
            case EAGAIN, EINTR: return []
            case ENOBUFS: throw .overrun
            case let code: throw .system(KernelCallError(operation: "receive netlink announcements", errno: code))
            }
        }
        do throws(NetlinkError) { return try NetlinkEvent.parse(buffer[..<count]) } catch { throw .malformed(error) }
    }

    /// Large enough for any datagram the kernel sends on a route socket (dump parts are at most 32 KiB).
    static let bufferSize = 64 * 1024

    /// Sends `request` with a fresh sequence number, then reads answers to it until the kernel acknowledges,
    /// refuses, ends a dump or `handle` returns true. Announcements and stale answers on the socket are skipped.
    private func exchange(
        _ request: NetlinkRequest, _ handle: (NetlinkMessage) throws(RouteSocketError) -> Bool
    ) throws(RouteSocketError) {
        try sequence.withLock { (next: inout UInt32) throws(RouteSocketError) in
            next &+= 1
            let number = next
            let bytes = request.bytes(sequence: number)
            let sent = bytes.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, 0) }
            guard sent == bytes.count else {
                throw errno == EAGAIN
                    ? .timedOut : .system(KernelCallError(operation: "send a netlink request", errno: errno))
            }
            var buffer = [UInt8](repeating: 0, count: Self.bufferSize)
            // Bounded: a dump of 100,000 objects takes a few thousand datagrams.
            for _ in 0..<1_000_000 {
                let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
                guard count >= 0 else {
                    if errno == EINTR { continue }
                    throw errno == EAGAIN
                        ? .timedOut : .system(KernelCallError(operation: "receive a netlink answer", errno: errno))
                }
                let messages: [NetlinkMessage]
                do throws(NetlinkError) { messages = try NetlinkMessage.split(buffer[..<count]) } catch {
                    throw .malformed(error)
                }
                for message in messages where message.sequence == number {
                    if message.type == NetlinkMessage.error {
                        let refusal: KernelError?
                        do throws(NetlinkError) { refusal = try KernelError(decoding: message) } catch {
                            throw .malformed(error)
                        }
                        if let refusal { throw .refused(refusal) }
                        return
                    }
                    if try handle(message) { return }
                    if message.type == NetlinkMessage.done { return }
                }
            }
            throw .timedOut
        }
    }
}
