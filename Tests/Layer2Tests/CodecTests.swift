import Layer2
import NetCore
import Testing

/// ARP and NDP codecs: round trips, byte layouts from the RFCs, and a typed drop reason for every bad input.
@Suite struct CodecTests {
    static let mac = MACAddress("02:00:5e:10:00:01")!
    static let asker = MACAddress("02:00:5e:10:00:02")!

    /// An ARP request as RFC 826 lays it out, written byte by byte: who has 192.0.2.100? tell 192.0.2.7.
    static let arpRequestFrame: [UInt8] =
        [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02, 0x00, 0x5E, 0x10, 0x00, 0x02, 0x08, 0x06]
        + [0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01]
        + [0x02, 0x00, 0x5E, 0x10, 0x00, 0x02, 192, 0, 2, 7]
        + [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 192, 0, 2, 100]
        + Array(repeating: 0, count: 18)

    @Test func arpRequestDecodesAndIsAnswered() throws {
        let frame = try EthernetFrame(decoding: Self.arpRequestFrame[...])
        #expect(frame.destination == .broadcast)
        #expect(frame.source == Self.asker)
        #expect(frame.etherType == EthernetFrame.arp)
        let request = try ARPPacket(decoding: frame.payload)
        #expect(request.operation == .request)
        #expect(request.senderIP == IPAddress("192.0.2.7")!)
        #expect(request.targetIP == IPAddress("192.0.2.100")!)
        let reply = request.reply(from: Self.mac)
        #expect(reply.operation == .reply)
        #expect(reply.senderMAC == Self.mac && reply.senderIP == IPAddress("192.0.2.100")!)
        #expect(reply.targetMAC == Self.asker && reply.targetIP == IPAddress("192.0.2.7")!)
        let encoded = EthernetFrame(
            destination: Self.asker, source: Self.mac, etherType: EthernetFrame.arp, payload: reply.encoded()[...]
        ).encoded()
        #expect(encoded.count == 60, "padded to the Ethernet minimum")
        #expect(Array(encoded[20..<22]) == [0x00, 0x02], "operation: reply")
        #expect(try ARPPacket(decoding: EthernetFrame(decoding: encoded[...]).payload) == reply)
    }

    @Test func gratuitousARPNamesTheVIPTwice() {
        let vip = IPAddress("192.0.2.100")!
        for operation in [ARPPacket.Operation.request, .reply] {
            let g = ARPPacket.gratuitous(operation, ip: vip, mac: Self.mac)
            #expect(g.senderIP == vip && g.targetIP == vip && g.senderMAC == Self.mac)
        }
    }

    @Test func everyTruncationOfAnARPFrameIsTruncated() {
        for length in 0..<42 {
            let result = Result { () throws(DropReason) -> ARPPacket in
                try ARPPacket(decoding: try EthernetFrame(decoding: Self.arpRequestFrame.prefix(length)).payload)
            }
            #expect(throws: DropReason.truncated, "length \(length)") { try result.get() }
        }
    }

    @Test(arguments: [
        (14, UInt8(0x06), DropReason.arpNotEthernetIPv4),  // hardware type 6
        (17, UInt8(0xDD), .arpNotEthernetIPv4),  // protocol 0x08dd
        (18, UInt8(8), .arpNotEthernetIPv4),  // hardware length 8
        (21, UInt8(3), .arpBadOperation),  // RARP request
    ])
    func badARPFieldsHaveReasons(offset: Int, value: UInt8, reason: DropReason) throws {
        var bytes = Self.arpRequestFrame
        bytes[offset] = value
        let frame = try EthernetFrame(decoding: bytes[...])
        #expect(throws: reason) { try ARPPacket(decoding: frame.payload) }
    }

    static let vip6 = IPAddress("2001:db8::100")!
    static let client6 = IPAddress("2001:db8::7")!

    static func solicitation(source: IPAddress = client6, linkLayer: MACAddress? = asker) -> NDPMessage {
        NDPMessage(
            source: source, destination: vip6.solicitedNodeMulticast!, target: vip6,
            kind: .solicitation(sourceLinkLayer: linkLayer))
    }

