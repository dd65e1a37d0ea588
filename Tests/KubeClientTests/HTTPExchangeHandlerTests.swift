import NIOCore
import NIOEmbedded
import Testing

@testable import KubeClient

/// The client's connection handler, driven without sockets: the bytes a server would send are written inbound.
@Suite struct HTTPExchangeHandlerTests {
    static let request = ByteBuffer(string: "GET /api HTTP/1.1\r\nHost: x\r\n\r\n")

    /// A connected channel with the handler and one exchange started on it.
    static func exchange(
        deadline: NIODeadline = .now() + .seconds(30)
    ) throws -> (EmbeddedChannel, HTTPExchangeHandler, EventLoopFuture<HTTPExchangeHandler.Response>) {
        let handler = HTTPExchangeHandler(maximumBodyBytes: 1024, idleTimeout: .seconds(60), tls: false)
        let channel = EmbeddedChannel(handler: handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6443)).wait()
        let promise = channel.embeddedEventLoop.makePromise(of: HTTPExchangeHandler.Response.self)
        handler.start(Self.request, bodyAllowed: true, deadline: deadline, promise: promise)
        #expect(try channel.readOutbound(as: ByteBuffer.self) == Self.request, "the request is written as given")
        return (channel, handler, promise.futureResult)
    }

    @Test func aWholeResponseInPiecesCompletesTheExchange() throws {
        let (channel, _, response) = try Self.exchange()
        for piece in ["HTTP/1.1 200 OK\r\nContent-", "Length: 5\r\n\r\nhe", "llo"] {
            try channel.writeInbound(ByteBuffer(string: piece))
        }
        let answer = try response.wait()
        #expect(answer.status == 200 && answer.reason == "OK")
        #expect(String(buffer: answer.body) == "hello")
        #expect(answer.keepAlive && channel.isActive, "the connection stays for the next exchange")
        _ = try channel.finish()
    }

    @Test func malformedBytesFailTheExchangeAndCloseTheConnection() throws {
        let (channel, _, response) = try Self.exchange()
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 abc Nonsense\r\n\r\n"))
        #expect(throws: (any Error).self) { try response.wait() }
        #expect(!channel.isActive)
    }

    @Test func aBodyOverTheLimitFailsTheExchange() throws {
        let (channel, _, response) = try Self.exchange()
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n"))
        try channel.writeInbound(ByteBuffer(string: String(repeating: "x", count: 2000)))
        #expect {
            try response.wait()
        } throws: { error in
            "\(error)".contains("larger than 1024 bytes")
        }
        #expect(!channel.isActive)
    }

    @Test func aConnectionClosedMidBodySaysSo() throws {
        let (channel, _, response) = try Self.exchange()
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"))
        channel.pipeline.fireChannelInactive()
        #expect {
            try response.wait()
        } throws: { error in
            "\(error)" == "connection closed in the middle of a response"
        }
    }

    @Test func aConnectionClosedBeforeAnyByteIsALostConnectionNotStarted() throws {
        let (channel, _, response) = try Self.exchange()
        channel.pipeline.fireChannelInactive()
        #expect {
            try response.wait()
        } throws: { error in
            (error as? HTTPExchangeHandler.ConnectionLost)?.responseStarted == false
        }
    }

    @Test func aSecondRequestWhileOneIsInProgressIsRefused() throws {
        let (channel, handler, first) = try Self.exchange()
        let promise = channel.embeddedEventLoop.makePromise(of: HTTPExchangeHandler.Response.self)
        handler.start(Self.request, bodyAllowed: true, deadline: .now() + .seconds(30), promise: promise)
        #expect {
            try promise.futureResult.wait()
        } throws: { error in
            "\(error)".contains("busy")
        }
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 204 No Content\r\n\r\n"))
        #expect(try first.wait().status == 204, "the first exchange is unaffected")
        _ = try channel.finish()
    }

    @Test func bytesNobodyAskedForCloseTheConnection() throws {
        let handler = HTTPExchangeHandler(maximumBodyBytes: 1024, idleTimeout: .seconds(60), tls: false)
        let channel = EmbeddedChannel(handler: handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6443)).wait()
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\n\r\n"))
        #expect(!channel.isActive)
    }

    @Test func anExchangePastItsDeadlineFailsAtTheNextTick() throws {
        let (channel, _, response) = try Self.exchange(deadline: .now() - .seconds(1))
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect {
            try response.wait()
        } throws: { error in
            "\(error)".contains("deadline")
        }
        #expect(!channel.isActive)
    }
}
