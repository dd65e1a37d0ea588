import BFD
import CLinuxNet
import CoreMetrics
import Glibc
import Logging
import NIOCore
import NIOPosix
import NetCore
import ServiceLifecycle
import Synchronization

/// This node's BFD sessions (RFC 5880 asynchronous mode over RFC 5881 single-hop UDP), one per peer address, each
/// run by a `BFDSession` state machine.
///
/// Wire: control packets are received on UDP port `listenPort` (3784) of `listenAddresses` (every address, IPv4 and
/// IPv6, by default) through sockets whose kernel filter discards anything that arrived with a TTL / hop limit below 255 (so it came from
/// beyond the link); each session sends from a socket of its own, bound to its source address and a port in
/// 49152–65535, with TTL 255. Received packets are matched to sessions by Your Discriminator, or by source address
/// while the peer does not know ours yet. Transmit intervals get RFC 5880's jitter.
///
/// Isolation: a `Service`; `watch`, `unwatch` and `state(of:)` are thread-safe. State changes are reported to each
/// session's handler from the agent's task (handlers must not block). Socket errors are logged and counted, never
/// thrown: without its receive socket (the port is taken) every session stays Down, which never ends a BGP session.
/// On graceful shutdown every session sends AdminDown, which tells the peer to keep its BGP session (RFC 5882).
public final class BFDAgent: Service, Sendable {
    /// A session's timing, from a BFDProfile.
    public struct Parameters: Sendable, Equatable {
        public var desiredMinTxInterval: Duration
        public var requiredMinRxInterval: Duration
        public var detectMultiplier: UInt8
        public var passive: Bool

        public init(
            desiredMinTxInterval: Duration = .milliseconds(300), requiredMinRxInterval: Duration = .milliseconds(300),
            detectMultiplier: UInt8 = 3, passive: Bool = false
        ) {
            self.desiredMinTxInterval = desiredMinTxInterval
            self.requiredMinRxInterval = requiredMinRxInterval
            self.detectMultiplier = detectMultiplier
            self.passive = passive
        }
    }

    /// A session's state change, as given to its handler.
    public struct Change: Sendable, Equatable {
        public var peer: IPAddress
        public var from: BFDPacket.State
        public var to: BFDPacket.State
        /// What the peer said its state was in its last packet (AdminDown: it is being shut down on purpose,
        /// which RFC 5882 §3.2 says is not a failure of the path).
        public var peerState: BFDPacket.State
        /// Why it went down (`.none` otherwise).
        public var diagnostic: BFDPacket.Diagnostic

        /// Whether this change means the path to the peer failed: Up to Down, unless the peer said AdminDown (it is
        /// being shut down on purpose and the path may be fine: RFC 5882 §3.2).
        public var isFailure: Bool { from == .up && to == .down && peerState != .adminDown }
    }

    public typealias Handler = @Sendable (Change) -> Void

    private enum Input: Sendable {
        case watch(IPAddress, source: IPAddress?, Parameters, Handler)
        case unwatch(IPAddress)
        case datagram([UInt8], from: IPAddress)
        case timer(IPAddress, BFDSession.Timer, id: Int)
    }

    /// Where control packets are received (RFC 5881: 3784).
    public let listenPort: Int
    public let listenAddresses: [IPAddress]
    /// Where they are sent (3784, except in tests that run two agents on one address).
    public let peerPort: Int
    private let logger: Logger
    private let metrics = BFDMetrics()
    private let states = Mutex<[IPAddress: BFDPacket.State]>([:])
    private let inputs: AsyncStream<Input>
    private let input: AsyncStream<Input>.Continuation

    public init(
        listenAddresses: [IPAddress] = [.v4(0), .v6(0)], listenPort: Int = 3784, peerPort: Int = 3784, logger: Logger
    ) {
        self.listenAddresses = listenAddresses
        self.listenPort = listenPort
        self.peerPort = peerPort
        self.logger = logger
        (inputs, input) = AsyncStream.makeStream()
    }

    /// Runs a session with `peer`, sending from `source` (nil: the kernel's choice), reporting its changes to
    /// `handler`. Watching a peer again replaces the handler; with other parameters or source the session is
    /// restarted (the peer sees AdminDown, then a new session).
    public func watch(
        _ peer: IPAddress, from source: IPAddress?, parameters: Parameters, handler: @escaping Handler
    ) {
        input.yield(.watch(peer, source: source, parameters, handler))
    }

    /// Ends the session with `peer` (AdminDown is sent).
    public func unwatch(_ peer: IPAddress) {
        input.yield(.unwatch(peer))
    }

    /// The state of the session with `peer`; nil when there is none.
    public func state(of peer: IPAddress) -> BFDPacket.State? {
        states.withLock { $0[peer] }
    }

