import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import Speaker

/// The speaker's channel handlers, driven without sockets.
@Suite struct SpeakerChannelHandlerTests {
    struct Failure: Error {}

    final class Seen: Sendable {
        let datagrams = Mutex<[(bytes: [UInt8], from: String)]>([])
        let errors = Mutex(0)
        let closes = Mutex(0)
    }

    static func envelope(_ bytes: [UInt8], from: String) throws -> AddressedEnvelope<ByteBuffer> {
        AddressedEnvelope(remoteAddress: try SocketAddress(ipAddress: from, port: 3784), data: ByteBuffer(bytes: bytes))
    }

    @Test func theDatagramReceiverPassesDatagramsOnAndSurvivesSocketErrors() throws {
        let seen = Seen()
        let receiver = DatagramReceiver(
            onDatagram: { envelope, _ in
                seen.datagrams.withLock {
                    $0.append((Array(envelope.data.readableBytesView), envelope.remoteAddress.ipAddress ?? "?"))
                }
            },
            onError: { _ in seen.errors.withLock { $0 += 1 } })
        let channel = EmbeddedChannel(handler: receiver)
        try channel.connect(to: SocketAddress(ipAddress: "192.0.2.1", port: 3784)).wait()
        try channel.writeInbound(try Self.envelope([1, 2, 3], from: "192.0.2.10"))
        channel.pipeline.fireErrorCaught(Failure())
        #expect(seen.errors.withLock { $0 } == 1)
        #expect(channel.isActive, "an ICMP error for one datagram does not close the socket")
        try channel.writeInbound(try Self.envelope([4], from: "2001:db8::a"))
        let datagrams = seen.datagrams.withLock { $0 }
        #expect(datagrams.map(\.bytes) == [[1, 2, 3], [4]])
        #expect(datagrams.map(\.from) == ["192.0.2.10", "2001:db8::a"])
        _ = try channel.finish()
    }

    @Test func theDescriptorChannelsHandlerClosesOnAnErrorSoItsOwnerReopens() throws {
        let seen = Seen()
        let handler = DescriptorChannel.DatagramHandler(
            { bytes in seen.datagrams.withLock { $0.append((Array(bytes), "")) } },
            { seen.closes.withLock { $0 += 1 } })
        let channel = EmbeddedChannel(handler: handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(ByteBuffer(bytes: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))
        #expect(seen.datagrams.withLock { $0.map(\.bytes) } == [[0xff, 0xff, 0xff, 0xff, 0xff, 0xff]])
        #expect(seen.closes.withLock { $0 } == 0)
        channel.pipeline.fireErrorCaught(Failure())  // ENOBUFS on a netlink socket, say
        #expect(!channel.isActive)
        #expect(seen.closes.withLock { $0 } == 1, "the owner hears of the close")
    }
}
