import BGP
import CLinuxNet
import CoreMetrics
import Logging
import NIOCore
import NIOPosix
import NetCore
import ServiceLifecycle
import Synchronization

/// One BGP session to a router over TCP: runs `BGPSession` (the pure state machine) on a connection, keeps the
/// router's view equal to the routes given to `advertise` (only the differences are sent once established; all
/// of them again after a reconnect or a ROUTE-REFRESH), and counts what the router sends without installing it.
///
/// Isolation: a `Service`; `advertise` and the read-only properties are thread-safe. On graceful shutdown it sends
/// Cease / Administrative Shutdown and closes. Connection failures are retried by the state machine with back-off;
/// they are logged, never thrown.
public final class BGPPeer: Service, Sendable {
    /// Where and how to connect. Its description names only the address and port (never the password).
    public struct Endpoint: Sendable, Equatable, CustomStringConvertible {
        public var address: String
        public var port: Int
        /// Local address to connect from (nil: the kernel's choice).
        public var sourceAddress: String?
        public var connectTimeout: Duration
        /// TCP-MD5 key (RFC 2385, at most 80 bytes): every segment of the session is signed with it.
        public var password: [UInt8]?
        /// TTL (hop limit) of outgoing packets; nil leaves the system default.
        public var ttl: Int?

        public init(
            address: String, port: Int = 179, sourceAddress: String? = nil, connectTimeout: Duration = .seconds(5),
            password: [UInt8]? = nil, ttl: Int? = nil
        ) {
            self.address = address
            self.port = port
            self.sourceAddress = sourceAddress
            self.connectTimeout = connectTimeout
            self.password = password
            self.ttl = ttl
        }

        public var description: String { "\(address):\(port)" }
    }

    /// What the session is doing, for status, metrics and tests.
    public struct Status: Sendable, Equatable {
        public var state: BGPSession.State = .idle
        public var updatesSent = 0
        public var updatesReceived = 0
        /// Prefixes the router currently announces to us (counted, never installed).
        public var prefixesReceived = 0
        /// Prefixes the router announced beyond `maximumReceivedPrefixes`, not tracked (since the session began).
        public var prefixesIgnored = 0
        public var prefixesAdvertised = 0
        public var lastError: String?
    }

    private enum Input: Sendable {
        case session(BGPSession.Event, connection: Int)
        case opened(AsyncStream<[UInt8]>.Continuation, connection: Int)
        case routesChanged
        case timer(BGPSession.Timer)
        case bfdDown(String)
    }

    public let configuration: BGPSession.Configuration
    public let endpoint: Endpoint
    /// How many distinct prefixes from the router are tracked (for `prefixesReceived`); announcements beyond are
    /// ignored and counted, so a router that sends its whole table costs bounded memory and the session stays up.
    public let maximumReceivedPrefixes: Int
    private let logger: Logger
    private let metrics: BGPPeerMetrics
    private let desired = Mutex<[IPNetwork: Route]>([:])
    private let current = Mutex(Status())
    private let inputs: AsyncStream<Input>
    private let input: AsyncStream<Input>.Continuation

    public init(
        configuration: BGPSession.Configuration, endpoint: Endpoint, maximumReceivedPrefixes: Int = 10_000,
        logger: Logger
    ) {
        self.configuration = configuration
        self.endpoint = endpoint
        self.maximumReceivedPrefixes = maximumReceivedPrefixes
        var logger = logger
        logger[metadataKey: "peer"] = "\(endpoint)"
        self.logger = logger
        self.metrics = BGPPeerMetrics(peer: endpoint.description)
        (inputs, input) = AsyncStream.makeStream()
    }

    public var status: Status { current.withLock { $0 } }

    /// Copies the status's gauges into the metrics (counters are incremented where they change).
    private func publish() {
        let status = self.status
        metrics.sessionUp.record(status.state == .established ? 1 : 0)
        metrics.prefixesAnnounced.record(status.prefixesAdvertised)
        metrics.prefixesReceived.record(status.prefixesReceived)
    }

    /// Replaces the routes the router should have from this speaker.
    public func advertise(_ routes: [Route]) {
        desired.withLock { $0 = Dictionary(routes.map { ($0.prefix, $0) }, uniquingKeysWith: { _, last in last }) }
        input.yield(.routesChanged)
    }

    /// Tells the session that BFD found the router unreachable: an open session ends at once (Cease / BFD Down)
    /// and is retried as after any failure.
    public func bfdDown(_ reason: String) {
        input.yield(.bfdDown(reason))
    }

    public func run() async throws {
        var loop = Loop(peer: self)
        await loop.perform(loop.session.handle(.start))
        for await next in inputs.cancelOnGracefulShutdown() {
            await loop.handle(next)
        }
        await loop.perform(loop.session.handle(.stop(subcode: 2)))
        await loop.finish()
    }

