import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A TCP proxy on loopback that forwards to a target port and can break connections on demand, to test how
/// clients survive dropped watches. It forwards bytes untouched (TLS passes through).
///
/// `cut(afterBytes:)` arms it: every open connection, and the next new one, is closed once that many more bytes
/// have flowed from the server towards the client — in the middle of whatever was being sent.
public final class FaultProxy: Sendable {
    public let port: Int
    private let channel: any Channel
    private let state: NIOLockedValueBox<State>

    struct State {
        var connections: [ObjectIdentifier: ProxyPair] = [:]
        var armedBytes: Int?
    }

    final class ProxyPair: @unchecked Sendable {
        // Mutated only on the server-side channel's event loop.
        var remaining: Int?
        let client: any Channel
        var server: (any Channel)?
        init(client: any Channel) { self.client = client }
    }

    private init(port: Int, channel: any Channel, state: NIOLockedValueBox<State>) {
        self.port = port
        self.channel = channel
        self.state = state
    }

    /// Starts a proxy on a free loopback port towards `127.0.0.1:targetPort`.
    public static func start(targetPort: Int) async throws -> FaultProxy {
        let state = NIOLockedValueBox(State())
        let group = MultiThreadedEventLoopGroup.singleton
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { inbound in
                let pair = ProxyPair(client: inbound)
                let id = ObjectIdentifier(pair)
                pair.remaining = state.withLockedValue { s in
                    s.connections[id] = pair
                    return s.armedBytes
                }
                return ClientBootstrap(group: inbound.eventLoop)
                    .channelInitializer { outbound in
                        outbound.pipeline.addHandler(Forward(peer: inbound, pair: pair, counting: true))
                    }
                    .connect(host: "127.0.0.1", port: targetPort)
                    .flatMap { outbound in
                        pair.server = outbound
                        inbound.closeFuture.whenComplete { _ in
                            outbound.close(promise: nil)
                            _ = state.withLockedValue { $0.connections.removeValue(forKey: id) }
                        }
                        outbound.closeFuture.whenComplete { _ in inbound.close(promise: nil) }
                        return inbound.pipeline.addHandler(Forward(peer: outbound, pair: pair, counting: false))
                    }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return FaultProxy(port: server.localAddress?.port ?? 0, channel: server, state: state)
    }

    /// Closes every connection (now, and the next new one) after `afterBytes` more server-to-client bytes.
    public func cut(afterBytes: Int) {
        let pairs = state.withLockedValue { s -> [ProxyPair] in
            s.armedBytes = afterBytes
            return Array(s.connections.values)
        }
        for pair in pairs {
            pair.client.eventLoop.execute { pair.remaining = afterBytes }
        }
    }

    /// Stops cutting new connections.
    public func disarm() {
        state.withLockedValue { $0.armedBytes = nil }
    }

    public func stop() async {
        try? await channel.close()
        let pairs = state.withLockedValue { Array($0.connections.values) }
        for pair in pairs { try? await pair.client.close() }
    }

    final class Forward: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let peer: any Channel
        let pair: ProxyPair
        let counting: Bool

        init(peer: any Channel, pair: ProxyPair, counting: Bool) {
            self.peer = peer
            self.pair = pair
            self.counting = counting
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let received = unwrapInboundIn(data)
            let peer = self.peer
            let pair = self.pair
            if counting {
                // Server-to-client bytes: count on the client channel's loop, where `remaining` lives.
                pair.client.eventLoop.execute {
                    var buffer = received
                    guard let remaining = pair.remaining else {
                        peer.writeAndFlush(buffer, promise: nil)
                        return
                    }
                    if buffer.readableBytes >= remaining {
                        let head = buffer.readSlice(length: remaining)!
                        peer.writeAndFlush(head).whenComplete { _ in
                            peer.close(promise: nil)
                            pair.server?.close(promise: nil)
                        }
                        pair.remaining = 0
                    } else {
                        pair.remaining = remaining - buffer.readableBytes
                        peer.writeAndFlush(buffer, promise: nil)
                    }
                }
            } else {
                peer.writeAndFlush(received, promise: nil)
            }
        }
    }
}
