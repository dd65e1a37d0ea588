import Layer2
import NetCore
import PylonTestKit
import Testing

/// Frames real peers sent (Captures/, from scripts/capture-frames): iputils' arping and ndisc6 asking, the Linux
/// kernel answering for its own addresses. Pylon must read what they send, and answer as the kernel answers.
@Suite struct CapturedFramesTests {
    static let asker = MACAddress("02:00:00:00:00:0a")!
    static let answerer = MACAddress("02:00:00:00:00:0b")!

    @Test func arpingsRequestDecodes() throws {
        let frame = try EthernetFrame(decoding: try Capture("arp-request-arping").bytes[...])
        #expect(frame.destination == .broadcast && frame.source == Self.asker)
        let request = try ARPPacket(decoding: frame.payload)
        #expect(request.operation == .request)
        #expect(request.senderMAC == Self.asker && request.senderIP == IPAddress("192.0.2.1")!)
        #expect(request.targetIP == IPAddress("192.0.2.2")!)
    }

    @Test func pylonsARPReplyIsTheKernelsByteForByte() throws {
        let request = try ARPPacket(
            decoding: try EthernetFrame(decoding: try Capture("arp-request-arping").bytes[...]).payload)
        let kernel = try Capture("arp-reply-linux").bytes
        let reply = request.reply(from: Self.answerer)
        let ours = EthernetFrame(
            destination: request.senderMAC, source: Self.answerer, etherType: EthernetFrame.arp,
            payload: reply.encoded()[...]
        ).encoded()
        // The kernel hands a veth its 42-byte frame unpadded; Pylon pads to Ethernet's 60 bytes with zeros.
        #expect(Array(ours.prefix(kernel.count)) == kernel)
        #expect(ours.count == 60 && ours.dropFirst(kernel.count).allSatisfy { $0 == 0 })
        #expect(try ARPPacket(decoding: EthernetFrame(decoding: kernel[...]).payload) == reply)
    }

    @Test func ndisc6sSolicitationDecodes() throws {
        let frame = try EthernetFrame(decoding: try Capture("ns-ndisc6").bytes[...])
        #expect(frame.source == Self.asker && frame.etherType == EthernetFrame.ipv6)
        let solicitation = try NDPMessage(decoding: frame.payload)
        #expect(solicitation.source == IPAddress("fe80::ff:fe00:a")!, "ndisc6 asks from the link-local address")
        #expect(solicitation.destination == IPAddress("2001:db8::2")!.solicitedNodeMulticast!)
        #expect(solicitation.target == IPAddress("2001:db8::2")!)
        #expect(solicitation.kind == .solicitation(sourceLinkLayer: Self.asker))
    }

    @Test func pylonsNeighborAdvertisementIsTheKernelsByteForByte() throws {
        let solicitation = try NDPMessage(
            decoding: try EthernetFrame(decoding: try Capture("ns-ndisc6").bytes[...]).payload)
        let kernel = try EthernetFrame(decoding: try Capture("na-linux").bytes[...])
        let ours = solicitation.advertisement(from: Self.answerer)
        #expect(ours.encoded() == Array(kernel.payload), "IPv6 header, flags, option and checksum alike")
        #expect(try NDPMessage(decoding: kernel.payload) == ours)
        #expect(kernel.destination == Self.asker && kernel.source == Self.answerer)
    }
}
