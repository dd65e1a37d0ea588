import CoreMetrics
import Crypto
import Glibc
import KubeClient
import Logging
import Membership
import NIOCore
import NIOPosix
import Synchronization

/// Runs this speaker's SWIM membership over UDP: authenticated packets (HMAC-SHA256 under the shared key, replay
/// window per sender), a 10 ms timer driving probes and suspicion, and a graceful leave on shutdown.
///
/// Thread-safe: the protocol state sits behind a mutex and is driven from the channel's event loop.
/// `onChange` is called with the live member names whenever they change, on the event loop thread; it must not
/// block.
final class MembershipAgent: Sendable {
    private struct State {
        var swim: SWIM
        var replay = ReplayGuard()
        var nonce: UInt64
        var lastJoin: ContinuousClock.Instant? = nil
        /// Until when a new member waits for the others before its view counts (see `isSettled`).
        var settleBy: ContinuousClock.Instant? = nil
        var settled = false
    }

    /// How long a starting member waits for the other speakers to answer before trusting its view.
    static let settleTime: Duration = .seconds(1)

    let name: String
    let address: String
    private let key: SymmetricKey
    private let state: Mutex<State>
    private let metrics: SpeakerMetrics
    private let logger: Logger
    private let onChange: @Sendable (Set<String>) -> Void

    /// - Parameters:
    ///   - address: `host:port` (IPv6 hosts in brackets) to bind and to tell other members.
    ///   - key: the shared secret's key; packets under any other key are dropped and counted.
    init(
        name: String, address: String, key: SymmetricKey, metrics: SpeakerMetrics, logger: Logger,
        onChange: @escaping @Sendable (Set<String>) -> Void
    ) {
        self.name = name
        self.address = address
        self.key = key
        self.metrics = metrics
        self.logger = logger
        self.onChange = onChange
        let now = UInt64(max(0, Duration.sinceEpoch.components.seconds))
        // Incarnations and nonces start from the wall clock so that a restarted speaker outranks its old self.
        self.state = Mutex(
            State(
                swim: SWIM(name: name, address: address, incarnation: now),
                nonce: now * 1_000_000_000 + UInt64(Duration.sinceEpoch.components.attoseconds / 1_000_000_000)))
    }

    /// Live members (alive or suspect), this one included.
    var live: Set<String> { state.withLock { $0.swim.live } }

    /// Whether the view can be trusted: every other node's address has answered, or a second has passed since the
    /// first join. Before that a starting speaker sees itself alone and would claim every address.
    var isSettled: Bool { state.withLock { $0.settled } }

