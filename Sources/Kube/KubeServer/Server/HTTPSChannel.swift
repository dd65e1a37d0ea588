import HummingbirdCore
import Logging
import NIOCore
import NIOSSL

/// Hummingbird's HTTP/1 channel behind TLS, with kube-apiserver's answer to a client that speaks plain HTTP to the
/// HTTPS port (`400 Bad Request` with "Client sent an HTTP request to an HTTPS server.", then close) and the
/// per-client bounds of `ClientLimits` (`ClientGate`; the idle timeout is Hummingbird's).
struct HTTPSChannel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let base: HTTP1Channel
    let context: NIOSSLContext
    let limiter: ClientLimiter

    init(base: HTTP1Channel, tlsConfiguration: TLSConfiguration, limiter: ClientLimiter) throws {
        self.base = base
        self.context = try NIOSSLContext(configuration: tlsConfiguration)
        self.limiter = limiter
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(PlainHTTPRejector())
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
            try channel.pipeline.syncOperations.addHandler(ClientGate(limiter: limiter, logger: logger))
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }

    static func builder(tlsConfiguration: TLSConfiguration, limiter: ClientLimiter) throws -> HTTPServerBuilder {
        let configuration = tlsConfiguration
        let idle = TimeAmount(limiter.limits.idleTimeout)
        return HTTPServerBuilder { responder in
            try HTTPSChannel(
                base: HTTP1Channel(responder: responder, configuration: .init(idleTimeout: idle)),
                tlsConfiguration: configuration, limiter: limiter)
        }
    }
}

/// Looks at the first byte of a connection: a TLS handshake record (0x16) passes on untouched; anything else is
/// answered with a plain-text 400 and the connection is closed.
final class PlainHTTPRejector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let response =
        "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return }
        if first == 0x16 {
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        let reply = context.channel.allocator.buffer(string: Self.response)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(reply)).whenComplete { _ in channel.close(promise: nil) }
    }
}
