/// One BGP session as a state machine (RFC 4271 §8): a value that takes events — connection outcomes, received
/// messages, timer expiries — and returns the actions to carry out. It never touches a socket or a clock; the
/// driver connects, sends, closes and runs the three timers it is told to arm.
///
/// The speaker connects out (it does not accept connections, so there is no connection collision to resolve).
/// After any failure it goes back to Idle and tries again when the connect-retry timer fires, the interval doubling
/// from `retryInitial` up to `retryMaximum` while sessions keep failing, reset once one is established.
public struct BGPSession: Sendable {
    public enum State: String, Sendable, Equatable {
        case idle = "Idle"
        case connect = "Connect"
        case active = "Active"
        case openSent = "OpenSent"
        case openConfirm = "OpenConfirm"
        case established = "Established"
    }

    public enum Timer: Sendable, Hashable {
        case connectRetry
        case hold
        case keepalive
    }

    public struct Configuration: Sendable, Equatable {
        public var localASN: UInt32
        public var peerASN: UInt32
        public var routerID: UInt32
        /// Hold time proposed in OPEN (seconds; 0 or ≥ 3). MetalLB's default is 90.
        public var holdTime: UInt16
        /// Keepalive interval (seconds) when set; else a third of the negotiated hold time.
        public var keepaliveTime: UInt16?
        public var families: [AddressFamily]
        public var retryInitial: Duration
        public var retryMaximum: Duration
        /// Extra capabilities to announce.
        public var extraCapabilities: [BGPCapability]
        /// Graceful restart (RFC 4724) with this restart time in seconds (at most 4095); nil: off. When the router
        /// offers it too, an administrative stop closes the connection without a NOTIFICATION, so the router keeps
        /// this speaker's routes (as stale) until a new session has sent its routes and End-of-RIB, or the restart
        /// time ran out.
        public var restartTime: UInt16?

        public init(
            localASN: UInt32, peerASN: UInt32, routerID: UInt32, holdTime: UInt16 = 90, keepaliveTime: UInt16? = nil,
            families: [AddressFamily] = [.ipv4Unicast, .ipv6Unicast], retryInitial: Duration = .seconds(1),
            retryMaximum: Duration = .seconds(30), extraCapabilities: [BGPCapability] = [], restartTime: UInt16? = nil
        ) {
            self.restartTime = restartTime.map { min($0, 4095) }
            self.localASN = localASN
            self.peerASN = peerASN
            self.routerID = routerID
            self.holdTime = holdTime
            self.keepaliveTime = keepaliveTime
            self.families = families
            self.retryInitial = retryInitial
            self.retryMaximum = retryMaximum
            self.extraCapabilities = extraCapabilities
        }

        public var external: Bool { localASN != peerASN }
    }

    /// What both sides agreed in their OPENs.
    public struct Negotiated: Sendable, Equatable {
        public var peer: BGPOpen
        /// Seconds; 0: no keepalives and no hold timer.
        public var holdTime: UInt16
        public var keepaliveTime: UInt16
        public var fourOctetAS: Bool
        public var families: Set<AddressFamily>
        /// Both sides offered graceful restart: End-of-RIB markers follow the initial routes, and a stop keeps them.
        public var gracefulRestart: Bool = false
    }

    public enum Event: Sendable, Equatable {
        /// Administrative start (ManualStart/AutomaticStart).
        case start
        /// Administrative stop: a Cease NOTIFICATION with `subcode` goes out if a connection is up.
        case stop(subcode: UInt8)
        case connected
        case connectionFailed(String)
        case connectionClosed
        case received(BGPMessage)
        /// The peer sent bytes the decoder rejected; the NOTIFICATION to answer with.
        case malformed(BGPNotification)
        case timerExpired(Timer)
        /// BFD found the peer unreachable: the session ends at once with Cease / BFD Down (RFC 9384), which may
        /// not arrive, and is retried later as after any failure.
        case bfdDown(String)
    }

    public enum Action: Sendable, Equatable {
        case connect
        case send(BGPMessage)
        case close
        case arm(Timer, Duration)
        case disarm(Timer)
        case established(Negotiated)
        /// An UPDATE received in Established (its prefixes are for counting; Pylon installs no routes).
        case routes(BGPUpdate)
        /// The peer asked for our routes again (ROUTE-REFRESH).
        case resendRoutes
        /// The session left Established, or an attempt failed, and why.
        case down(String)
    }

    public let configuration: Configuration
    public private(set) var state: State = .idle
    public private(set) var negotiated: Negotiated?
    private var retry: Duration
    private var running = false

    public init(_ configuration: Configuration) {
        self.configuration = configuration
        self.retry = configuration.retryInitial
    }

    /// The OPEN this side sends.
    public var open: BGPOpen {
        BGPOpen(
            asn: configuration.localASN, holdTime: configuration.holdTime, identifier: configuration.routerID,
            capabilities: configuration.families.map { .multiprotocol($0) } + [
                .routeRefresh, .fourOctetAS(configuration.localASN),
            ]
                + (configuration.restartTime.map { time in
                    // The node keeps forwarding to its Services while its speaker restarts.
                    [
                        .gracefulRestart(
                            restarting: false, time: time,
                            families: configuration.families.map { .init($0, forwardingPreserved: true) })
                    ]
                } ?? []) + configuration.extraCapabilities)
    }

    /// RFC 9384's Cease subcode "BFD Down".
    public static let bfdDownSubcode: UInt8 = 10

    /// RFC 4271 §10's suggestion for the hold timer while waiting for the peer's OPEN.
    static let largeHoldTime = Duration.seconds(240)

