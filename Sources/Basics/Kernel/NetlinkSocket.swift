import CLinuxNet
import Glibc
import Netlink
import Synchronization

/// A netlink socket bound to one network namespace — rtnetlink (links, addresses, routes, neighbours) or netfilter
/// (nftables) — that sends `NetlinkRequest`s and reads the kernel's answers: acknowledgements, errors with their
/// extended-ACK text, multi-part dumps; or, opened with multicast `groups`, the kernel's announcements of changes.
///
/// Isolation: every method blocks the calling thread for one exchange with the kernel (which answers while it
/// handles the send; the socket's timeout bounds the wait). Calls are serialised by a lock, so the socket may be
/// shared. From async code, call it through `BlockingWork`, never on the cooperative pool directly.
public final class NetlinkSocket: Sendable {
    /// The netlink protocol the socket speaks.
    public enum Kind: Int32, Sendable {
        /// NETLINK_ROUTE.
        case route = 0
        /// NETLINK_NETFILTER (nftables).
        case netfilter = 12
    }

    /// The namespace the socket was opened in.
    public let namespace: NetworkNamespace
    private let descriptor: Int32
    private let sequence = Mutex<UInt32>(0)

    /// Opens a socket in `namespace` (entered on a thread of its own for the `socket` call only).
    /// - Parameters:
    ///   - kind: rtnetlink or netfilter.
    ///   - groups: multicast groups (`NetlinkMessage.linkGroup`, …) whose announcements `announcements()` reads.
    ///   - timeout: how long a send or receive may wait.
    /// - Throws: `NetlinkSocketError.system` when the namespace cannot be entered or the socket not opened.
    public init(
        namespace: NetworkNamespace = .current, kind: Kind = .route, groups: UInt32 = 0,
        timeout: Duration = .seconds(5)
    ) throws(NetlinkSocketError) {
        let milliseconds = Int32(
            timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let open = { () throws(KernelCallError) -> Int32 in
            let fd = pylon_netlink_request_socket(kind.rawValue, groups, milliseconds)
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
    /// - Throws: `NetlinkSocketError.refused` with the kernel's reason, or another case when the exchange failed.
    public func perform(_ request: NetlinkRequest) throws(NetlinkSocketError) {
        try exchange([request]) { _ throws(NetlinkSocketError) in false }
    }

    /// Sends independent `requests` (rtnetlink applies each on its own, in order) in datagrams of up to 64 and waits
    /// for every answer: one round trip per datagram instead of one per request.
    /// - Returns: the kernel's refusal of each request, `nil` where it was applied.
    /// - Throws: `NetlinkSocketError` when the exchange itself fails (then later requests may not have been sent).
    public func performEach(_ requests: [NetlinkRequest]) throws(NetlinkSocketError) -> [KernelError?] {
        var results: [KernelError?] = []
        results.reserveCapacity(requests.count)
        var start = 0
        while start < requests.count {
            let chunk = Array(requests[start..<min(start + 64, requests.count)])
            var refusals: [Int: KernelError] = [:]
            try exchange(chunk, refusals: &refusals) { _ throws(NetlinkSocketError) in false }
            results += chunk.indices.map { refusals[$0] }
            start += chunk.count
        }
        return results
    }

    /// Sends `requests` in one datagram, framed by `begin` and `end` (nftables' batch: all applied at once, or none),
    /// and waits for the kernel's answer to each request.
    /// - Throws: `NetlinkSocketError.refused` with the first refusal (then nothing of the batch was applied).
    public func apply(_ requests: [NetlinkRequest], begin: NetlinkRequest, end: NetlinkRequest)
        throws(NetlinkSocketError)
    {
        try exchange([begin] + requests + [end], answered: 1..<(requests.count + 1)) { _ throws(NetlinkSocketError) in
            false
        }
    }

    /// Sends a dump request and returns every message the kernel lists, across as many datagrams as it takes.
    /// - Throws: `NetlinkSocketError` when the kernel refuses or an answer cannot be read.
    public func dumpMessages(_ request: NetlinkRequest) throws(NetlinkSocketError) -> [NetlinkMessage] {
        var messages: [NetlinkMessage] = []
        try exchange([request]) { message throws(NetlinkSocketError) in
            if message.type == NetlinkMessage.done { return true }
            messages.append(
                NetlinkMessage(
                    type: message.type, flags: message.flags, sequence: message.sequence,
                    payload: ArraySlice(Array(message.payload))))
            return false
        }
        return messages
    }

    /// Sends an rtnetlink dump request and decodes every object the kernel lists.
    /// - Throws: `NetlinkSocketError` when the kernel refuses or an answer cannot be read.
    public func dump(_ request: NetlinkRequest) throws(NetlinkSocketError) -> [NetlinkEvent] {
        var events: [NetlinkEvent] = []
        for message in try dumpMessages(request) {
            do throws(NetlinkError) {
                if let event = try NetlinkEvent(message) { events.append(event) }
            } catch {
                throw .malformed(error)
            }
        }
        return events
    }

    /// Sends a request the kernel answers with one object (`RTM_GETLINK` by name) and returns it; nil when the
    /// kernel says there is none (ENODEV, ENOENT).
    /// - Throws: `NetlinkSocketError` for any other refusal or a failed exchange.
    public func query(_ request: NetlinkRequest) throws(NetlinkSocketError) -> NetlinkEvent? {
        var answer: NetlinkEvent?
        do throws(NetlinkSocketError) {
            try exchange([request]) { message throws(NetlinkSocketError) in
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
    /// - Throws: `NetlinkSocketError.overrun` when the kernel dropped announcements (dump again to catch up), or
    ///   another case when the socket fails.
    public func announcements() throws(NetlinkSocketError) -> [NetlinkEvent] {
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

    /// Datagrams up to this size fit any socket's default send buffer (`wmem_default`, 208 KiB, less overhead).
    static let defaultSendBuffer = 160 * 1024

    /// Answers that fit a default receive buffer (`rmem_default`, 208 KiB) at their buffer cost, with room to spare.
    static let answersInDefaultBuffer = 64

    /// Sets a socket buffer to at least `size` bytes: `forced` (past the system's limit, with CAP_NET_ADMIN), or
    /// else `option` (up to the limit).
    private func grow(_ forced: Int32, else option: Int32, to size: Int) {
        var value = Int32(clamping: size)
        let length = socklen_t(MemoryLayout<Int32>.size)
        if setsockopt(descriptor, SOL_SOCKET, forced, &value, length) != 0 {
            _ = setsockopt(descriptor, SOL_SOCKET, option, &value, length)
        }
    }

    /// Large enough for any datagram the kernel sends on a request socket (dump parts are at most 32 KiB).
    static let bufferSize = 64 * 1024

    /// Sends `requests` in one datagram with consecutive sequence numbers, then reads answers until the requests
    /// at `answered` (all, by default) are each acknowledged or refused, a dump ends, or `handle` returns true.
    /// Announcements and stale answers on the socket are skipped. The first refusal is thrown once all answers are
    /// in.
    private func exchange(
        _ requests: [NetlinkRequest], answered: Range<Int>? = nil,
        _ handle: (NetlinkMessage) throws(NetlinkSocketError) -> Bool
    ) throws(NetlinkSocketError) {
        var refusals: [Int: KernelError] = [:]
        try exchange(requests, answered: answered, refusals: &refusals, handle)
        if let first = refusals.keys.min() { throw .refused(refusals[first]!) }
    }

    /// `exchange`, reporting each refusal in `refusals` (by the request's index) instead of throwing it.
    private func exchange(
        _ requests: [NetlinkRequest], answered: Range<Int>? = nil, refusals: inout [Int: KernelError],
        _ handle: (NetlinkMessage) throws(NetlinkSocketError) -> Bool
    ) throws(NetlinkSocketError) {
        try sequence.withLock { (next: inout UInt32) throws(NetlinkSocketError) in
            let first = next &+ 1
            next &+= UInt32(requests.count)
            var bytes: [UInt8] = []
            for (offset, request) in requests.enumerated() { bytes += request.bytes(sequence: first &+ UInt32(offset)) }
            // A large nftables batch is one datagram: the socket's send buffer must hold it (the kernel refuses a
            // datagram larger than the buffer with EMSGSIZE), and the receive buffer every answer the kernel queues
            // while it handles the batch (each costs about a kilobyte of buffer; one that does not fit is dropped
            // and the socket reports ENOBUFS). Forced past `wmem_max`/`rmem_max` with CAP_NET_ADMIN.
            if bytes.count > Self.defaultSendBuffer {
                grow(SO_SNDBUFFORCE, else: SO_SNDBUF, to: bytes.count + 4096)
            }
            if requests.count > Self.answersInDefaultBuffer {
                grow(SO_RCVBUFFORCE, else: SO_RCVBUF, to: requests.count * 2048)
            }
            let sent = bytes.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, 0) }
            guard sent == bytes.count else {
                throw errno == EAGAIN
                    ? .timedOut : .system(KernelCallError(operation: "send a netlink request", errno: errno))
            }
            let waiting = answered ?? 0..<requests.count
            var pending = Set(waiting.map { first &+ UInt32($0) })
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
                for message in messages where pending.contains(message.sequence) {
                    if message.type == NetlinkMessage.error {
                        do throws(NetlinkError) {
                            if let error = try KernelError(decoding: message) {
                                refusals[Int(message.sequence &- first)] = error
                            }
                        } catch {
                            throw .malformed(error)
                        }
                        pending.remove(message.sequence)
                    } else if try handle(message) || message.type == NetlinkMessage.done {
                        return
                    }
                }
                if pending.isEmpty { return }
            }
            throw .timedOut
        }
    }
}