    public func run() async throws {
        var loop = Loop(agent: self)
        var receivers: [any Channel] = []
        for address in listenAddresses {
            do {
                let channel = try await open(address, port: listenPort, onlyTTL255: true)
                try await channel.pipeline.addHandler(
                    DatagramReceiver(
                        onDatagram: { [input] envelope, _ in
                            guard let text = envelope.remoteAddress.ipAddress, let from = IPAddress(text) else {
                                return
                            }
                            input.yield(.datagram(Array(envelope.data.readableBytesView), from: from))
                        },
                        onError: { [logger] error in
                            logger.debug("BFD socket error", metadata: ["error": "\(error)"])
                        }))
                receivers.append(channel)
            } catch {
                logger.error(
                    "cannot receive BFD on \(address) port \(listenPort); sessions that need it stay down",
                    metadata: ["error": "\(error)"])
            }
        }
        for await next in inputs.cancelOnGracefulShutdown() {
            await loop.handle(next)
        }
        await loop.finish()
        for channel in receivers { try? await channel.close() }
    }

    /// Opens a UDP socket for BFD on `address`:`port` and hands it to NIO.
    fileprivate func open(_ address: IPAddress, port: Int, onlyTTL255: Bool) async throws -> any Channel {
        let local = try SocketAddress(ipAddress: address.description, port: port)
        let descriptor = local.withSockAddr { pylon_bfd_socket($0, socklen_t($1), onlyTTL255 ? 1 : 0) }
        guard descriptor >= 0 else {
            throw IOError(errnoCode: errno, reason: "BFD socket on \(address) port \(port)")
        }
        return try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .withBoundSocket(descriptor).get()
    }

    /// Opens a sending socket on `source` (or any address of `family`) with a free port in 49152–65535 (RFC 5881
    /// §4), trying at most 64 ports from a random start.
    fileprivate func openSender(family: IPFamily, source: IPAddress?) async throws -> any Channel {
        let address = source ?? (family == .ipv4 ? .v4(0) : .v6(0))
        let start = Int.random(in: 0..<16384)
        var last: any Error = IOError(errnoCode: EADDRINUSE, reason: "no free BFD source port")
        for attempt in 0..<64 {
            do {
                return try await open(address, port: 49152 + (start + attempt) % 16384, onlyTTL255: false)
            } catch let error as IOError where error.errnoCode == EADDRINUSE {
                last = error
            }
        }
        throw last
    }

    /// The state owned by `run`'s task.
    private struct Loop {
        struct Entry {
            var session: BFDSession
            var source: IPAddress?
            var parameters: Parameters
            var handler: Handler
            var sender: (any Channel)?
            /// Where its packets go (the peer's address, `peerPort`).
            var target: SocketAddress?
            var timers: [BFDSession.Timer: (id: Int, task: Task<Void, Never>)] = [:]
        }

        let agent: BFDAgent
        var entries: [IPAddress: Entry] = [:]
        var byDiscriminator: [UInt32: IPAddress] = [:]
        var timerIDs = 0

        init(agent: BFDAgent) {
            self.agent = agent
        }

        mutating func handle(_ input: Input) async {
            switch input {
            case .watch(let peer, let source, let parameters, let handler):
                if let entry = entries[peer], entry.source == source, entry.parameters == parameters {
                    entries[peer]?.handler = handler
                    return
                }
                await end(peer)
                await begin(peer, source: source, parameters: parameters, handler: handler)
            case .unwatch(let peer):
                await end(peer)
            case .timer(let peer, let timer, let id):
                guard let entry = entries[peer], entry.timers[timer]?.id == id else { return }
                entries[peer]?.timers[timer] = nil
                perform(on: peer) { $0.handle(.timerExpired(timer)) }
            case .datagram(let bytes, let from):
                guard let packet = match(bytes, from: from) else { return }
                perform(on: from) { $0.handle(.received(packet)) }
            }
        }

        /// Decodes a datagram and checks that it belongs to the session with its sender (RFC 5880 §6.8.6: found by
        /// Your Discriminator, or by source address while that is 0); what matches none is counted and dropped.
        func match(_ bytes: [UInt8], from: IPAddress) -> BFDPacket? {
            let packet: BFDPacket
            do {
                packet = try BFDPacket.decode(bytes[...])
            } catch {
                drop(error.reason, "\(error)", from: from)
                return nil
            }
            let peer = packet.yourDiscriminator == 0 ? from : byDiscriminator[packet.yourDiscriminator]
            guard let peer, entries[peer] != nil else {
                drop("no_session", "no session for discriminator \(packet.yourDiscriminator)", from: from)
                return nil
            }
            guard peer == from else {
                drop("source", "the packet for the session with \(peer) came from \(from)", from: from)
                return nil
            }
            agent.metrics.received.increment()
            return packet
        }

