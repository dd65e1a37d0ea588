import BGP
import NetCore
import PylonTestKit
import Testing

/// BGP messages real routers sent (Captures/, from scripts/capture-frames): BIRD's OPEN, UPDATEs, KEEPALIVE and
/// NOTIFICATION, and GoBGP's and FRR's OPEN and KEEPALIVE. Pylon must read each as the router meant it, and write
/// back what it read unchanged.
@Suite struct CapturedMessagesTests {
    static func message(_ name: String) throws -> (bytes: [UInt8], message: BGPMessage) {
        let bytes = try Capture(name).bytes
        return (bytes, try BGPMessage.decode(bytes[...], fourOctetAS: true, external: true))
    }

    static func open(_ name: String) throws -> BGPOpen {
        guard case .open(let open) = try message(name).message else { throw TestFailure("\(name) is not an OPEN") }
        return open
    }

    static func update(_ name: String) throws -> BGPUpdate {
        guard case .update(let update) = try message(name).message else {
            throw TestFailure("\(name) is not an UPDATE")
        }
        return update
    }

    @Test func birdsOpen() throws {
        let open = try Self.open("bird-open-1")
        #expect(open.asn == 64_501 && open.holdTime == 9 && open.identifier == 0xC000_0202)
        #expect(open.families == [.ipv4Unicast, .ipv6Unicast] && open.supportsFourOctetAS && open.supportsRouteRefresh)
        #expect(open.capabilities.contains(.gracefulRestart(restarting: false, time: 120, families: [])))
        // Enhanced route refresh (70) and long-lived graceful restart (71): kept, not understood.
        #expect(open.capabilities.contains(.unknown(code: 70, value: [])))
        #expect(open.capabilities.contains(.unknown(code: 71, value: [])))
    }

    @Test func goBGPsOpen() throws {
        let open = try Self.open("gobgp-open-1")
        #expect(open.asn == 64_500 && open.holdTime == 9 && open.identifier == 0xC000_0201)
        #expect(open.families == [.ipv4Unicast, .ipv6Unicast] && open.supportsFourOctetAS)
        #expect(open.capabilities.contains { if case .unknown(73, _) = $0 { true } else { false } }, "FQDN")
    }

    @Test func frrsOpenWithOneParameterPerCapability() throws {
        let bytes = try Capture("frr-open-1").bytes
        #expect(bytes[29] == 2 && bytes[30] == 6, "FRR sends each capability in a parameter of its own")
        let open = try Self.open("frr-open-1")
        #expect(open.asn == 64_500 && open.holdTime == 9 && open.identifier == 0xC000_0201)
        #expect(open.families == [.ipv4Unicast, .ipv6Unicast] && open.supportsFourOctetAS && open.supportsRouteRefresh)
        let hostname = open.capabilities.compactMap { if case .unknown(73, let value) = $0 { value } else { nil } }
        #expect(hostname.first.map { String(decoding: $0.dropFirst().prefix(7), as: UTF8.self) } == "capture")
    }

    @Test func birdsIPv4Update() throws {
        let update = try Self.update("bird-update-1")
        #expect(update.nlri == [IPNetwork("198.51.100.0/24")!] && update.withdrawn.isEmpty)
        #expect(update.treatAsWithdraw == nil && update.discarded.isEmpty)
        #expect(
            update.attributes == [
                .origin(.igp), .asPath([.init(.sequence, [64_501])]), .nextHop(IPAddress("192.0.2.2")!),
                .communities([64_501 << 16 | 100]), .largeCommunities([.init(64_501, 1, 2)]),
            ])
    }

    @Test func birdsIPv6UpdateCarriesBothNextHops() throws {
        let update = try Self.update("bird-update-3")
        #expect(update.announcedPrefixes == [IPNetwork("2001:db8:100::/48")!])
        let reach = update.attributes.first { if case .multiprotocolReach = $0 { true } else { false } }
        #expect(
            reach
                == .multiprotocolReach(
                    family: .ipv6Unicast, nextHops: [IPAddress("2001:db8::2")!, IPAddress("fe80::ff:fe00:b")!],
                    prefixes: [IPNetwork("2001:db8:100::/48")!]))
    }

    @Test func birdsEndOfRIBMarkers() throws {
        #expect(try Self.update("bird-update-2").isEndOfRIB, "IPv4: an empty UPDATE")
        #expect(try Self.update("bird-update-4").isEndOfRIB, "IPv6: an empty MP_UNREACH_NLRI")
    }

    @Test func keepalivesAndBirdsCease() throws {
        for name in ["bird-keepalive-1", "gobgp-keepalive-1", "frr-keepalive-1"] {
            #expect(try Self.message(name).message == .keepalive, "\(name)")
        }
        let notification = try Self.message("bird-notification-1").message
        #expect(notification == .notification(BGPNotification(code: 6, subcode: 2)), "Cease: administrative shutdown")
    }

    @Test(arguments: [
        "bird-open-1", "gobgp-open-1", "bird-update-1", "bird-update-2", "bird-update-4", "bird-keepalive-1",
        "bird-notification-1",
    ])
    func whatIsReadIsWrittenBackUnchanged(_ name: String) throws {
        let (bytes, message) = try Self.message(name)
        #expect(message.encoded(fourOctetAS: true) == bytes)
    }

    /// BIRD sets the Extended Length flag on MP_REACH_NLRI whatever its length; Pylon only past 255 bytes. RFC 4271
    /// §4.3 allows both, so the bytes differ there by the flag and one length octet, and the meaning not at all.
    @Test func birdsExtendedLengthIsFramingOnly() throws {
        let (bytes, message) = try Self.message("bird-update-3")
        let ours = message.encoded(fourOctetAS: true)
        #expect(bytes[23] == 0x90 && ours[23] == 0x80, "optional, extended length vs optional")
        #expect(ours.count == bytes.count - 1)
        #expect(try BGPMessage.decode(ours[...], fourOctetAS: true, external: true) == message)
    }
}
