import Kernel
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Processes
import Proxy
import Synchronization

/// The HTTP listeners on the `healthCheckNodePort`s of the node's Local-policy load balancers, as kube-proxy keeps
/// them: one per port, on every address of the node (both families), in the node's network namespace, each
/// answering `HealthCheckReply` for its Service — what an external load balancer probes to learn which nodes have
/// local endpoints. Like node ports, these listen beyond loopback by design.
///
/// Thread-safe. `update` opens and closes listeners (a port that cannot be opened is logged and tried again on
/// the next update); `close` closes them all.
final class HealthCheckServer: Sendable {
    /// What one port answers for.
    struct Entry: Sendable, Equatable {
        var namespace: String
        var name: String
        var localEndpoints: Int
    }

    private struct State {
        var entries: [Int: Entry] = [:]
        var channels: [Int: any Channel] = [:]
        var healthy = false
    }

    private let namespace: NetworkNamespace
    private let logger: Logger
    private let state = Mutex(State())

    init(namespace: NetworkNamespace, logger: Logger) {
        self.namespace = namespace
        self.logger = logger
    }

    /// Serves `entries` (by port) from now on, with the proxy's own health.
    func update(_ entries: [Int: Entry], healthy: Bool) async {
        let (opening, closing) = state.withLock { s -> ([Int], [any Channel]) in
            s.entries = entries
            s.healthy = healthy
            let gone = s.channels.keys.filter { entries[$0] == nil }
            let closing = gone.compactMap { s.channels.removeValue(forKey: $0) }
            return (entries.keys.filter { s.channels[$0] == nil }.sorted(), closing)
        }
        for channel in closing { try? await channel.close() }
        for port in opening {
            do {
                let channel = try await listen(port)
                state.withLock { $0.channels[port] = channel }
            } catch {
                logger.error("cannot serve the health check node port \(port): \(error)")
            }
        }
    }

    /// Closes every listener.
    func close() async {
        let channels = state.withLock { s in
            defer { s.channels = [:] }
            return Array(s.channels.values)
        }
        for channel in channels { try? await channel.close() }
    }

    /// The reply for `port` now.
    func reply(_ port: Int) -> HealthCheckReply? {
        state.withLock { s in
            s.entries[port].map {
                HealthCheckReply(
                    namespace: $0.namespace, name: $0.name, localEndpoints: $0.localEndpoints, proxyHealthy: s.healthy)
            }
        }
    }

    /// A listening TCP socket on `[::]:port` (IPv4 too) opened in the node's namespace, handed to NIO.
    private func listen(_ port: Int) async throws -> any Channel {
        let namespace = namespace
        let opened = await BlockingWork.run {
            Result {
                try namespace.run { () throws -> Int32 in
                    let fd = socket(
                        AF_INET6, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue | SOCK_NONBLOCK.rawValue), 0)
                    guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
                    var off: Int32 = 0
                    var on: Int32 = 1
                    let length = socklen_t(MemoryLayout<Int32>.size)
                    var address = sockaddr_in6()
                    address.sin6_family = sa_family_t(AF_INET6)
                    address.sin6_port = in_port_t(UInt16(port).bigEndian)
                    let bound = withUnsafePointer(to: &address) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &off, length) == 0
                                && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, length) == 0
                                && bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) == 0
                                && Glibc.listen(fd, 128) == 0
                        }
                    }
                    guard bound else {
                        let error = IOError(errnoCode: errno, reason: "listen on port \(port)")
                        Glibc.close(fd)
                        throw error
                    }
                    return fd
                }
            }
        }
        let descriptor = try opened.get()
        let server = self
        return try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler(reply: { server.reply(port) }))
                }
            }
            .withBoundSocket(descriptor).get()
    }

    /// Answers every request with the port's reply.
    private final class Handler: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let reply: @Sendable () -> HealthCheckReply?

        init(reply: @escaping @Sendable () -> HealthCheckReply?) { self.reply = reply }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            let answer =
                reply()
                ?? HealthCheckReply(namespace: "", name: "", localEndpoints: 0, proxyHealthy: false)
            var headers = HTTPHeaders(answer.headers.map { ($0.name, $0.value) })
            headers.add(name: "Content-Length", value: String(answer.body.utf8.count))
            let head = HTTPResponseHead(
                version: .http1_1, status: HTTPResponseStatus(statusCode: answer.status), headers: headers)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: answer.body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
