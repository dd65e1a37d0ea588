import NIOCore
import NIOTLS

/// The client end of one HTTP/1.1 connection carrying one request–response exchange at a time: writes a request
/// the caller encoded, reads the answer with `HTTPResponseParser`, and completes the exchange's promise with the
/// whole response — or, for a streamed exchange, with the head and a body sequence that stops reading from the
/// socket while its consumer is behind. Once a second it fails an exchange past its deadline and closes the
/// connection when it has been idle for `idleTimeout`.
///
/// Isolation: the channel's event loop; start exchanges with `start` on that loop. A broken or closed connection
/// fails the exchange with `ConnectionLost` (one closed in the middle of a response's body with the parser's
/// error), a late answer with `ClientError.transport`, malformed bytes with the parser's error (a streamed body
/// ends with that error); after any of them the connection is closed. A streamed
/// exchange always closes its connection at the end.
final class HTTPExchangeHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// A streamed response's body: pieces as they arrive, at most `highWatermark` buffered before reading pauses.
    typealias BodyStream = NIOThrowingAsyncSequenceProducer<
        ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, BodyDelegate
    >

    /// The head of a streamed response and its body.
    struct StreamedResponse: Sendable {
        var status: Int
        var reason: String
        var body: BodyStream
    }

    /// Resumes reading when the body's consumer catches up; closes the connection when it stops consuming.
    struct BodyDelegate: NIOAsyncSequenceProducerDelegate {
        let channel: any Channel
        let handler: NIOLoopBound<HTTPExchangeHandler>

        func produceMore() {
            let handler = handler
            channel.eventLoop.execute { handler.value.resumeReading() }
        }

        func didTerminate() {
            channel.close(promise: nil)
        }
    }

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

    /// Who receives an exchange's response.
    private enum Receiver {
        case whole(EventLoopPromise<Response>)
        /// The source is set once the head has been handed out.
        case stream(EventLoopPromise<StreamedResponse>, source: BodyStream.Source?)
    }

    private struct Exchange {
        var receiver: Receiver
        var deadline: NIODeadline
        var head: (status: Int, reason: String, keepAlive: Bool)? = nil
        var body = ByteBuffer()
        var started = false
    }

    /// Buffered body pieces of a streamed response at which reading pauses, and below which it resumes.
    static let highWatermark = 16
    static let lowWatermark = 4

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
    /// Reading is paused for a streamed body's consumer; `pendingRead`: a read was asked for meanwhile.
    private var paused = false
    private var pendingRead = false

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
        begin(request, bodyAllowed: bodyAllowed, deadline: deadline, receiver: .whole(promise))
    }

    /// Writes `request` and completes `promise` with the response's head and a stream of its body.
    func startStreaming(_ request: ByteBuffer, deadline: NIODeadline, promise: EventLoopPromise<StreamedResponse>) {
        begin(request, bodyAllowed: true, deadline: deadline, receiver: .stream(promise, source: nil))
    }

    private func begin(_ request: ByteBuffer, bodyAllowed: Bool, deadline: NIODeadline, receiver: Receiver) {
        let failure: (any Error)?
        if let context, context.channel.isActive {
            failure =
                exchange == nil && parser.isIdle
                ? nil : ClientError.transport("connection is busy with another request")
        } else {
            failure = ConnectionLost(responseStarted: false, description: "connection closed before the request")
        }
        if let failure {
            switch receiver {
            case .whole(let promise): promise.fail(failure)
            case .stream(let promise, _): promise.fail(failure)
            }
            return
        }
        parser.expectResponse(bodyAllowed: bodyAllowed)
        exchange = Exchange(receiver: receiver, deadline: deadline)
        context?.writeAndFlush(wrapOutboundOut(request)).assumeIsolated().whenFailure { [self] error in
            fail(ConnectionLost(responseStarted: false, description: "cannot send the request: \(error)"))
        }
    }

    func read(context: ChannelHandlerContext) {
        if paused {
            pendingRead = true
        } else {
            context.read()
        }
    }

    /// The streamed body's consumer wants more.
    private func resumeReading() {
        paused = false
        if pendingRead, let context {
            pendingRead = false
            context.read()
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
        guard let current = exchange else { return }
        switch part {
        case .head(let status, let reason, let keepAlive):
            exchange?.head = (status, reason, keepAlive)
            if case .stream(let promise, _) = current.receiver {
                let body = BodyStream.makeSequence(
                    backPressureStrategy: .init(lowWatermark: Self.lowWatermark, highWatermark: Self.highWatermark),
                    finishOnDeinit: true,
                    delegate: BodyDelegate(
                        channel: context.channel, handler: NIOLoopBound(self, eventLoop: context.eventLoop)))
                exchange?.receiver = .stream(promise, source: body.source)
                promise.succeed(StreamedResponse(status: status, reason: reason, body: body.sequence))
            }
        case .body(let piece):
            switch current.receiver {
            case .whole:
                let size = current.body.readableBytes
                guard size + piece.readableBytes <= maximumBodyBytes else {
                    throw ClientError.transport("response body larger than \(maximumBodyBytes) bytes")
                }
                if size == 0 {
                    exchange?.body = piece
                } else {
                    var piece = piece
                    exchange?.body.writeBuffer(&piece)
                }
            case .stream(_, let source):
                if source?.yield(piece) == .stopProducing { paused = true }
            }
        case .end:
            guard let head = current.head else { return }
            exchange = nil
            idleSince = .now()
            switch current.receiver {
            case .whole(let promise):
                let reusable = head.keepAlive && parser.isIdle
                if !reusable { context.close(promise: nil) }
                promise.succeed(
                    Response(status: head.status, reason: head.reason, body: current.body, keepAlive: reusable))
            case .stream(_, let source):
                context.close(promise: nil)
                source?.finish()
            }
        }
    }

    /// Fails the exchange in progress, if any, and closes the connection.
    private func fail(_ error: any Error) {
        guard let done = exchange else { return }
        exchange = nil
        context?.close(promise: nil)
        switch done.receiver {
        case .whole(let promise): promise.fail(error)
        case .stream(let promise, .none): promise.fail(error)
        case .stream(_, let source?): source.finish(error)
        }
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