    /// The state owned by `run`'s task.
    private struct Loop {
        let peer: BGPPeer
        var session: BGPSession
        var connection = 0
        var writer: AsyncStream<[UInt8]>.Continuation?
        var connectionTask: Task<Void, Never>?
        var timers: [BGPSession.Timer: Task<Void, Never>] = [:]
        var advertised: [IPNetwork: Route] = [:]
        var received: Set<IPNetwork> = []

        init(peer: BGPPeer) {
            self.peer = peer
            self.session = BGPSession(peer.configuration)
        }

        mutating func handle(_ input: Input) async {
            switch input {
            case .session(let event, let id):
                guard id == connection else { return }  // from a connection already given up
                if case .received(.update) = event {
                    peer.current.withLock { $0.updatesReceived += 1 }
                    peer.metrics.updatesReceived.increment()
                }
                await perform(session.handle(event))
                // Whatever the state machine made of it, a closed connection is gone: let its task end.
                if case .connectionClosed = event, id == connection { close() }
            case .opened(let writer, let id):
                guard id == connection else {
                    writer.finish()
                    return
                }
                self.writer = writer
                await perform(session.handle(.connected))
            case .timer(let timer):
                timers[timer] = nil
                await perform(session.handle(.timerExpired(timer)))
            case .routesChanged:
                if session.state == .established { sendDifferences() }
            case .bfdDown(let reason):
                await perform(session.handle(.bfdDown(reason)))
            }
            peer.current.withLock { $0.state = session.state }
            peer.publish()
        }

        mutating func perform(_ actions: [BGPSession.Action]) async {
            for action in actions {
                switch action {
                case .connect: connect()
                case .send(let message):
                    if case .notification = message { peer.metrics.notificationsSent.increment() }
                    send(message)
                case .close: close()
                case .arm(let timer, let after): arm(timer, after)
                case .disarm(let timer): timers.removeValue(forKey: timer)?.cancel()
                case .established(let negotiated):
                    peer.logger.info(
                        "BGP session established",
                        metadata: [
                            "holdTime": "\(negotiated.holdTime)",
                            "families": "\(negotiated.families.map(\.description).sorted())",
                        ])
                    advertised = [:]
                    sendDifferences()
                    if negotiated.gracefulRestart {
                        // RFC 4724: the initial routes are complete; the router drops what it kept from before.
                        for family in negotiated.families.sorted(by: { $0.afi < $1.afi }) {
                            send(.update(BGPUpdate.endOfRIB(family)))
                        }
                    }
                case .routes(let update):
                    received.subtract(update.withdrawnPrefixes)
                    var ignored = 0
                    for prefix in update.announcedPrefixes where !received.contains(prefix) {
                        if received.count < peer.maximumReceivedPrefixes {
                            received.insert(prefix)
                        } else {
                            ignored += 1
                        }
                    }
                    let count = received.count
                    let first = peer.current.withLock { status in
                        status.prefixesReceived = count
                        defer { status.prefixesIgnored += ignored }
                        return status.prefixesIgnored == 0 && ignored > 0
                    }
                    if ignored > 0 { peer.metrics.prefixesIgnored.increment(by: ignored) }
                    if first {
                        peer.logger.warning(
                            "the router sends more prefixes than are tracked; the rest are ignored (routes from peers are never installed)",
                            metadata: ["maximum": "\(peer.maximumReceivedPrefixes)"])
                    }
                case .resendRoutes:
                    advertised = [:]
                    sendDifferences()
                case .down(let reason):
                    if session.state == .idle {
                        advertised = [:]
                        received = []
                    }
                    peer.logger.info("BGP session down", metadata: ["reason": "\(reason)"])
                    peer.current.withLock {
                        $0.lastError = reason
                        $0.prefixesReceived = 0
                        $0.prefixesAdvertised = 0
                    }
                }
            }
            peer.current.withLock { $0.state = session.state }
        }

        /// Sends what changed between the routes the router has and the desired ones, for negotiated families.
        mutating func sendDifferences() {
            guard let negotiated = session.negotiated else { return }
            let families = Set(
                negotiated.families.compactMap { family -> IPFamily? in
                    family == .ipv4Unicast ? .ipv4 : family == .ipv6Unicast ? .ipv6 : nil
                })
            let wanted = peer.desired.withLock { $0 }.filter { families.contains($0.key.family) }
            let withdrawn = advertised.keys.filter { wanted[$0] == nil }
            let announced = wanted.values.filter { advertised[$0.prefix] != $0 }
            guard !withdrawn.isEmpty || !announced.isEmpty else { return }
            let updates = Route.updates(
                announcing: Array(announced), withdrawing: withdrawn, localASN: peer.configuration.localASN,
                external: peer.configuration.external, fourOctetAS: negotiated.fourOctetAS)
            for update in updates { send(.update(update)) }
            advertised = wanted
            let count = wanted.count
            peer.current.withLock {
                $0.updatesSent += updates.count
                $0.prefixesAdvertised = count
            }
            peer.metrics.updatesSent.increment(by: updates.count)
        }