    @Test func solicitationLayoutAndChecksum() throws {
        let bytes = Self.solicitation().encoded()
        #expect(bytes.count == 40 + 32, "IPv6 header, NS with one link-layer option")
        #expect(bytes[0] >> 4 == 6 && bytes[6] == 58 && bytes[7] == 255)
        #expect(IPAddress(bytes: bytes[24..<40]) == IPAddress("ff02::1:ff00:100")!)
        #expect(bytes[40] == 135 && bytes[41] == 0)
        #expect(
            NDPMessage.checksum(source: Self.client6, destination: IPAddress("ff02::1:ff00:100")!, bytes[40...]) == 0,
            "a correct checksum sums to zero")
        #expect(try NDPMessage(decoding: bytes[...]) == Self.solicitation())
    }

    /// Bytes scapy 2.5 builds for the same messages (`IPv6()/ICMPv6ND_NS()/ICMPv6NDOptSrcLLAddr()` and the
    /// matching `ICMPv6ND_NA(S=1, O=1)/ICMPv6NDOptDstLLAddr()`), checksums included.
    static let scapySolicitation =
        "6000000000203aff20010db8000000000000000000000007ff0200000000000000000001ff0001008700bc13"
        + "0000000020010db8000000000000000000000100010102005e100002"
    static let scapyAdvertisement =
        "6000000000203aff20010db800000000000000000000010020010db800000000000000000000000788002a60"
        + "6000000020010db8000000000000000000000100020102005e100001"

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    @Test func encodingMatchesScapyByteForByte() {
        #expect(Self.hex(Self.solicitation().encoded()) == Self.scapySolicitation)
        #expect(Self.hex(Self.solicitation().advertisement(from: Self.mac).encoded()) == Self.scapyAdvertisement)
    }

    @Test func advertisementAnswersTheSolicitation() throws {
        let answer = Self.solicitation().advertisement(from: Self.mac)
        #expect(answer.source == Self.vip6 && answer.destination == Self.client6 && answer.target == Self.vip6)
        #expect(
            answer.kind == .advertisement(router: false, solicited: true, override: true, targetLinkLayer: Self.mac))
        let bytes = answer.encoded()
        #expect(bytes[40] == 136 && bytes[44] == 0x60, "solicited and override flags")
        #expect(try NDPMessage(decoding: bytes[...]) == answer)

        // Duplicate address detection probes (unspecified source) are answered to all nodes.
        let dad = Self.solicitation(source: IPAddress("::")!, linkLayer: nil)
        #expect(try NDPMessage(decoding: dad.encoded()[...]) == dad)
        let toAll = dad.advertisement(from: Self.mac)
        #expect(toAll.destination == IPAddress("ff02::1")! && toAll.kind != answer.kind)
        let unsolicited = NDPMessage.unsolicited(Self.vip6, mac: Self.mac)
        #expect(
            unsolicited.kind
                == .advertisement(router: false, solicited: false, override: true, targetLinkLayer: Self.mac))
    }

    /// Rewrites the ICMPv6 checksum after a test changed the message, so only the intended check fails.
    static func fixChecksum(_ bytes: inout [UInt8]) {
        bytes[42] = 0
        bytes[43] = 0
        let sum = NDPMessage.checksum(
            source: IPAddress(bytes: bytes[8..<24])!, destination: IPAddress(bytes: bytes[24..<40])!, bytes[40...])
        bytes[42] = UInt8(sum >> 8)
        bytes[43] = UInt8(sum & 0xFF)
    }

    @Test func everyNDPCheckHasItsReason() throws {
        let good = Self.solicitation().encoded()
        func mutated(_ change: (inout [UInt8]) -> Void, fix: Bool = true) -> [UInt8] {
            var b = good
            change(&b)
            if fix { Self.fixChecksum(&b) }
            return b
        }
        let cases: [([UInt8], DropReason)] = [
            (mutated({ $0[0] = 0x40 }), .ipv6BadVersion),
            (mutated({ $0[5] = 200 }), .ipv6BadPayloadLength),
            (mutated({ $0[6] = 17 }, fix: false), .notICMPv6),
            (mutated({ $0[40] = 128 }), .notNeighborDiscovery),
            (mutated({ $0[60] ^= 1 }, fix: false), .badChecksum),
            (mutated({ $0[7] = 64 }), .ndpBadHopLimit),
            (mutated({ $0[41] = 1 }), .ndpBadCode),
            (mutated({ $0[48] = 0xFF }), .ndpMulticastTarget),
            (mutated({ $0[65] = 0 }), .ndpBadOption),
            (mutated({ $0[65] = 4 }), .ndpBadOption),
            (mutated({ for i in 8..<24 { $0[i] = 0 } }), .ndpBadUnspecifiedSource),
        ]
        for (bytes, reason) in cases {
            #expect(throws: reason, "\(reason)") { try NDPMessage(decoding: bytes[...]) }
        }
        for length in 0..<good.count {
            #expect(throws: DropReason.self, "length \(length)") { try NDPMessage(decoding: good.prefix(length)) }
        }
    }

    @Test func macAddressesAndMulticastMapping() {
        #expect(Self.mac.description == "02:00:5e:10:00:01")
        #expect(MACAddress("02-00-5e-10-00-01") == Self.mac)
        #expect(MACAddress("02:00:5e:10:00") == nil)
        #expect(MACAddress.broadcast.isMulticast && !Self.mac.isMulticast)
        #expect(MACAddress.multicast(for: IPAddress("ff02::1:ff00:100")!).description == "33:33:ff:00:01:00")
        #expect(IPAddress("2001:db8::1:2345:6789")!.solicitedNodeMulticast == IPAddress("ff02::1:ff45:6789")!)
    }
}