    public mutating func handle(_ event: Event) -> [Action] {
        switch (state, event) {
        case (_, .start):
            guard !running else { return [] }
            running = true
            state = .connect
            return [.connect, .arm(.connectRetry, retry)]
        case (_, .stop(let subcode)):
            running = false
            let connected = [.openSent, .openConfirm, .established].contains(state)
            let wasUp = state == .established
            // RFC 4724: the router keeps the routes of a session that ends without a NOTIFICATION.
            let keep = wasUp && negotiated?.gracefulRestart == true
            reset()
            return (connected && !keep ? [.send(.notification(.cease(subcode))), .close] : [.close])
                + [.disarm(.connectRetry), .disarm(.hold), .disarm(.keepalive)]
                + (wasUp ? [.down(keep ? "stopped (graceful restart: the router keeps the routes)" : "stopped")] : [])
        case (.connect, .connected), (.active, .connected):
            state = .openSent
            return [.disarm(.connectRetry), .send(.open(open)), .arm(.hold, Self.largeHoldTime)]
        case (.connect, .connectionFailed(let reason)):
            state = .active
            return [.down("connection failed: \(reason)")]
        case (.idle, .timerExpired(.connectRetry)), (.connect, .timerExpired(.connectRetry)),
            (.active, .timerExpired(.connectRetry)):
            guard running else { return [] }
            state = .connect
            retry = min(retry * 2, configuration.retryMaximum)
            return [.close, .connect, .arm(.connectRetry, retry)]
        case (.openSent, .received(.open(let peer))):
            return receiveOpen(peer)
        case (.openConfirm, .received(.keepalive)):
            state = .established
            retry = configuration.retryInitial
            return armHold() + [.established(negotiated!)]
        case (.established, .received(.keepalive)):
            return armHold()
        case (.established, .received(.update(let update))):
            return armHold() + [.routes(update)]
        case (.established, .received(.routeRefresh)):
            return armHold() + [.resendRoutes]
        case (.openConfirm, .timerExpired(.keepalive)), (.established, .timerExpired(.keepalive)):
            return [.send(.keepalive), .arm(.keepalive, .seconds(Int(negotiated?.keepaliveTime ?? 30)))]
        case (.openSent, .timerExpired(.hold)), (.openConfirm, .timerExpired(.hold)),
            (.established, .timerExpired(.hold)):
            return fail(sending: .holdTimerExpired, "hold timer expired")
        case (_, .received(.notification(let notification))):
            guard state != .idle else { return [] }
            return fail(sending: nil, "peer sent NOTIFICATION \(notification)")
        case (.openSent, .bfdDown(let reason)), (.openConfirm, .bfdDown(let reason)),
            (.established, .bfdDown(let reason)):
            return fail(sending: .cease(Self.bfdDownSubcode), "BFD: \(reason)")
        case (_, .malformed(let notification)):
            guard state != .idle else { return [] }
            return fail(sending: notification, "malformed message from peer: \(notification)")
        case (.openSent, .connectionClosed), (.openConfirm, .connectionClosed), (.established, .connectionClosed):
            return fail(sending: nil, "connection closed by peer")
        case (.openSent, .received), (.openConfirm, .received), (.established, .received):
            // RFC 6608: a message that has no place in this state.
            let subcode: UInt8 = state == .openSent ? 1 : state == .openConfirm ? 2 : 3
            return fail(sending: .fsmError(subcode), "unexpected message in \(state.rawValue)")
        default:
            return []
        }
    }

    /// Checks the peer's OPEN against the configuration and negotiates hold time and capabilities.
    private mutating func receiveOpen(_ peer: BGPOpen) -> [Action] {
        guard peer.asn == configuration.peerASN else {
            return fail(sending: .badPeerAS, "peer AS \(peer.asn), expected \(configuration.peerASN)")
        }
        if !configuration.external, peer.identifier == configuration.routerID {
            return fail(sending: .badBGPIdentifier, "peer uses our router ID")
        }
        let hold = min(configuration.holdTime, peer.holdTime)
        let keepalive = hold == 0 ? 0 : min(configuration.keepaliveTime ?? hold / 3, max(hold / 3, 1))
        let fourOctet = peer.supportsFourOctetAS
        let peerRestarts = peer.capabilities.contains {
            if case .gracefulRestart = $0 { return true } else { return false }
        }
        negotiated = Negotiated(
            peer: peer, holdTime: hold, keepaliveTime: keepalive, fourOctetAS: fourOctet,
            families: peer.families.intersection(configuration.families),
            gracefulRestart: configuration.restartTime != nil && peerRestarts)
        state = .openConfirm
        var actions: [Action] = [.send(.keepalive)]
        if keepalive > 0 { actions.append(.arm(.keepalive, .seconds(Int(keepalive)))) }
        return actions + armHold()
    }

    private func armHold() -> [Action] {
        guard let hold = negotiated?.holdTime, state == .openConfirm || state == .established else {
            return [.arm(.hold, Self.largeHoldTime)]
        }
        return hold == 0 ? [.disarm(.hold)] : [.arm(.hold, .seconds(Int(hold)))]
    }

    /// Ends the attempt: NOTIFICATION (if any), close, back to Idle, retry later.
    private mutating func fail(sending notification: BGPNotification?, _ reason: String) -> [Action] {
        reset()
        var actions: [Action] = notification.map { [.send(.notification($0))] } ?? []
        actions += [.close, .disarm(.hold), .disarm(.keepalive), .down(reason)]
        if running { actions.append(.arm(.connectRetry, retry)) }
        return actions
    }

    private mutating func reset() {
        state = .idle
        negotiated = nil
    }
}
