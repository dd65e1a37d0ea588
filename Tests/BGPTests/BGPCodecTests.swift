import NetCore
import Testing

@testable import BGP

/// The BGP-4 codec: every message round-trips, known wire layouts decode, and every malformed header, OPEN and
/// UPDATE gets the NOTIFICATION (or RFC 7606 treatment) the RFCs ask for.
@Suite struct BGPCodecTests {
    static let marker = [UInt8](repeating: 0xFF, count: 16)

    static let open = BGPOpen(
        asn: 4_200_000_001, holdTime: 90, identifier: 0xC000_020B,
        capabilities: [
            .multiprotocol(.ipv4Unicast), .multiprotocol(.ipv6Unicast), .routeRefresh,
            .gracefulRestart(
                restarting: true, time: 120,
                families: [
                    .init(.ipv4Unicast, forwardingPreserved: true), .init(.ipv6Unicast, forwardingPreserved: false),
                ]),
            .fourOctetAS(4_200_000_001), .unknown(code: 70, value: []),
        ])

    static func prefix(_ text: String) -> IPNetwork {
        let parts = text.split(separator: "/")
        return IPNetwork(address: IPAddress(parts[0])!, prefixLength: Int(parts[1])!)!
    }

    static let update: BGPUpdate = {
        var update = BGPUpdate(
            withdrawn: [prefix("192.0.2.200/32")],
            attributes: [
                .origin(.igp), .asPath([.init(.sequence, [4_200_000_001, 64_512]), .init(.set, [65_001, 65_002])]),
                .nextHop(IPAddress("192.0.2.11")!), .multiExitDiscriminator(10), .localPreference(200),
                .atomicAggregate,
                .aggregator(asn: 4_200_000_001, address: IPAddress("192.0.2.11")!),
                .communities([0xFDE8_0064, 0xFFFF_FF01]),
                .largeCommunities([.init(4_200_000_001, 1, 2)]),
                .unknown(flags: 0xC0, type: 99, value: [1, 2, 3]),
            ],
            nlri: [prefix("192.0.2.100/32"), prefix("198.51.100.0/24"), prefix("0.0.0.0/0")])
        return update
    }()

    static let update6 = BGPUpdate(attributes: [
        .origin(.incomplete), .asPath([]),
        .multiprotocolReach(
            family: .ipv6Unicast, nextHops: [IPAddress("2001:db8::11")!, IPAddress("fe80::1")!],
            prefixes: [prefix("2001:db8::100/128"), prefix("2001:db8:1::/48")]),
        .multiprotocolUnreach(family: .ipv6Unicast, prefixes: [prefix("2001:db8::200/128")]),
    ])

    @Test(arguments: [
        BGPMessage.open(open), .update(update), .update(update6), .update(BGPUpdate()), .keepalive,
        .notification(.cease(2, data: Array("maintenance".utf8))), .routeRefresh(.ipv6Unicast),
    ])
    func everyMessageRoundTrips(_ message: BGPMessage) throws {
        let bytes = message.encoded()
        #expect(bytes.prefix(16) == Self.marker[...])
        #expect(Int(bytes[16]) << 8 | Int(bytes[17]) == bytes.count)
        // An internal peer: LOCAL_PREF is kept.
        #expect(try BGPMessage.decode(bytes[...], external: false) == message)
    }

    @Test func twoOctetASPeersGetASTransAndTwoOctetPaths() throws {
        var open = Self.open
        open.capabilities = [.multiprotocol(.ipv4Unicast)]
        open.asn = 64_512
        let bytes = BGPMessage.open(open).encoded()
        #expect(Array(bytes[20...21]) == [0xFC, 0x00], "64512 in the 2-octet field")
        var wide = Self.open
        wide.capabilities = [.fourOctetAS(4_200_000_001)]
        #expect(Array(BGPMessage.open(wide).encoded()[20...21]) == [0x5B, 0xA0], "AS_TRANS 23456")

        let path = BGPUpdate(attributes: [.origin(.igp), .asPath([.init(.sequence, [4_200_000_001, 65_000])])])
        let narrow = BGPMessage.update(path).encoded(fourOctetAS: false)
        guard case .update(let decoded) = try BGPMessage.decode(narrow[...], fourOctetAS: false) else {
            Issue.record("not an update")
            return
        }
        #expect(decoded.attributes[1] == .asPath([.init(.sequence, [23_456, 65_000])]))
    }

