import NIOCore
import NIOEmbedded
import Testing

@testable import PylonTestSupport

/// The fault-injecting proxy's forwarder, driven without sockets: client and server sides are embedded channels.
@Suite struct FaultProxyTests {
    static func connected() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    @Test func clientBytesPassUntouched() throws {
        let client = try Self.connected()
        let server = try Self.connected()
        let pair = FaultProxy.ProxyPair(client: client)
        pair.server = server
        try client.pipeline.syncOperations.addHandler(FaultProxy.Forward(peer: server, pair: pair, counting: false))
        try client.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"))
        #expect(try server.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"))
        _ = try client.finish()
        _ = try server.finish()
    }

    @Test func anArmedCutClosesBothSidesAfterExactlyThatManyServerBytes() throws {
        let client = try Self.connected()
        let server = try Self.connected()
        let pair = FaultProxy.ProxyPair(client: client)
        pair.server = server
        pair.remaining = 5
        try server.pipeline.syncOperations.addHandler(FaultProxy.Forward(peer: client, pair: pair, counting: true))
        try server.writeInbound(ByteBuffer(string: "abc"))
        client.embeddedEventLoop.run()
        #expect(try client.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "abc"))
        #expect(client.isActive && pair.remaining == 2)
        try server.writeInbound(ByteBuffer(string: "defgh"))
        client.embeddedEventLoop.run()
        #expect(try client.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "de"), "cut in the middle")
        #expect(!client.isActive && !server.isActive, "both sides closed")
    }
}
