import Testing

@testable import BFD

/// The asynchronous-mode state machine, event by event (no sockets, no clock).
@Suite struct BFDSessionTests {
    static func session(_ discriminator: UInt32, passive: Bool = false) -> BFDSession {
        BFDSession(.init(passive: passive, myDiscriminator: discriminator))
    }

    static func sent(_ actions: [BFDSession.Action]) -> [BFDPacket] {
        actions.compactMap { if case .send(let packet) = $0 { packet } else { nil } }
    }

    /// Delivers what each side sends to the other until nobody sends anything new (bounded).
    static func exchange(_ a: inout BFDSession, _ b: inout BFDSession, first: [BFDPacket]) -> [BFDSession.Action] {
        var toB = first
        var toA: [BFDPacket] = []
        var all: [BFDSession.Action] = []
        for _ in 0..<20 where !toA.isEmpty || !toB.isEmpty {
            var nextA: [BFDPacket] = []
            var nextB: [BFDPacket] = []
            for packet in toB {
                let actions = b.handle(.received(packet))
                all += actions
                nextA += sent(actions)
            }
            for packet in toA {
                let actions = a.handle(.received(packet))
                all += actions
                nextB += sent(actions)
            }
            toA = nextA
            toB = nextB
        }
        return all
    }

    /// Two sessions brought Up by the three-way handshake (Down → Init → Up).
    static func upPair() -> (BFDSession, BFDSession) {
        var a = session(1)
        var b = session(2)
        _ = b.handle(.start)
        let opening = sent(a.handle(.start))
        _ = exchange(&a, &b, first: opening)
        return (a, b)
    }

    @Test func aStartedSessionSendsDownAtTheSlowRate() {
        var a = Self.session(1)
        let actions = a.handle(.start)
        let packet = Self.sent(actions).first
        #expect(packet?.state == .down && packet?.yourDiscriminator == 0)
        #expect(packet?.desiredMinTxInterval == 1_000_000, "one second while not Up (RFC 5880 §6.8.3)")
        #expect(packet?.requiredMinRxInterval == 300_000)
        #expect(actions.contains(.arm(.transmit, .seconds(1))))
    }

    @Test func theThreeWayHandshakeBringsBothUp() {
        let (a, b) = Self.upPair()
        #expect(a.state == .up && b.state == .up)
        #expect(a.remoteDiscriminator == 2 && b.remoteDiscriminator == 1)
        #expect(a.detectionTime == .milliseconds(900), "3 × max(300 ms, the peer's 300 ms)")
    }

    @Test func upAdvertisesTheConfiguredIntervalWithAPollUntilFinal() {
        var a = Self.session(1)
        var b = Self.session(2)
        _ = a.handle(.start)
        _ = b.handle(.start)
        // a hears b Down → Init; b hears a Init → Up and polls with its configured interval.
        _ = a.handle(
            .received(
                BFDPacket(
                    state: .down, detectMultiplier: 3, myDiscriminator: 2, yourDiscriminator: 0,
                    desiredMinTxInterval: 1_000_000, requiredMinRxInterval: 300_000)))
        #expect(a.state == .initializing)
        let initPacket = a.packet()
        let bUp = b.handle(.received(initPacket))
        #expect(b.state == .up)
        let poll = Self.sent(bUp).first
        #expect(poll?.poll == true && poll?.desiredMinTxInterval == 300_000)
        // a answers the Poll with Final; b stops polling.
        let answer = Self.sent(a.handle(.received(poll!))).first
        #expect(answer?.final == true && answer?.poll == false)
        _ = b.handle(.received(answer!))
        #expect(b.packet().poll == false)
    }

    @Test func silenceExpiresTheDetectionTimer() {
        var (a, _) = Self.upPair()
        let actions = a.handle(.timerExpired(.detect))
        #expect(a.state == .down)
        #expect(actions.contains(.stateChanged(.down, .controlDetectionTimeExpired)))
        #expect(a.remoteDiscriminator == 0 && a.remoteState == .down)
        #expect(Self.sent(actions).first?.diagnostic == .controlDetectionTimeExpired)
    }

    @Test func anAdministrativeStopTakesThePeerDown() {
        var (a, b) = Self.upPair()
        let stop = a.handle(.stop)
        #expect(a.state == .adminDown && stop.contains(.stateChanged(.adminDown, .administrativelyDown)))
        let actions = b.handle(.received(Self.sent(stop).first!))
        #expect(b.state == .down && actions.contains(.stateChanged(.down, .neighborSignaledSessionDown)))
        #expect(b.remoteState == .adminDown, "the peer's AdminDown is told apart from a failure")
        #expect(a.handle(.received(b.packet())) == [.discarded("session is administratively down")])
    }

    @Test func aPeerGoingDownTakesUsDown() {
        var (a, b) = Self.upPair()
        _ = b.handle(.timerExpired(.detect))
        let actions = a.handle(.received(b.packet()))
        #expect(a.state == .down && actions.contains(.stateChanged(.down, .neighborSignaledSessionDown)))
        #expect(a.remoteState == .down)
    }

    @Test func packetsForAnotherDiscriminatorAreDiscarded() {
        var (a, _) = Self.upPair()
        let stray = BFDPacket(
            state: .up, detectMultiplier: 3, myDiscriminator: 9, yourDiscriminator: 77, desiredMinTxInterval: 300_000,
            requiredMinRxInterval: 300_000)
        #expect(a.handle(.received(stray)) == [.discarded("your discriminator 77 is not ours")])
        #expect(a.state == .up)
    }

    @Test func aPassiveSessionWaitsToBeSpokenTo() {
        var passive = Self.session(1, passive: true)
        #expect(passive.handle(.start).isEmpty, "sends nothing before hearing from the peer")
        #expect(passive.handle(.timerExpired(.transmit)).isEmpty)
        var active = Self.session(2)
        let opening = Self.sent(active.handle(.start))
        _ = Self.exchange(&active, &passive, first: opening)
        #expect(passive.state == .up && active.state == .up)
    }

    @Test func aPeerThatWantsNoPacketsGetsNone() {
        var (a, _) = Self.upPair()
        let quiet = BFDPacket(
            state: .up, detectMultiplier: 3, myDiscriminator: 2, yourDiscriminator: 1, desiredMinTxInterval: 300_000,
            requiredMinRxInterval: 0)
        #expect(a.handle(.received(quiet)).contains(.disarm(.transmit)))
        #expect(a.handle(.timerExpired(.transmit)).isEmpty)
    }
}
