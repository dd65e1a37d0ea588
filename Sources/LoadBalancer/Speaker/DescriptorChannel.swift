import CLinuxNet
import Glibc
import Kernel
import NIOCore
import NIOPosix

/// Reads datagrams from a kernel socket that NIO has no bootstrap for (AF_PACKET, netlink) through NIO's event
/// loop, and sends on the same socket with one `send` per datagram.
///
/// NIO's pipe channel reads each datagram with one `read` (packet and netlink sockets keep message boundaries), but
/// its writes may gather several buffers into one `writev`, which would glue frames together; so sending bypasses
/// the channel and uses a duplicate of the descriptor, non-blocking (a full queue drops the datagram and is
/// reported as an error, never blocks the caller).
///
/// Thread-safe. `onDatagram` runs on the channel's event loop thread and must not block; it gets the datagram and
/// the descriptor to answer on.
final class DescriptorChannel: Sendable {
    private let channel: any Channel
    let sendDescriptor: Int32

    /// Takes ownership of `descriptor`.
    /// - Throws: the errno of `dup`, or NIO's error registering the descriptor.
    init(
        descriptor: Int32, group: any EventLoopGroup,
        onDatagram: @escaping @Sendable (ArraySlice<UInt8>, Int32) -> Void,
        onClose: @escaping @Sendable () -> Void = {}
    ) async throws {
        let duplicate = dup(descriptor)
        guard duplicate >= 0 else {
            let error = KernelCallError(operation: "dup", errno: errno)
            Glibc.close(descriptor)
            throw error
        }
        do {
            channel = try await NIOPipeBootstrap(group: group)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65536))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            DatagramHandler({ onDatagram($0, duplicate) }, onClose))
                    }
                }
                .takingOwnershipOfDescriptor(inputOutput: descriptor)
                .get()
        } catch {
            Glibc.close(duplicate)
            throw error
        }
        sendDescriptor = duplicate
    }

    /// Closes both descriptors.
    func close() async {
        try? await channel.close()
        Glibc.close(sendDescriptor)
    }

    /// Hands each datagram to `onDatagram`; closes the channel on an error (ENOBUFS on netlink: events were lost;
    /// a vanished interface), and tells `onClose` when the channel goes, so that the owner reopens.
    final class DatagramHandler: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let onDatagram: @Sendable (ArraySlice<UInt8>) -> Void
        let onClose: @Sendable () -> Void
        init(_ onDatagram: @escaping @Sendable (ArraySlice<UInt8>) -> Void, _ onClose: @escaping @Sendable () -> Void) {
            self.onDatagram = onDatagram
            self.onClose = onClose
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            onDatagram(Array(buffer.readableBytesView)[...])
        }
        func channelInactive(context: ChannelHandlerContext) {
            onClose()
            context.fireChannelInactive()
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            // ENOBUFS on netlink (events lost) or a vanished interface: the owner reopens on close.
            context.close(promise: nil)
        }
    }
}