    /// Binds, joins through `seeds` (other speakers' addresses; re-asked every 2 s for ones not yet members), and
    /// runs until cancelled, then leaves gracefully. A socket that fails later (e.g. its interface went down) is
    /// bound again, keeping the membership state.
    /// - Throws: `MembershipAddressError`, or NIO's error when the first bind fails (a wrong address).
    func run(group: any EventLoopGroup, seeds: @escaping @Sendable () -> [String]) async throws {
        let local = try Self.socketAddress(address)
        var binds = 0
        // Binding again after a failure waits longer the more failures come in quick succession (0.1 s … 5 s).
        var backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(5))
        while !Task.isCancelled {
            let channel: any Channel
            do {
                channel = try await DatagramBootstrap(group: group)
                    .channelOption(.socketOption(.so_reuseaddr), value: 1)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(
                                DatagramReceiver(
                                    onDatagram: { envelope, channel in self.received(envelope, on: channel) },
                                    onError: { [logger = self.logger] error in
                                        logger.debug("membership socket error", metadata: ["error": "\(error)"])
                                    }))
                        }
                    }
                    .bind(to: local).get()
            } catch {
                guard binds > 0 else { throw error }
                logger.error("membership socket cannot be bound again", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: backoff.next())
                continue
            }
            binds += 1
            logger.info("membership listening", metadata: ["address": "\(address)"])
            let bound = ContinuousClock.now
            await serve(channel, seeds: seeds)
            guard !Task.isCancelled else { break }
            // A socket that fails at once (e.g. no route while the link is down) is not rebound in a busy loop.
            logger.warning("membership socket closed; binding again")
            if ContinuousClock.now - bound >= .seconds(1) {
                backoff.reset()
            } else {
                try? await Task.sleep(for: backoff.next())
            }
        }
    }

    /// Drives the protocol on `channel` until it closes or the task is cancelled (then leaves and closes it).
    private func serve(_ channel: any Channel, seeds: @escaping @Sendable () -> [String]) async {
        let loop = channel.eventLoop
        let timer = loop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(10)) { _ in
            let now = ContinuousClock.now
            var actions = self.state.withLock { $0.swim.tick(now: now) }
            let rejoin = self.state.withLock { s in
                guard s.lastJoin.map({ now - $0 >= .seconds(2) }) ?? true else { return false }
                s.lastJoin = now
                return true
            }
            let settling = self.state.withLock { !$0.settled }
            if rejoin || settling {
                let wanted = seeds()
                actions += self.state.withLock { s -> [SWIM.Action] in
                    let known = Set(s.swim.members.filter { $0.value.state != .dead }.map(\.value.address))
                    let missing = wanted.filter { !known.contains($0) && $0 != self.address }
                    if !s.settled {
                        s.settleBy = s.settleBy ?? now + Self.settleTime
                        if missing.isEmpty || now >= s.settleBy! { s.settled = true }
                    }
                    return rejoin && !missing.isEmpty ? s.swim.join(seeds: missing, now: now) : []
                }
                if settling, self.isSettled { self.onChange(self.live) }
            }
            self.perform(actions, on: channel)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                channel.closeFuture.whenComplete { _ in c.resume() }
            }
        } onCancel: {
            let everyone = seeds()
            loop.execute {
                self.perform(self.state.withLock { $0.swim.leave(alsoTo: everyone) }, on: channel)
                channel.close(promise: nil)
            }
        }
        timer.cancel()
    }

    func received(_ envelope: AddressedEnvelope<ByteBuffer>, on channel: any Channel) {
        let bytes = Array(envelope.data.readableBytesView)
        let opened: (sender: String, nonce: UInt64, message: MembershipMessage)
        do {
            opened = try PacketCodec.open(bytes, key: key)
        } catch {
            metrics.membershipDrops[error]?.increment()
            return
        }
        let from = Self.text(envelope.remoteAddress)
        let actions = state.withLock { s -> [SWIM.Action]? in
            // Our own packets reflected back are replays too: a member never sends to itself.
            guard opened.sender != name, s.replay.accept(opened.nonce, from: opened.sender) else { return nil }
            return s.swim.receive(opened.message, sender: opened.sender, from: from, now: .now)
        }
        guard let actions else {
            metrics.membershipDrops[.replayed]?.increment()
            return
        }
        perform(actions, on: channel)
    }

    private func perform(_ actions: [SWIM.Action], on channel: any Channel) {
        var changed = false
        for action in actions {
            switch action {
            case .send(let message, let to):
                guard let remote = try? Self.socketAddress(to) else { continue }
                let packet = state.withLock { s in
                    s.nonce += 1
                    return PacketCodec.seal(message, sender: name, nonce: s.nonce, key: key)
                }
                let envelope = AddressedEnvelope(remoteAddress: remote, data: ByteBuffer(bytes: packet))
                channel.writeAndFlush(envelope, promise: nil)
            case .changed(let member, let newState):
                changed = true
                logger.info("member changed", metadata: ["member": "\(member)", "state": "\(newState)"])
            }
        }
        if changed {
            let live = self.live
            metrics.membersAlive.record(live.count)
            onChange(live)
        }
    }

    static func socketAddress(_ text: String) throws -> SocketAddress {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else {
            throw MembershipAddressError(address: text)
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        do { return try SocketAddress(ipAddress: host, port: port) } catch {
            throw MembershipAddressError(address: text)
        }
    }

    static func text(_ address: SocketAddress) -> String {
        let host = address.ipAddress ?? "?"
        let port = address.port ?? 0
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// A membership address that is not `IP:port`.
struct MembershipAddressError: Error, CustomStringConvertible {
    let address: String
    var description: String { "membership address \"\(address)\" is not IP:port" }
}

extension Duration {
    /// Wall-clock time since the Unix epoch.
    static var sinceEpoch: Duration {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return .seconds(spec.tv_sec) + .nanoseconds(spec.tv_nsec)
    }
}
