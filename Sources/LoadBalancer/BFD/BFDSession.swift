/// One single-hop BFD session in asynchronous mode (RFC 5880 §6), as a value: events in, actions out; no clock, no
/// socket.
///
/// Timers: `transmit` is armed with the nominal interval — the driver applies RFC 5880 §6.8.7's jitter (75–100 %,
/// 75–90 % with a detect multiplier of 1); `detect` with the detection time (the peer's multiplier × the larger of
/// our required receive interval and its desired transmit interval). While not Up, this side advertises a desired
/// transmit interval of one second (§6.8.3); on reaching Up it advertises its configured one with a Poll, which it
/// repeats until the peer answers with Final. A passive session (§6.1) sends nothing until it hears from the peer.
public struct BFDSession: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var desiredMinTxInterval: Duration
        public var requiredMinRxInterval: Duration
        public var detectMultiplier: UInt8
        public var passive: Bool
        /// Non-zero, unique among this system's sessions.
        public var myDiscriminator: UInt32

        /// MetalLB's BFDProfile defaults: 300 ms both ways, multiplier 3, active.
        public init(
            desiredMinTxInterval: Duration = .milliseconds(300), requiredMinRxInterval: Duration = .milliseconds(300),
            detectMultiplier: UInt8 = 3, passive: Bool = false, myDiscriminator: UInt32
        ) {
            self.desiredMinTxInterval = desiredMinTxInterval
            self.requiredMinRxInterval = requiredMinRxInterval
            self.detectMultiplier = detectMultiplier
            self.passive = passive
            self.myDiscriminator = myDiscriminator
        }
    }

    public enum Timer: Sendable, Hashable { case transmit, detect }

    public enum Event: Sendable, Equatable {
        case start
        /// A packet that passed `BFDPacket.decode` (and, for single hop, arrived with TTL 255).
        case received(BFDPacket)
        case timerExpired(Timer)
        /// Administrative stop: AdminDown is sent, received packets are ignored.
        case stop
    }

    public enum Action: Sendable, Equatable {
        case send(BFDPacket)
        case arm(Timer, Duration)
        case disarm(Timer)
        /// The session state changed; `diagnostic` says why it went down.
        case stateChanged(BFDPacket.State, BFDPacket.Diagnostic)
        /// A packet for this session that the rules of §6.8.6 drop.
        case discarded(String)
    }

    /// The desired transmit interval advertised while not Up (§6.8.3).
    public static let slowInterval = Duration.seconds(1)

    public let configuration: Configuration
    public private(set) var state: BFDPacket.State = .down
    public private(set) var diagnostic: BFDPacket.Diagnostic = .none
    public private(set) var remoteDiscriminator: UInt32 = 0
    /// The state the peer reported in its last packet (Down until heard, and again after the detection time).
    public private(set) var remoteState: BFDPacket.State = .down
    /// The peer's Required Min RX Interval in microseconds (1 until heard: §6.8.1).
    private var remoteMinRx: UInt32 = 1
    private var remoteDesiredMinTx: UInt32 = 0
    private var remoteMultiplier: UInt8 = 0
    private var polling = false
    private var started = false

    public init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    /// The desired transmit interval this side advertises now.
    var advertisedTx: Duration { state == .up ? configuration.desiredMinTxInterval : Self.slowInterval }

    /// How long without a packet before the session goes down; nil until the peer has been heard.
    public var detectionTime: Duration? {
        guard remoteMultiplier > 0 else { return nil }
        let remoteTx = Duration.microseconds(Int64(remoteDesiredMinTx))
        return max(configuration.requiredMinRxInterval, remoteTx) * Int(remoteMultiplier)
    }

    /// The nominal interval between our packets; nil when the peer asked for none.
    var transmitInterval: Duration? {
        guard remoteMinRx > 0 else { return nil }
        return max(advertisedTx, .microseconds(Int64(remoteMinRx)))
    }

    /// Whether periodic packets go out now.
    var transmits: Bool { started && transmitInterval != nil && (!configuration.passive || remoteDiscriminator != 0) }

    public mutating func handle(_ event: Event) -> [Action] {
        switch event {
        case .start:
            guard !started else { return [] }
            started = true
            state = .down
            return transmits ? [.send(packet()), .arm(.transmit, transmitInterval!)] : []
        case .stop:
            guard started else { return [] }
            started = false
            let was = state
            state = .adminDown
            diagnostic = .administrativelyDown
            return [.send(packet()), .disarm(.transmit), .disarm(.detect)]
                + (was != .adminDown ? [.stateChanged(.adminDown, .administrativelyDown)] : [])
        case .timerExpired(.transmit):
            guard transmits else { return [] }
            return [.send(packet()), .arm(.transmit, transmitInterval!)]
        case .timerExpired(.detect):
            guard started, state == .initializing || state == .up else { return [] }
            remoteDiscriminator = 0
            remoteState = .down
            remoteMinRx = 1
            remoteMultiplier = 0
            polling = false
            return change(to: .down, .controlDetectionTimeExpired)
                + (transmits ? [.send(packet()), .arm(.transmit, transmitInterval!)] : [.disarm(.transmit)])
        case .received(let packet):
            return receive(packet)
        }
    }

    private mutating func receive(_ packet: BFDPacket) -> [Action] {
        guard started, state != .adminDown else { return [.discarded("session is administratively down")] }
        guard packet.yourDiscriminator == 0 || packet.yourDiscriminator == configuration.myDiscriminator else {
            return [.discarded("your discriminator \(packet.yourDiscriminator) is not ours")]
        }
        let wasTransmitting = transmits
        let oldInterval = transmitInterval
        remoteDiscriminator = packet.myDiscriminator
        remoteState = packet.state
        remoteMinRx = packet.requiredMinRxInterval
        remoteDesiredMinTx = packet.desiredMinTxInterval
        remoteMultiplier = packet.detectMultiplier
        if packet.final { polling = false }

        var actions: [Action] = []
        let before = state
        switch (state, packet.state) {
        case (.down, .adminDown), (.initializing, .adminDown), (.up, .adminDown):
            if state != .down { actions += change(to: .down, .neighborSignaledSessionDown) }
        case (.down, .down):
            actions += change(to: .initializing, .none)
        case (.down, .initializing), (.initializing, .initializing), (.initializing, .up):
            actions += change(to: .up, .none)
        case (.up, .down):
            actions += change(to: .down, .neighborSignaledSessionDown)
        default:
            break
        }
        if state == .up && before != .up { polling = true }  // advertising the configured interval now
        if let detection = detectionTime, state == .initializing || state == .up {
            actions.append(.arm(.detect, detection))
        } else {
            actions.append(.disarm(.detect))
        }
        if packet.poll {
            var answer = self.packet()
            answer.poll = false
            answer.final = true
            actions.append(.send(answer))
        } else if state != before {
            actions.append(.send(self.packet()))
        }
        if transmits, !wasTransmitting || transmitInterval != oldInterval || state != before {
            actions.append(.arm(.transmit, transmitInterval!))
        } else if !transmits {
            actions.append(.disarm(.transmit))
        }
        return actions
    }

    private mutating func change(to new: BFDPacket.State, _ why: BFDPacket.Diagnostic) -> [Action] {
        guard new != state else { return [] }
        state = new
        if new == .down { diagnostic = why }
        return [.stateChanged(new, why)]
    }

    /// The packet this side sends now.
    func packet() -> BFDPacket {
        BFDPacket(
            diagnostic: diagnostic, state: state, poll: polling, detectMultiplier: configuration.detectMultiplier,
            myDiscriminator: configuration.myDiscriminator, yourDiscriminator: remoteDiscriminator,
            desiredMinTxInterval: Self.microseconds(advertisedTx),
            requiredMinRxInterval: Self.microseconds(configuration.requiredMinRxInterval))
    }

    static func microseconds(_ duration: Duration) -> UInt32 {
        let (seconds, attoseconds) = duration.components
        return UInt32(clamping: seconds * 1_000_000 + attoseconds / 1_000_000_000_000)
    }
}
