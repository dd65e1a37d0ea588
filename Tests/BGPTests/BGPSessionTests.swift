import NetCore
import Testing

@testable import BGP

/// The session state machine, driven event by event (no sockets, no clock).
@Suite struct BGPSessionTests {
    static let configuration = BGPSession.Configuration(
        localASN: 64_512, peerASN: 64_500, routerID: 0xC000_020B, holdTime: 90)

    static func peerOpen(asn: UInt32 = 64_500, hold: UInt16 = 30, id: UInt32 = 0xC000_0201) -> BGPOpen {
        BGPOpen(
            asn: asn, holdTime: hold, identifier: id,
            capabilities: [.multiprotocol(.ipv4Unicast), .routeRefresh, .fourOctetAS(asn)])
    }

    /// A session driven to Established.
    static func established() -> BGPSession {
        var session = BGPSession(configuration)
        _ = session.handle(.start)
        _ = session.handle(.connected)
        _ = session.handle(.received(.open(peerOpen())))
        _ = session.handle(.received(.keepalive))
        return session
    }

    @Test func aSessionComesUpAndNegotiates() {
        var session = BGPSession(Self.configuration)
        #expect(session.handle(.start) == [.connect, .arm(.connectRetry, .seconds(1))])
        #expect(session.state == .connect)
        #expect(
            session.handle(.connected) == [
                .disarm(.connectRetry), .send(.open(session.open)), .arm(.hold, .seconds(240)),
            ])
        #expect(session.open.capabilities.contains(.fourOctetAS(64_512)))
        #expect(session.open.families == [.ipv4Unicast, .ipv6Unicast])
        // The peer proposes 30 s: the lower hold time wins, keepalives every 10 s.
        #expect(
            session.handle(.received(.open(Self.peerOpen()))) == [
                .send(.keepalive), .arm(.keepalive, .seconds(10)), .arm(.hold, .seconds(30)),
            ])
        #expect(session.state == .openConfirm)
        let up = session.handle(.received(.keepalive))
        #expect(session.state == .established)
        guard case .established(let negotiated) = up.last else {
            Issue.record("no established action: \(up)")
            return
        }
        #expect(negotiated.holdTime == 30 && negotiated.keepaliveTime == 10 && negotiated.fourOctetAS)
        #expect(negotiated.families == [.ipv4Unicast], "the peer offers IPv4 only")
    }

    @Test func bfdDownEndsTheSessionWithCeaseAndRetries() {
        var session = Self.established()
        #expect(
            session.handle(.bfdDown("control detection time expired")) == [
                .send(.notification(.cease(10))), .close, .disarm(.hold), .disarm(.keepalive),
                .down("BFD: control detection time expired"), .arm(.connectRetry, .seconds(1)),
            ])
        #expect(session.state == .idle)
        #expect(session.handle(.bfdDown("again")) == [], "without a connection there is nothing to end")
    }

    @Test func establishedSessionsKeepAliveAndPassUpdatesOn() {
        var session = Self.established()
        #expect(session.handle(.timerExpired(.keepalive)) == [.send(.keepalive), .arm(.keepalive, .seconds(10))])
        #expect(session.handle(.received(.keepalive)) == [.arm(.hold, .seconds(30))])
        let update = BGPUpdate(withdrawn: [IPNetwork(address: IPAddress("192.0.2.1")!, prefixLength: 32)!])
        #expect(session.handle(.received(.update(update))) == [.arm(.hold, .seconds(30)), .routes(update)])
        #expect(session.handle(.received(.routeRefresh(.ipv4Unicast))) == [.arm(.hold, .seconds(30)), .resendRoutes])
    }

    @Test func aSilentPeerExpiresTheHoldTimerAndTheSessionRetries() {
        var session = Self.established()
        #expect(
            session.handle(.timerExpired(.hold)) == [
                .send(.notification(.holdTimerExpired)), .close, .disarm(.hold), .disarm(.keepalive),
                .down("hold timer expired"), .arm(.connectRetry, .seconds(1)),
            ])
        #expect(session.state == .idle && session.negotiated == nil)
        #expect(session.handle(.timerExpired(.connectRetry)) == [.close, .connect, .arm(.connectRetry, .seconds(2))])
        #expect(session.state == .connect)
    }

    @Test func retriesBackOffUpToTheMaximumAndResetOnceEstablished() {
        var session = BGPSession(Self.configuration)
        _ = session.handle(.start)
        var intervals: [Duration] = []
        for _ in 0..<7 {
            _ = session.handle(.connectionFailed("refused"))
            #expect(session.state == .active)
            for case .arm(.connectRetry, let d) in session.handle(.timerExpired(.connectRetry)) { intervals.append(d) }
        }
        #expect(intervals.map { $0 / .seconds(1) } == [2, 4, 8, 16, 30, 30, 30])
        _ = session.handle(.connected)
        _ = session.handle(.received(.open(Self.peerOpen())))
        _ = session.handle(.received(.keepalive))
        _ = session.handle(.connectionClosed)
        #expect(session.state == .idle)
    }

    @Test(arguments: [
        (BGPSessionTests.peerOpen(asn: 64_999), BGPNotification.badPeerAS)
    ])
    func aWrongPeerIsRefused(_ open: BGPOpen, _ notification: BGPNotification) {
        var session = BGPSession(Self.configuration)
        _ = session.handle(.start)
        _ = session.handle(.connected)
        let actions = session.handle(.received(.open(open)))
        #expect(actions.first == .send(.notification(notification)) && actions.contains(.close))
        #expect(session.state == .idle)
    }

    @Test func iBGPPeersMustNotShareTheRouterID() {
        var configuration = Self.configuration
        configuration.peerASN = 64_512
        var session = BGPSession(configuration)
        _ = session.handle(.start)
        _ = session.handle(.connected)
        let actions = session.handle(.received(.open(Self.peerOpen(asn: 64_512, id: 0xC000_020B))))
        #expect(actions.first == .send(.notification(.badBGPIdentifier)))
    }

    @Test func unexpectedMessagesAreFiniteStateMachineErrors() {
        var session = BGPSession(Self.configuration)
        _ = session.handle(.start)
        _ = session.handle(.connected)
        #expect(session.handle(.received(.keepalive)).first == .send(.notification(.fsmError(1))))
        var established = Self.established()
        #expect(established.handle(.received(.open(Self.peerOpen()))).first == .send(.notification(.fsmError(3))))
    }

    @Test func malformedInputAndPeerNotificationsEndTheSession() {
        var session = Self.established()
        let actions = session.handle(.malformed(.malformedASPath))
        #expect(actions.first == .send(.notification(.malformedASPath)) && session.state == .idle)
        var other = Self.established()
        let closed = other.handle(.received(.notification(.cease(2))))
        #expect(
            !closed.contains { if case .send = $0 { return true } else { return false } }, "no reply to a NOTIFICATION")
        #expect(closed.contains(.down("peer sent NOTIFICATION Cease / Administrative Shutdown")))
    }

    @Test func stoppingSendsCeaseAndStaysDown() {
        var session = Self.established()
        let actions = session.handle(.stop(subcode: 2))
        #expect(actions.first == .send(.notification(.cease(2))))
        #expect(actions.contains(.down("stopped")))
        #expect(session.handle(.timerExpired(.connectRetry)) == [], "no retry after a stop")
    }

    /// Graceful restart (RFC 4724): offered in OPEN with the restart time and preserved forwarding per family;
    /// negotiated only when the peer offers it too; then a stop closes without a NOTIFICATION (the router keeps the
    /// routes), otherwise it still sends Cease.
    @Test(arguments: [true, false]) func gracefulRestartKeepsTheRoutesOnlyWhenBothOfferIt(_ peerOffers: Bool) {
        var configuration = Self.configuration
        configuration.restartTime = 120
        var session = BGPSession(configuration)
        #expect(
            session.open.capabilities.contains(
                .gracefulRestart(
                    restarting: false, time: 120,
                    families: [
                        .init(.ipv4Unicast, forwardingPreserved: true), .init(.ipv6Unicast, forwardingPreserved: true),
                    ])))
        var peer = Self.peerOpen()
        if peerOffers {
            peer.capabilities.append(
                .gracefulRestart(
                    restarting: false, time: 90, families: [.init(.ipv4Unicast, forwardingPreserved: false)]))
        }
        _ = session.handle(.start)
        _ = session.handle(.connected)
        _ = session.handle(.received(.open(peer)))
        let up = session.handle(.received(.keepalive))
        guard case .established(let negotiated) = up.last else {
            Issue.record("not established: \(up)")
            return
        }
        #expect(negotiated.gracefulRestart == peerOffers)
        let stop = session.handle(.stop(subcode: 2))
        #expect(stop.contains(.send(.notification(.cease(2)))) == !peerOffers)
        #expect(stop.contains(.close))
    }

    @Test func endOfRIBMarkersRoundTrip() throws {
        for family in [AddressFamily.ipv4Unicast, .ipv6Unicast] {
            let marker = BGPUpdate.endOfRIB(family)
            #expect(marker.isEndOfRIB)
            let decoded = try BGPMessage.decode(ArraySlice(BGPMessage.update(marker).encoded()))
            guard case .update(let update) = decoded else {
                Issue.record("not an UPDATE: \(decoded)")
                continue
            }
            #expect(update.isEndOfRIB && update == marker)
        }
        #expect(BGPMessage.update(.endOfRIB(.ipv4Unicast)).encoded().count == 23, "header and two empty lengths")
        #expect(!BGPUpdate(withdrawn: [IPNetwork("192.0.2.1/32")!]).isEndOfRIB)
    }

    @Test func holdTimeZeroMeansNoKeepalivesAndNoHoldTimer() {
        var configuration = Self.configuration
        configuration.holdTime = 0
        var session = BGPSession(configuration)
        _ = session.handle(.start)
        _ = session.handle(.connected)
        #expect(session.handle(.received(.open(Self.peerOpen()))) == [.send(.keepalive), .disarm(.hold)])
    }
}