    @Test func knownWireLayoutsDecode() throws {
        // KEEPALIVE: just the header.
        #expect(try BGPMessage.decode((Self.marker + [0, 19, 4])[...]) == .keepalive)
        // OPEN from AS 65001, hold 180, id 192.0.2.1, capabilities: IPv4 unicast, route refresh, 4-octet AS 65001.
        let open: [UInt8] =
            Self.marker + [
                0, 45, 1, 4, 0xFD, 0xE9, 0, 180, 192, 0, 2, 1, 16, 2, 14, 1, 4, 0, 1, 0, 1, 2, 0, 65, 4, 0, 0, 0xFD,
                0xE9,
            ]
        #expect(
            try BGPMessage.decode(open[...])
                == .open(
                    BGPOpen(
                        asn: 65_001, holdTime: 180, identifier: 0xC000_0201,
                        capabilities: [.multiprotocol(.ipv4Unicast), .routeRefresh, .fourOctetAS(65_001)])))
        // UPDATE announcing 192.0.2.100/32: ORIGIN IGP, AS_PATH (65001), NEXT_HOP 192.0.2.11.
        let update: [UInt8] =
            Self.marker + [
                0, 48, 2, 0, 0, 0, 20, 0x40, 1, 1, 0, 0x40, 2, 6, 2, 1, 0, 0, 0xFD, 0xE9, 0x40, 3, 4, 192, 0, 2, 11, 32,
                192, 0, 2, 100,
            ]
        guard case .update(let decoded) = try BGPMessage.decode(update[...]) else {
            Issue.record("not an update")
            return
        }
        #expect(decoded.announcedPrefixes == [Self.prefix("192.0.2.100/32")] && decoded.treatAsWithdraw == nil)
        #expect(
            decoded.attributes == [
                .origin(.igp), .asPath([.init(.sequence, [65_001])]), .nextHop(IPAddress("192.0.2.11")!),
            ])
    }

    // MARK: Header and OPEN errors

    @Test(arguments: [
        (Array(repeating: 0xFF, count: 15) + [0xFE, 0, 19, 4], BGPNotification.connectionNotSynchronized),
        (marker + [0, 18, 4], .badMessageLength(18)),
        (marker + [0, 20, 4, 0], .badMessageLength(20)),
        (marker + [0x10, 0x01, 2], .badMessageLength(4097)),
        (marker + [0, 28, 1] + [UInt8](repeating: 0, count: 9), .badMessageLength(28)),
        (marker + [0, 19, 9], .badMessageType(9)),
        (marker + [0, 24, 5, 0, 1, 0, 1, 0], .invalidRouteRefreshLength(marker + [0, 24, 5, 0, 1, 0, 1, 0])),
    ])
    func badHeadersGetTheirNotification(_ bytes: [UInt8], _ expected: BGPNotification) {
        #expect(throws: expected) { try BGPMessage.decode(bytes[...]) }
    }

    static func openBytes(
        version: UInt8 = 4, asn: UInt16 = 65_001, hold: UInt16 = 90, id: [UInt8] = [192, 0, 2, 1],
        parameters: [UInt8] = []
    ) -> [UInt8] {
        let body =
            [version, UInt8(asn >> 8), UInt8(asn & 0xFF), UInt8(hold >> 8), UInt8(hold & 0xFF)] + id
            + [UInt8(parameters.count)] + parameters
        return marker + [0, UInt8(19 + body.count), 1] + body
    }

    @Test(arguments: [
        (openBytes(version: 3), BGPNotification.unsupportedVersionNumber),
        (openBytes(hold: 1), .unacceptableHoldTime),
        (openBytes(hold: 2), .unacceptableHoldTime),
        (openBytes(id: [0, 0, 0, 0]), .badBGPIdentifier),
        (openBytes(asn: 0), .badPeerAS),
        (openBytes(parameters: [1, 2, 0, 0]), .unsupportedOptionalParameter),
        (openBytes(parameters: [2, 6, 65, 4, 0, 1, 0, 0]), .badPeerAS),
        (openBytes(parameters: [2, 5, 65, 3, 0, 1, 0]), .unsupportedOptionalParameter),
        (openBytes(parameters: [2, 9, 1, 4, 0, 2, 0, 1]), BGPNotification(code: 2, subcode: 0)),
    ])
    func badOpensGetTheirNotification(_ bytes: [UInt8], _ expected: BGPNotification) {
        #expect(throws: expected) { try BGPMessage.decode(bytes[...]) }
    }

    // MARK: UPDATE errors (RFC 7606)

    static let origin: [UInt8] = [0x40, 1, 1, 0]
    static let asPath: [UInt8] = [0x40, 2, 6, 2, 1, 0, 0, 0xFD, 0xE9]
    static let nextHop: [UInt8] = [0x40, 3, 4, 192, 0, 2, 11]
    static let nlri: [UInt8] = [32, 192, 0, 2, 100]

    static func updateBytes(_ attributes: [UInt8], nlri: [UInt8] = nlri, withdrawn: [UInt8] = []) -> [UInt8] {
        let body =
            [UInt8(withdrawn.count >> 8), UInt8(withdrawn.count & 0xFF)] + withdrawn
            + [UInt8(attributes.count >> 8), UInt8(attributes.count & 0xFF)] + attributes + nlri
        return marker + [UInt8((19 + body.count) >> 8), UInt8((19 + body.count) & 0xFF), 2] + body
    }

    static func decodeUpdate(_ bytes: [UInt8], external: Bool = true) throws -> BGPUpdate {
        guard case .update(let update) = try BGPMessage.decode(bytes[...], external: external) else {
            throw BGPNotification(code: 0, subcode: 0)
        }
        return update
    }

    /// Attributes whose damage leaves the message readable: the routes are treated as withdrawn, with the reason.
    @Test(arguments: [
        ([0x40, 1, 1, 3] + asPath + nextHop, BGPNotification.invalidOrigin([0x40, 1, 1, 3])),
        ([0x40, 1, 2, 0, 0] + asPath + nextHop, .attributeLengthError([0x40, 1, 2, 0, 0])),
        (origin + [0x40, 2, 6, 5, 1, 0, 0, 0xFD, 0xE9] + nextHop, .malformedASPath),
        (origin + [0x40, 2, 6, 2, 2, 0, 0, 0xFD, 0xE9] + nextHop, .malformedASPath),
        (origin + asPath + [0x40, 3, 4, 0, 0, 0, 0], .invalidNextHop([0x40, 3, 4, 0, 0, 0, 0])),
        (origin + asPath + [0x40, 3, 4, 224, 0, 0, 1], .invalidNextHop([0x40, 3, 4, 224, 0, 0, 1])),
        (origin + asPath + [0x40, 3, 3, 192, 0, 2], .attributeLengthError([0x40, 3, 3, 192, 0, 2])),
        (origin + asPath + nextHop + [0xC0, 8, 3, 1, 2, 3], .optionalAttributeError([0xC0, 8, 3, 1, 2, 3])),
        (origin + asPath + nextHop + [0xC0, 32, 4, 0, 0, 0, 1], .optionalAttributeError([0xC0, 32, 4, 0, 0, 0, 1])),
        (origin + asPath + nextHop + [0x80, 4, 2, 0, 1], .attributeLengthError([0x80, 4, 2, 0, 1])),
        ([0xC0, 1, 1, 0] + asPath + nextHop, .attributeFlagsError([0xC0, 1, 1, 0])),
        (origin + asPath, .missingWellKnownAttribute(3)),
        (origin + nextHop, .missingWellKnownAttribute(2)),
        (origin + asPath + nextHop + [0x40, 5, 9, 0], .attributeLengthError([0x40, 5, 9, 0])),
    ])
    func readableDamageIsTreatedAsWithdraw(_ attributes: [UInt8], _ reason: BGPNotification) throws {
        let update = try Self.decodeUpdate(Self.updateBytes(attributes))
        #expect(update.treatAsWithdraw == reason)
        #expect(update.announcedPrefixes.isEmpty && update.withdrawnPrefixes == [Self.prefix("192.0.2.100/32")])
    }

    @Test func someAttributesAreDiscardedAndTheRestKept() throws {
        let base = Self.origin + Self.asPath + Self.nextHop
        // ATOMIC_AGGREGATE with a value, AGGREGATOR of the wrong length, a repeated MED.
        let update = try Self.decodeUpdate(
            Self.updateBytes(
                base + [0x40, 6, 1, 0] + [0xC0, 7, 7, 0, 0, 0, 1, 192, 0, 2] + [0x80, 4, 4, 0, 0, 0, 1]
                    + [0x80, 4, 4, 0, 0, 0, 2]))
        #expect(update.treatAsWithdraw == nil && update.discarded == [6, 7, 4])
        #expect(update.attributes.last == .multiExitDiscriminator(1))
        #expect(update.announcedPrefixes == [Self.prefix("192.0.2.100/32")])
        // LOCAL_PREF is discarded from an external peer, kept from an internal one.
        let localPref = Self.updateBytes(base + [0x40, 5, 4, 0, 0, 0, 100])
        #expect(try Self.decodeUpdate(localPref, external: true).discarded == [5])
        #expect(try Self.decodeUpdate(localPref, external: false).attributes.last == .localPreference(100))
        // An unknown optional attribute is kept; one announcing nothing needs no mandatory attributes.
        let unknown = try Self.decodeUpdate(Self.updateBytes(base + [0xC0, 99, 2, 7, 7]))
        #expect(unknown.attributes.last == .unknown(flags: 0xC0, type: 99, value: [7, 7]))
        #expect(try Self.decodeUpdate(Self.updateBytes([], nlri: [])).treatAsWithdraw == nil)
    }

    /// Damage that makes the message unreadable, or that the RFCs keep fatal, resets the session.
    @Test(arguments: [
        (updateBytes(origin + asPath + nextHop, nlri: [33, 192, 0, 2, 100, 0]), BGPNotification.invalidNetworkField),
        (updateBytes(origin + asPath + nextHop, nlri: [32, 192, 0]), .invalidNetworkField),
        (updateBytes([], nlri: [], withdrawn: [40, 1, 2, 3, 4, 5]), .invalidNetworkField),
        (marker + [0, 25, 2, 0, 9, 0, 0, 0, 0], .malformedAttributeList),
        (updateBytes(origin + asPath + [0x40, 99, 1, 0]), .unrecognizedWellKnownAttribute([0x40, 99, 1, 0])),
        (
            updateBytes(origin + asPath + mpReach6(nextHopLength: 3)),
            .optionalAttributeError(mpReach6(nextHopLength: 3))
        ),
        (updateBytes(origin + asPath + mpReach6() + mpReach6(), nlri: []), .malformedAttributeList),
        (
            updateBytes(origin + asPath + [0xC0] + mpReach6().dropFirst(), nlri: []),
            .attributeFlagsError([0xC0] + mpReach6().dropFirst())
        ),
    ])
    func unreadableDamageResetsTheSession(_ bytes: [UInt8], _ expected: BGPNotification) {
        #expect(throws: expected) { try BGPMessage.decode(bytes[...]) }
    }

    /// MP_REACH_NLRI for 2001:db8::100/128 with a next hop of the given length.
    static func mpReach6(nextHopLength: Int = 16) -> [UInt8] {
        let hop = Array(IPAddress("2001:db8::11")!.bytes.prefix(nextHopLength))
        let value: [UInt8] = [0, 2, 1, UInt8(hop.count)] + hop + [0, 128] + IPAddress("2001:db8::100")!.bytes
        return [0x80, 14, UInt8(value.count)] + value
    }

    @Test func anAttributeRunningPastTheEndIsTreatedAsWithdraw() throws {
        let update = try Self.decodeUpdate(Self.updateBytes(Self.origin + Self.asPath + [0x40, 3, 9, 192, 0, 2, 11]))
        #expect(update.treatAsWithdraw?.subcode == 5)
        #expect(update.withdrawnPrefixes == [Self.prefix("192.0.2.100/32")])
    }

    // MARK: Framing

    @Test func theFramerCutsAStreamIntoMessagesByteByByte() throws {
        let messages: [BGPMessage] = [.open(Self.open), .keepalive, .update(Self.update), .update(Self.update6)]
        var framer = BGPFramer()
        var out: [BGPMessage] = []
        for byte in messages.flatMap({ $0.encoded() }) {
            framer.append([byte])
            while let message = try framer.next() { out.append(try BGPMessage.decode(message, external: false)) }
        }
        #expect(out == messages)
    }

    @Test func theFramerRejectsABadHeaderWithoutWaitingForTheBody() {
        var framer = BGPFramer()
        framer.append(Self.marker + [0xFF, 0xFF, 2])
        #expect(throws: BGPNotification.badMessageLength(0xFFFF)) { try framer.next() }
        var unsynchronized = BGPFramer()
        unsynchronized.append([UInt8](repeating: 0, count: 19))
        #expect(throws: BGPNotification.connectionNotSynchronized) { try unsynchronized.next() }
    }

    @Test func notificationsHaveTheRFCNames() {
        #expect(BGPNotification.malformedASPath.description == "UPDATE Message Error / Malformed AS_PATH")
        #expect(BGPNotification.holdTimerExpired.description == "Hold Timer Expired")
        #expect(BGPNotification.cease(2).description == "Cease / Administrative Shutdown")
    }

    /// Found by `fuzz-bgp` in its first CI run: an unknown optional attribute sent with the Extended Length bit
    /// and a short value (flags 0xF9) decoded with that bit kept, so it re-encoded (without it) as another message.
    @Test func anUnknownAttributesExtendedLengthBitIsFramingOnly() throws {
        let attributes: [UInt8] = [0x40, 1, 1, 0, 0x40, 2, 6, 2, 1, 0, 0, 0xFD, 0xFD, 0xF9, 0xFF, 0x00, 0x03, 0, 2, 1]
        let body: [UInt8] = [0, 0, 0, UInt8(attributes.count)] + attributes
        let bytes = Self.marker + [0, UInt8(19 + body.count), 2] + body
        let message = try BGPMessage.decode(bytes[...], external: false)
        guard case .update(let update) = message else {
            Issue.record("not an UPDATE: \(message)")
            return
        }
        #expect(update.attributes.last == .unknown(flags: 0xE9, type: 0xFF, value: [0, 2, 1]))
        #expect(try BGPMessage.decode(message.encoded()[...], external: false) == message)
    }
}
