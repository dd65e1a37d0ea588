import NIOCore
import NIOTLS

/// The client end of one HTTP/1.1 connection carrying one request–response exchange at a time: writes a request
/// the caller encoded, reads the answer with `HTTPResponseParser`, and completes the exchange's promise with the
/// whole response. Once a second it fails an exchange past its deadline and closes the connection when it has been
/// idle for `idleTimeout`.
///
/// Isolation: the channel's event loop; start exchanges with `start` on that loop. A broken or closed connection
/// fails the exchange with `ConnectionLost`, a late answer with `ClientError.transport`, malformed bytes with the
/// parser's error; after any of them the connection is closed.
final class HTTPExchangeHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// A complete response.
    struct Response: Sendable {
        var status: Int
        var reason: String
        var body: ByteBuffer
        /// Whether the connection can carry another exchange.
        var keepAlive: Bool
    }

    /// The connection ended before the response did.
    struct ConnectionLost: Error, CustomStringConvertible {
        /// Whether any byte of the response had arrived. When none had, the server may not have seen the request.
        var responseStarted: Bool
        var description: String
    }

    private struct Exchange {
        var promise: EventLoopPromise<Response>
        var deadline: NIODeadline
        var head: (status: Int, reason: String, keepAlive: Bool)? = nil
        var body = ByteBuffer()
        var started = false
    }

    private let maximumBodyBytes: Int
    private let idleTimeout: TimeAmount
    private let tls: Bool
    /// Completed when the connection can carry requests: at once for plain TCP, after the TLS handshake otherwise.
    private var readyPromise: EventLoopPromise<Void>?
    private var parser = HTTPResponseParser()
    private var exchange: Exchange?
    private var context: ChannelHandlerContext?
    private var idleSince = NIODeadline.now()
    private var timer: Scheduled<Void>?

    /// - Parameter tls: whether a TLS handler sits before this one; `ready` then waits for its handshake.
    init(maximumBodyBytes: Int, idleTimeout: TimeAmount, tls: Bool) {
        self.maximumBodyBytes = maximumBodyBytes
        self.idleTimeout = idleTimeout
        self.tls = tls
    }

    /// Succeeds once the connection can carry requests; fails with the reason it cannot (a failed TLS handshake).
    var ready: EventLoopFuture<Void> { readyPromise!.futureResult }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        readyPromise = context.eventLoop.makePromise()
        if !tls { readyPromise?.succeed() }
        scheduleTick(context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent { readyPromise?.succeed() }
        context.fireUserInboundEventTriggered(event)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        readyPromise?.fail(ConnectionLost(responseStarted: false, description: "connection closed"))
        fail(ConnectionLost(responseStarted: exchange?.started ?? false, description: "connection closed"))
        self.context = nil
    }

    /// Writes `request` (a complete HTTP/1.1 request, head and body) and completes `promise` with the response.
    /// `bodyAllowed` is false for a HEAD request.
    func start(
        _ request: ByteBuffer, bodyAllowed: Bool, deadline: NIODeadline, promise: EventLoopPromise<Response>
    ) {
        guard let context, context.channel.isActive else {
            promise.fail(ConnectionLost(responseStarted: false, description: "connection closed before the request"))
            return
        }
        guard exchange == nil, parser.isIdle else {
            promise.fail(ClientError.transport("connection is busy with another request"))
            return
        }
        parser.expectResponse(bodyAllowed: bodyAllowed)
        exchange = Exchange(promise: promise, deadline: deadline)
        context.writeAndFlush(wrapOutboundOut(request)).assumeIsolated().whenFailure { [self] error in
            fail(ConnectionLost(responseStarted: false, description: "cannot send the request: \(error)"))
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard exchange != nil else {
            // Bytes nobody asked for: the connection is out of step.
            context.close(promise: nil)
            return
        }
        exchange?.started = true
        parser.feed(unwrapInboundIn(data))
        do {
            while exchange != nil, let part = try parser.next() { try handle(part, context: context) }
        } catch {
            fail(error)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        readyPromise?.fail(
            ConnectionLost(responseStarted: false, description: "connection closed during the TLS handshake"))
        if exchange != nil {
            do {
                if let part = try parser.finish() { try handle(part, context: context) }
            } catch {
                fail(error)
            }
            fail(
                ConnectionLost(
                    responseStarted: exchange?.started ?? false, description: "connection closed by the server"))
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        readyPromise?.fail(error)
        context.close(promise: nil)
        fail(ConnectionLost(responseStarted: exchange?.started ?? false, description: "\(error)"))
    }

    private func handle(_ part: HTTPResponseParser.Part, context: ChannelHandlerContext) throws {
        switch part {
        case .head(let status, let reason, let keepAlive):
            exchange?.head = (status, reason, keepAlive)
        case .body(let piece):
            guard let size = exchange?.body.readableBytes, size + piece.readableBytes <= maximumBodyBytes else {
                throw ClientError.transport("response body larger than \(maximumBodyBytes) bytes")
            }
            if size == 0 {
                exchange?.body = piece
            } else {
                var piece = piece
                exchange?.body.writeBuffer(&piece)
            }
        case .end:
            guard let done = exchange, let head = done.head else { return }
            exchange = nil
            idleSince = .now()
            let reusable = head.keepAlive && parser.isIdle
            if !reusable { context.close(promise: nil) }
            done.promise.succeed(
                Response(status: head.status, reason: head.reason, body: done.body, keepAlive: reusable))
        }
    }

    /// Fails the exchange in progress, if any, and closes the connection.
    private func fail(_ error: any Error) {
        guard let done = exchange else { return }
        exchange = nil
        context?.close(promise: nil)
        done.promise.fail(error)
    }

    private func scheduleTick(_ context: ChannelHandlerContext) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) { [self] in
            guard let context = self.context, context.channel.isActive else { return }
            let now = NIODeadline.now()
            if let exchange, now > exchange.deadline {
                fail(ClientError.transport("no complete response before the deadline"))
                return
            }
            if exchange == nil, now - idleSince > idleTimeout {
                context.close(promise: nil)
                return
            }
            scheduleTick(context)
        }
    }
}