        func send(_ message: BGPMessage) {
            writer?.yield(message.encoded(fourOctetAS: session.negotiated?.fourOctetAS ?? true))
        }

        mutating func close() {
            writer?.finish()
            writer = nil
            connection += 1
        }

        mutating func arm(_ timer: BGPSession.Timer, _ after: Duration) {
            timers[timer]?.cancel()
            let input = peer.input
            timers[timer] = Task {
                try? await Task.sleep(for: after)
                if !Task.isCancelled { input.yield(.timer(timer)) }
            }
        }

        mutating func connect() {
            close()
            let id = connection
            let peer = self.peer
            connectionTask = Task { await peer.connect(id: id) }
        }

        /// Waits for the last connection to send what it was given (the Cease) and close.
        mutating func finish() async {
            close()
            for task in timers.values { task.cancel() }
            await connectionTask?.value
        }
    }

    /// Connects, then reads and writes until the write stream is finished or the peer closes.
    private func connect(id: Int) async {
        do {
            let socket = try await Self.open(endpoint)
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).withConnectedSocket(
                socket
            ) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
            let (writes, writer) = AsyncStream<[UInt8]>.makeStream()
            input.yield(.opened(writer, connection: id))
            // The connection lives until the state machine closes it (the write stream ends), so a NOTIFICATION
            // answering bad input is sent before the socket closes; reading stops at end of stream or bad input.
            try await channel.executeThenClose { inbound, outbound in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await self.read(inbound, id: id) }
                    for await bytes in writes { try await outbound.write(ByteBuffer(bytes: bytes)) }
                    group.cancelAll()
                }
            }
        } catch {
            input.yield(.session(.connectionFailed("\(error)"), connection: id))
            input.yield(.session(.connectionClosed, connection: id))
        }
    }

    /// Opens the TCP connection on a thread of NIO's blocking pool (the socket options, TCP-MD5 above all, must be
    /// set before the handshake, which NIO's own connect does not allow).
    private static func open(_ endpoint: Endpoint) async throws -> NIOBSDSocket.Handle {
        let peer = try SocketAddress(ipAddress: endpoint.address, port: endpoint.port)
        let source = try endpoint.sourceAddress.map { try SocketAddress(ipAddress: $0, port: 0) }
        let (seconds, attoseconds) = endpoint.connectTimeout.components
        let timeout = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000)
        let ttl = Int32(clamping: endpoint.ttl ?? 0)
        let password = endpoint.password
        return try await NIOThreadPool.singleton.runIfActive {
            let descriptor = peer.withSockAddr { peer, peerLength in
                func connect(_ source: UnsafePointer<sockaddr>?, _ sourceLength: Int) -> Int32 {
                    if let password {
                        return password.withUnsafeBytes { key in
                            pylon_tcp_connect(
                                peer, socklen_t(peerLength), source, socklen_t(sourceLength), key.baseAddress,
                                Int32(key.count), ttl, timeout)
                        }
                    }
                    return pylon_tcp_connect(
                        peer, socklen_t(peerLength), source, socklen_t(sourceLength), nil, 0, ttl, timeout)
                }
                guard let source else { return connect(nil, 0) }
                return source.withSockAddr { connect($0, $1) }
            }
            guard descriptor >= 0 else { throw IOError(errnoCode: errno, reason: "connect to \(endpoint)") }
            return descriptor
        }
    }

    /// Cuts the byte stream into messages for the state machine; a bad header or message ends the reading, and so
    /// does the end of the stream (reported as the connection closing).
    private func read(_ inbound: NIOAsyncChannelInboundStream<ByteBuffer>, id: Int) async throws {
        defer { input.yield(.session(.connectionClosed, connection: id)) }
        var framer = BGPFramer()
        let external = configuration.external
        for try await buffer in inbound {
            framer.append(buffer.readableBytesView)
            do {
                while let bytes = try framer.next() {
                    // 4-octet AS numbers: both sides always offer the capability first; a peer without it sends
                    // 2-octet paths, which only the counted (not installed) routes would misread.
                    input.yield(.session(.received(try BGPMessage.decode(bytes, external: external)), connection: id))
                }
            } catch {
                input.yield(.session(.malformed(error), connection: id))
                return
            }
        }
    }
}
