import Logging
import NIOCore
import NIOTLS

/// The first handler after TLS on every connection: counts the connection against its address's limit (closing
/// one too many at once), closes a connection whose TLS handshake has not completed within the limit's timeout,
/// and closes one whose client has closed its side, so a silent, slow or vanished client holds nothing for long.
///
/// Confined to its channel's event loop, as every NIO handler.
final class ClientGate: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let limiter: ClientLimiter
    private let logger: Logger
    private var client: String?
    private var counted = false
    private var handshakeDeadline: Scheduled<Void>?

    init(limiter: ClientLimiter, logger: Logger) {
        self.limiter = limiter
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { admit(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        admit(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        leave()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        leave()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            handshakeDeadline?.cancel()
            handshakeDeadline = nil
        }
        // Hummingbird keeps a half-closed connection open; a client that has closed its side has gone (as Go's
        // server, and so kube-apiserver, takes it), and only closing ours ends the watch it left.
        if case .inputClosed = event as? ChannelEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func admit(context: ChannelHandlerContext) {
        guard client == nil else { return }
        let address = context.channel.remoteAddress?.ipAddress ?? "unknown"
        client = address
        guard limiter.acquire(.connection, for: address) else {
            logger.warning(
                "refused a connection: too many from one client",
                metadata: ["client": "\(address)", "limit": "\(limiter.limits.connectionsPerClient)"])
            context.close(promise: nil)
            return
        }
        counted = true
        let timeout = limiter.limits.handshakeTimeout
        let channel = context.channel
        let logger = self.logger
        handshakeDeadline = context.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            logger.info(
                "closed a connection whose TLS handshake did not complete in time",
                metadata: ["client": "\(address)", "timeout": "\(timeout)"])
            channel.close(promise: nil)
        }
    }

    private func leave() {
        handshakeDeadline?.cancel()
        handshakeDeadline = nil
        if counted, let client {
            counted = false
            limiter.release(.connection, for: client)
        }
    }
}
