import NIOCore

/// Hands each UDP datagram, with the channel it came on, to `onDatagram`; a socket error (a datagram that could not
/// be sent, an ICMP error for one) goes to `onError` and the channel stays open: BFD's and SWIM's timers deal with
/// loss.
///
/// Runs on the channel's event loop; the closures must not block.
final class DatagramReceiver: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let onDatagram: @Sendable (AddressedEnvelope<ByteBuffer>, any Channel) -> Void
    private let onError: @Sendable (any Error) -> Void

    init(
        onDatagram: @escaping @Sendable (AddressedEnvelope<ByteBuffer>, any Channel) -> Void,
        onError: @escaping @Sendable (any Error) -> Void
    ) {
        self.onDatagram = onDatagram
        self.onError = onError
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        onDatagram(unwrapInboundIn(data), context.channel)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        onError(error)
    }
}
