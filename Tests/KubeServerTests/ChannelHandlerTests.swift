import Logging
import NIOCore
import NIOEmbedded
import NIOTLS
import Testing

@testable import KubeServer

/// The API server's own channel handlers, driven without sockets (`EmbeddedChannel`, a virtual clock).
@Suite struct ChannelHandlerTests {
    static func buffer(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }

    // MARK: PlainHTTPRejector

    @Test func plainHTTPIsAnsweredWith400AndClosed() throws {
        let channel = EmbeddedChannel(handler: PlainHTTPRejector())
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6443)).wait()
        try channel.writeInbound(Self.buffer(Array("GET /api HTTP/1.1\r\nHost: x\r\n\r\n".utf8)))
        let reply = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(String(buffer: reply) == PlainHTTPRejector.response)
        #expect(String(buffer: reply).hasPrefix("HTTP/1.0 400 Bad Request\r\n"))
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil, "nothing reaches the TLS handler")
        #expect(!channel.isActive, "closed after the answer")
    }

    @Test func aTLSHandshakePassesAndTheRejectorStepsAside() throws {
        let channel = EmbeddedChannel(handler: PlainHTTPRejector())
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6443)).wait()
        let hello = Self.buffer([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5])
        try channel.writeInbound(hello)
        #expect(try channel.readInbound(as: ByteBuffer.self) == hello, "the record passes untouched")
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        #expect(throws: (any Error).self) { try channel.pipeline.syncOperations.handler(type: PlainHTTPRejector.self) }
        #expect(channel.isActive)
        _ = try channel.finish()
    }

    @Test func anEmptyReadIsIgnored() throws {
        let channel = EmbeddedChannel(handler: PlainHTTPRejector())
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6443)).wait()
        try channel.writeInbound(Self.buffer([]))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        #expect(channel.isActive, "a first byte decides, and none has come")
        _ = try channel.finish()
    }

    // MARK: ClientGate

    /// A connected channel from `client` behind a `ClientGate`, added to the active channel as the server adds it.
    static func gated(_ limiter: ClientLimiter, from client: String) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6443)).wait()
        channel.remoteAddress = try SocketAddress(ipAddress: client, port: 40_000)
        try channel.pipeline.syncOperations.addHandler(ClientGate(limiter: limiter, logger: Logger(label: "test")))
        return channel
    }

    @Test func oneConnectionTooManyFromAnAddressIsClosedAtOnce() throws {
        let limiter = ClientLimiter(limits: ClientLimits(connectionsPerClient: 2))
        let first = try Self.gated(limiter, from: "127.0.0.2")
        let second = try Self.gated(limiter, from: "127.0.0.2")
        let third = try Self.gated(limiter, from: "127.0.0.2")
        let other = try Self.gated(limiter, from: "127.0.0.3")
        #expect(first.isActive && second.isActive && other.isActive)
        #expect(!third.isActive, "the third from one address is closed")
        #expect(limiter.count(.connection, for: "127.0.0.2") == 2)
        _ = try first.finish()
        #expect(limiter.count(.connection, for: "127.0.0.2") == 1, "a closed connection gives its place back")
        let again = try Self.gated(limiter, from: "127.0.0.2")
        #expect(again.isActive)
        for channel in [second, other, again] { _ = try channel.finish() }
        #expect(limiter.count(.connection, for: "127.0.0.2") == 0)
    }

    @Test func aHandshakeNotDoneInTimeClosesTheConnection() throws {
        let limiter = ClientLimiter(limits: ClientLimits(handshakeTimeout: .seconds(10)))
        let slow = try Self.gated(limiter, from: "127.0.0.2")
        let quick = try Self.gated(limiter, from: "127.0.0.2")
        quick.pipeline.fireUserInboundEventTriggered(TLSUserEvent.handshakeCompleted(negotiatedProtocol: nil))
        slow.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(slow.isActive, "before the deadline")
        slow.embeddedEventLoop.advanceTime(by: .seconds(2))
        quick.embeddedEventLoop.advanceTime(by: .seconds(11))
        #expect(!slow.isActive, "closed at the deadline")
        #expect(quick.isActive, "a completed handshake cancels the deadline")
        #expect(limiter.count(.connection, for: "127.0.0.2") == 1)
        _ = try quick.finish()
    }

    @Test func aClientThatClosedItsSideIsClosed() throws {
        let limiter = ClientLimiter(limits: ClientLimits())
        let channel = try Self.gated(limiter, from: "127.0.0.2")
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(!channel.isActive)
        #expect(limiter.count(.connection, for: "127.0.0.2") == 0)
    }
}