        func drop(_ reason: String, _ message: String, from: IPAddress) {
            agent.metrics.dropped(reason).increment()
            agent.logger.debug("BFD packet dropped: \(message)", metadata: ["from": "\(from)"])
        }

        mutating func begin(_ peer: IPAddress, source: IPAddress?, parameters: Parameters, handler: @escaping Handler)
            async
        {
            var discriminator: UInt32 = 0
            while discriminator == 0 || byDiscriminator[discriminator] != nil {
                discriminator = .random(in: 1...UInt32.max)
            }
            var entry = Entry(
                session: BFDSession(
                    .init(
                        desiredMinTxInterval: parameters.desiredMinTxInterval,
                        requiredMinRxInterval: parameters.requiredMinRxInterval,
                        detectMultiplier: parameters.detectMultiplier, passive: parameters.passive,
                        myDiscriminator: discriminator)),
                source: source, parameters: parameters, handler: handler,
                target: try? SocketAddress(ipAddress: peer.description, port: agent.peerPort))
            do {
                entry.sender = try await agent.openSender(family: peer.family, source: source)
            } catch {
                agent.logger.error(
                    "cannot send BFD to \(peer); the session stays down", metadata: ["error": "\(error)"])
            }
            entries[peer] = entry
            byDiscriminator[discriminator] = peer
            agent.states.withLock { $0[peer] = .down }
            agent.metrics.sessionUp(peer).record(0)
            perform(on: peer) { $0.handle(.start) }
        }

        mutating func end(_ peer: IPAddress) async {
            guard entries[peer] != nil else { return }
            perform(on: peer) { $0.handle(.stop) }
            guard let entry = entries.removeValue(forKey: peer) else { return }
            for (_, timer) in entry.timers { timer.task.cancel() }
            byDiscriminator[entry.session.configuration.myDiscriminator] = nil
            agent.states.withLock { $0[peer] = nil }
            try? await entry.sender?.close()
        }

        /// Feeds an event to `peer`'s session and carries out the actions.
        mutating func perform(on peer: IPAddress, _ event: (inout BFDSession) -> [BFDSession.Action]) {
            guard var entry = entries[peer] else { return }
            let before = entry.session.state
            let actions = event(&entry.session)
            entries[peer] = entry
            for action in actions {
                switch action {
                case .send(let packet):
                    guard let sender = entry.sender, let target = entry.target else { continue }
                    let envelope = AddressedEnvelope(remoteAddress: target, data: ByteBuffer(bytes: packet.encoded()))
                    sender.writeAndFlush(envelope, promise: nil)
                    agent.metrics.sent.increment()
                case .arm(let timer, let after):
                    arm(timer, after, for: peer, multiplier: entry.session.configuration.detectMultiplier)
                case .disarm(let timer):
                    entries[peer]?.timers.removeValue(forKey: timer)?.task.cancel()
                case .stateChanged(let state, let diagnostic):
                    agent.states.withLock { $0[peer] = state }
                    agent.metrics.sessionUp(peer).record(state == .up ? 1 : 0)
                    agent.logger.info(
                        "BFD session \(state)",
                        metadata: ["peer": "\(peer)", "diagnostic": "\(diagnostic)", "was": "\(before)"])
                    entry.handler(
                        Change(
                            peer: peer, from: before, to: state, peerState: entries[peer]?.session.remoteState ?? .down,
                            diagnostic: diagnostic))
                case .discarded(let reason):
                    drop("session", reason, from: peer)
                }
            }
        }

        /// Arms a timer; transmit intervals are shortened by a random 0–25 % (10–25 % with a detect multiplier of
        /// 1), so that peers do not fall into step (RFC 5880 §6.8.7).
        mutating func arm(_ timer: BFDSession.Timer, _ after: Duration, for peer: IPAddress, multiplier: UInt8) {
            var delay = after
            if timer == .transmit {
                delay = after * Double.random(in: multiplier == 1 ? 0.75...0.9 : 0.75...1.0)
            }
            timerIDs += 1
            let id = timerIDs
            let input = agent.input
            entries[peer]?.timers[timer]?.task.cancel()
            entries[peer]?.timers[timer] = (
                id,
                Task {
                    try? await Task.sleep(for: delay)
                    if !Task.isCancelled { input.yield(.timer(peer, timer, id: id)) }
                }
            )
        }

        /// Ends every session (AdminDown) and waits for the packets to leave.
        mutating func finish() async {
            for peer in Array(entries.keys) { await end(peer) }
        }
    }
}
