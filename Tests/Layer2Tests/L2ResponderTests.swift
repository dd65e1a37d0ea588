import Layer2
import NetCore
import Netlink
import Testing

/// The responder's decisions: answer only requests for announced addresses, never a conflicting claim, never our
/// own frames; announcements in the form hosts accept.
@Suite struct L2ResponderTests {
    static let mac = CodecTests.mac
    static let vip = IPAddress("192.0.2.100")!

    @Test func answersAnARPRequestForAnAnnouncedAddressOnly() throws {
        let frame = CodecTests.arpRequestFrame[...]
        guard case .reply(let out, let ip) = L2Responder.respond(to: frame, mac: Self.mac, announced: [Self.vip]) else {
            Issue.record("no reply")
            return
        }
        #expect(ip == Self.vip)
        let ethernet = try EthernetFrame(decoding: out[...])
        #expect(ethernet.destination == CodecTests.asker && ethernet.source == Self.mac)
        let reply = try ARPPacket(decoding: ethernet.payload)
        #expect(reply.operation == .reply && reply.senderIP == Self.vip && reply.senderMAC == Self.mac)
        #expect(
            L2Responder.respond(to: frame, mac: Self.mac, announced: [IPAddress("192.0.2.101")!])
                == .drop(.notAnnounced))
        #expect(L2Responder.respond(to: frame, mac: Self.mac, announced: []) == .drop(.notAnnounced))
    }

    @Test func neverAnswersAClaimOnItsAddressOrItsOwnFrames() {
        let claim = ARPPacket.gratuitous(.request, ip: Self.vip, mac: CodecTests.asker)
        let frame = EthernetFrame(
            destination: .broadcast, source: CodecTests.asker, etherType: EthernetFrame.arp,
            payload: claim.encoded()[...]
        ).encoded()
        #expect(L2Responder.respond(to: frame[...], mac: Self.mac, announced: [Self.vip]) == .drop(.conflict))
        let own = L2Responder.announcements(of: Self.vip, mac: Self.mac)
        #expect(own.count == 2, "gratuitous request and reply")
        for frame in own {
            #expect(L2Responder.respond(to: frame[...], mac: Self.mac, announced: [Self.vip]) == .drop(.ownFrame))
        }
        let reply = ARPPacket(
            operation: .reply, senderMAC: CodecTests.asker, senderIP: IPAddress("192.0.2.7")!, targetMAC: Self.mac,
            targetIP: Self.vip)
        let replyFrame = EthernetFrame(
            destination: Self.mac, source: CodecTests.asker, etherType: EthernetFrame.arp, payload: reply.encoded()[...]
        ).encoded()
        #expect(L2Responder.respond(to: replyFrame[...], mac: Self.mac, announced: [Self.vip]) == .drop(.notARequest))
        #expect(L2Responder.respond(to: [1, 2, 3][...], mac: Self.mac, announced: [Self.vip]) == .drop(.truncated))
    }

    @Test func answersASolicitationToTheAskerAndDefendsAgainstDuplicateDetection() throws {
        let solicitation = CodecTests.solicitation()
        let frame = EthernetFrame(
            destination: MACAddress.multicast(for: solicitation.destination), source: CodecTests.asker,
            etherType: EthernetFrame.ipv6, payload: solicitation.encoded()[...]
        ).encoded()
        guard
            case .reply(let out, _) = L2Responder.respond(
                to: frame[...], mac: Self.mac, announced: [solicitation.target])
        else {
            Issue.record("no advertisement")
            return
        }
        let ethernet = try EthernetFrame(decoding: out[...])
        #expect(ethernet.destination == CodecTests.asker)
        let answer = try NDPMessage(decoding: ethernet.payload)
        #expect(answer.target == solicitation.target && answer.destination == solicitation.source)
        #expect(
            answer.kind == .advertisement(router: false, solicited: true, override: true, targetLinkLayer: Self.mac))

        // Duplicate address detection (unspecified source) for our address: answered to all nodes, not solicited.
        let probe = NDPMessage(
            source: IPAddress("::")!, destination: solicitation.target.solicitedNodeMulticast!,
            target: solicitation.target, kind: .solicitation(sourceLinkLayer: nil))
        let probeFrame = EthernetFrame(
            destination: MACAddress.multicast(for: probe.destination), source: CodecTests.asker,
            etherType: EthernetFrame.ipv6, payload: probe.encoded()[...]
        ).encoded()
        guard
            case .reply(let defended, _) = L2Responder.respond(
                to: probeFrame[...], mac: Self.mac, announced: [solicitation.target])
        else {
            Issue.record("DAD probe not answered")
            return
        }
        let defence = try NDPMessage(decoding: try EthernetFrame(decoding: defended[...]).payload)
        #expect(defence.destination == IPAddress("ff02::1")!)
        #expect(
            defence.kind == .advertisement(router: false, solicited: false, override: true, targetLinkLayer: Self.mac))
        #expect(L2Responder.respond(to: frame[...], mac: Self.mac, announced: []) == .drop(.notAnnounced))
    }

    @Test func unsolicitedAdvertisementGoesToAllNodes() throws {
        let vip6 = IPAddress("2001:db8::100")!
        let frames = L2Responder.announcements(of: vip6, mac: Self.mac)
        #expect(frames.count == 1)
        let ethernet = try EthernetFrame(decoding: frames[0][...])
        #expect(ethernet.destination == MACAddress("33:33:00:00:00:01")!)
        let message = try NDPMessage(decoding: ethernet.payload)
        #expect(message.target == vip6 && message.destination == IPAddress("ff02::1")!)
    }

    @Test func interfaceEligibility() {
        let up: Link.Flags = [.up, .lowerUp, .broadcast]
        let cases: [(String, Link.Flags, Int32?, InterfaceFilter.Ineligibility?)] = [
            ("eth0", up, nil, nil),
            ("eth0", [.lowerUp, .broadcast], nil, .down),
            ("eth0", [.up, .broadcast], nil, .noCarrier),
            ("eth0", [.up, .lowerUp], nil, .notBroadcast),
            ("eth0", up.union(.noARP), nil, .noARP),
            ("eth0", up, 4, .enslaved),
            ("veth1a2b", up, nil, .excluded),
            ("cni0", up, nil, .excluded),
            ("lo", up, nil, .excluded),
        ]
        for (name, flags, master, expected) in cases {
            let link = Link(index: 2, name: name, flags: flags, address: Self.mac.bytes, master: master)
            #expect(InterfaceFilter().ineligibility(of: link) == expected, "\(name) \(flags)")
        }
    }

    @Test func includeAndExcludePatterns() {
        let up: Link.Flags = [.up, .lowerUp, .broadcast]
        let filter = InterfaceFilter(include: ["eth*", "bond0"], exclude: ["eth9"])
        #expect(filter.ineligibility(of: Link(index: 2, name: "eth1", flags: up, address: Self.mac.bytes)) == nil)
        #expect(filter.ineligibility(of: Link(index: 2, name: "bond0", flags: up, address: Self.mac.bytes)) == nil)
        #expect(
            filter.ineligibility(of: Link(index: 2, name: "eth9", flags: up, address: Self.mac.bytes)) == .excluded)
        #expect(
            filter.ineligibility(of: Link(index: 2, name: "ens3", flags: up, address: Self.mac.bytes)) == .notIncluded)
        let loopback = Link(index: 1, name: "lo", hardwareType: 772, flags: up, address: [0, 0, 0, 0, 0, 0])
        #expect(InterfaceFilter(exclude: []).ineligibility(of: loopback) == .notEthernet)
    }
}
